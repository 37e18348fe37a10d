"""A feed-forward network larger than the chip runs in chunks (one program per chunk of a layer),
layer by layer, and computes exactly what the whole network computes
(codesign/compiler/image/chunked.py)."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.arch.config import HWConfig
from codesign.compiler import frontend, golden
from codesign.compiler.image import chunked
from codesign.compiler.pipeline import CompileOptions, map_network, quantized
from codesign.errors import CodesignError, DoesNotFit
from networks import chain, pooled_cnn

#: Holds 64 neurons and 64 sources per core: the pooled CNN (309 neurons) needs chunks.
SMALL = HWConfig(cores=2, neurons_per_core=32, source_table_depth=64, synapse_memory_depth=256)


def assert_same_as_whole(network, inputs, result):
    whole = golden.simulate(network, inputs, record=True)
    assert np.array_equal(result.output, whole.output)
    for name, record in whole.records.items():
        steps, batch = record["spikes"].shape[:2]
        assert np.array_equal(result.spikes[name], record["spikes"].reshape(steps, batch, -1)), \
            name
        for field in ("voltage", "current", "adaptation"):
            assert np.array_equal(getattr(result.final_state[name], field),
                                  getattr(whole.final_state[name], field)), (name, field)
    return whole


def test_chunks_compute_what_the_whole_network_computes():
    network = pooled_cnn()
    with pytest.raises(DoesNotFit):
        map_network(network, SMALL)
    plan = chunked.plan_chunks(network, SMALL)
    assert len(plan.chunks) > len(network.populations)
    inputs = (np.random.default_rng(0).random((30, 2, 2, 8, 8)) < 0.3).astype(np.int64)
    result = chunked.run(plan, golden.integer_input(network, inputs), chunked.golden_runner)
    whole = assert_same_as_whole(network, inputs, result)
    assert all(record["spikes"].sum() > 0 for record in whole.records.values())
    assert np.all(result.cycles > 0) and result.cycles.shape == (30, 2)


def test_a_sum_pooling_window_is_one_counted_input():
    plan = chunked.plan_chunks(pooled_cnn(), SMALL)
    second = [chunk for chunk in plan.chunks if chunk.population == "if2"]
    # if1 is [4, 8, 8]; pooled 2 x 2 it is 4 x 4 x 4 = 64 inputs, each the sum of 4 neurons
    assert len(second) == 1 and second[0].program.network.input_size == 64
    assert np.all(np.asarray(second[0].groups[0].sum(axis=1)).ravel() == 4)


def test_a_convolution_is_cut_into_bands_of_rows():
    plan = chunked.plan_chunks(pooled_cnn(), SMALL)
    first = [chunk.neurons for chunk in plan.chunks if chunk.population == "if1"]
    assert len(first) > 1
    for neurons in first:
        channels, rows, columns = np.unravel_index(neurons, (4, 8, 8))
        assert set(channels) == {0, 1, 2, 3} and set(columns) == set(range(8))
        assert neurons.size == 4 * 8 * len(set(rows))


def test_a_recurrent_network_cannot_run_in_chunks():
    with pytest.raises(CodesignError, match="recurrent or delayed"):
        chunked.plan_chunks(chain([6, 8, 4], recurrent=True), SMALL)


@pytest.mark.slow
def test_scnn_in_chunks_on_the_default_config_on_the_golden_model():
    from pathlib import Path

    from codesign.arch.config import load_config
    from codesign.events import bin_events, read_nmnist
    from nir_cases import shared_case

    network = quantized(frontend.load(shared_case("NIR_paper/02_cnn/cnn_sinabs.nir")),
                        CompileOptions(dt=1.0))
    config = load_config(Path(__file__).resolve().parents[2] / "configs" / "default.yaml")
    plan = chunked.plan_chunks(network, config)
    frames = bin_events(read_nmnist(shared_case("tonic/sample_nmnist.bin")))[:20, None]
    result = chunked.run(plan, golden.integer_input(network, frames), chunked.golden_runner)
    assert_same_as_whole(network, frames, result)
