"""The DSE's search space on the digits example: the per-layer crossbar choice reaches the
compiler and the golden model's tile arithmetic, seeds come from the analytic models, and the
space reaches a 50k-LUT budget."""

import numpy as np
import pytest

from codesign.dse import seeding, space
from codesign.dse.budget import parse_budget, within_device
from codesign.dse.evaluate import DesignPoint, Evaluator, Pruned
from codesign.dse.workload import load_workload
from dse_helpers import design_params


@pytest.fixture(scope="module")
def evaluator(digits):
    model, inputs = digits
    budget, _ = within_device(parse_budget("luts=50k"), "ecp5")
    return Evaluator(load_workload(model, inputs, samples=40, seed=0), budget, "ecp5")


def test_a_layer_on_crossbar_tiles_is_mapped_there_and_its_arithmetic_enters_fidelity(evaluator):
    assert evaluator.crossbar_layers == ("if2",)    # if1's source is the input: never on tiles
    digital = space.point_from(design_params())
    tiles = space.point_from(design_params(**{"crossbar_tiles": 2, "crossbar:if2": True,
                                        "crossbar_adc_bits": 4}))
    assert tiles.crossbar_layers == ("if2",) and digital.crossbar_layers == ()
    program = evaluator.compile(tiles)
    assert [p.target for p in program.network.projections if p.crossbar] == ["if2"]
    assert not any(p.crossbar for p in evaluator.compile(digital).network.projections)
    digital_fidelity = evaluator.fidelity(digital)[0]["fidelity"]
    tile_fidelity = evaluator.fidelity(tiles)[0]["fidelity"]
    # a 4-bit ADC saturates: the tiles' numbers differ from the exact digital engine's
    assert tile_fidelity != digital_fidelity
    assert evaluator.analytic(tiles).values["energy_uj"] > 0
    # the parameters round-trip (how seeds are enqueued)
    assert space.point_from(space.params_of(tiles, evaluator.crossbar_layers)) == tiles


def test_tiles_without_a_layer_and_layers_the_tiles_cannot_hold_are_pruned(evaluator):
    with pytest.raises(Pruned, match="no layer is mapped"):
        evaluator.analytic(space.point_from(design_params(crossbar_tiles=2)))
    # spread over 2 cores, if2 needs a tile on each core; one tile cannot hold it
    one_tile = space.point_from(design_params(**{"crossbar_tiles": 1, "crossbar:if2": True}))
    with pytest.raises(Pruned):
        evaluator.evaluate(one_tile, synthesis=False)


def test_seeds_are_within_budget_and_cover_the_fastest_modelled_design(evaluator):
    seeds = seeding.model_seeds(evaluator, 6, seed=0)
    assert 1 <= len(seeds) <= 6 and len(set(map(repr, seeds))) == len(seeds)
    latencies = []
    for point in seeds:
        metrics = evaluator.analytic(point, count_bram=False)
        assert metrics.values["luts"] <= 50_000
        latencies.append(metrics.values["latency_us"])
    assert seeds[0].weight_bits == 8 and seeds[0].prune_threshold == 0.0    # full precision first
    # the fastest full-precision design comes first (the same hardware at fewer state bits has a
    # shorter neuron pipeline, so a cheaper-precision seed may step faster still)
    full = [latency for point, latency in zip(seeds, latencies)
            if point.weight_bits == 8 and point.prune_threshold == 0.0]
    assert latencies[0] == min(full)


def test_the_space_reaches_the_budget(evaluator):
    """The largest designs of the space are beyond 50k LUTs by the resource model, so the
    budget, not the space, bounds the search."""
    largest = space.largest_point()
    assert largest.hardware["cores"] == 16 and largest.hardware["synapse_lanes"] == 16
    usage = evaluator.model.estimate(largest.config(), ("luts",))
    assert usage["luts"] > 50_000
    rng = np.random.default_rng(0)
    assert all(isinstance(space.random_point(rng, evaluator.crossbar_layers), DesignPoint)
               for _ in range(20))
