"""The DSE's cheap estimates follow the compiler's own rules: placement (the same split rule),
cycles (within the stated band of the RTL-checked cycle model) and widths (the hardware
layout's)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapping.networks import chain
from nir_cases import shared_case

from codesign.arch.config import HWConfig
from codesign.arch.layout import CoreLayout
from codesign.compiler import frontend
from codesign.compiler.analysis import cycle_model
from codesign.compiler.passes.discretize import Discretize
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.passes.partition import Partition
from codesign.compiler.pipeline import CompileOptions, map_network, quantized
from codesign.compiler.program import MappingOptions
from codesign.compiler.synthetic import chain_graph
from codesign.dse.models import resource_model
from codesign.dse.models.cycle_estimate import BAND, estimate
from codesign.dse.models.placement_estimate import assign_neurons, place


def _layers(graph, dt: float):
    """The DSE's view of an SNN IR graph: discretised and fused, not quantised."""
    return Fuse().apply(Discretize(dt, "zero").apply(graph))


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 40), min_size=2, max_size=5),
       cores=st.integers(1, 6), slack=st.integers(0, 1),
       policy=st.sampled_from(["spread", "pack"]))
def test_placement_estimate_places_every_neuron_where_the_compiler_does(sizes, cores, slack,
                                                                       policy):
    """Uneven sizes and core counts: ``chain_graph([20, 10, 10, 6])`` on 4 cores of 16 was
    where the two rules once parted ([3,3,3,1] against [3,3,2,2])."""
    neurons = sum(sizes[1:])
    tightest = max(8, 1 << (-(-neurons // cores) - 1).bit_length())   # a power of two
    config = HWConfig(cores=cores, neurons_per_core=tightest << slack)
    graph = chain_graph(sizes, seed=1)
    partitioned = Partition(config, MappingOptions(partition=policy)).apply(
        quantized(frontend.nir_to_ir(graph), CompileOptions(dt=1e-3)))
    core_of, local_of, per_core = assign_neurons(_layers(frontend.nir_to_ir(graph), 1e-3), config,
                                               policy)
    for segment in partitioned.segments:
        span = slice(segment.start, segment.stop)
        assert (core_of[segment.population][span] == segment.core).all()
        expected = segment.local_first + np.arange(segment.stop - segment.start)
        assert local_of[segment.population][span].tolist() == expected.tolist()
    assert per_core.sum() == neurons


def test_the_case_that_once_parted():
    config = HWConfig(cores=4, neurons_per_core=16)
    _, _, per_core = assign_neurons(
        _layers(frontend.nir_to_ir(chain_graph([20, 10, 10, 6], seed=1)), 1e-3), config,
        "spread")
    partitioned = Partition(config, MappingOptions(partition="spread")).apply(
        chain([20, 10, 10, 6], seed=1))
    compiled = np.zeros(4, dtype=int)
    for segment in partitioned.segments:
        compiled[segment.core] += segment.stop - segment.start
    # by hand: each population spreads from core (its index mod 4): 10 -> cores 0,1,2,3 get
    # 3,3,2,2; 10 -> cores 1,2,3,0 get 3,3,2,2; 6 -> cores 2,3,0,1 get 2,2,1,1
    assert compiled.tolist() == [6, 7, 7, 6]
    assert per_core.tolist() == compiled.tolist()


@settings(max_examples=15, deadline=None)
@given(lanes=st.sampled_from([1, 2, 4, 8]), weight_bits=st.integers(2, 12),
       cores=st.integers(1, 4), neurons_exponent=st.integers(3, 8),
       depth_exponent=st.integers(6, 12), delay_slots=st.sampled_from([2, 4, 16]))
def test_the_dse_counts_the_synapse_word_the_hardware_has(lanes, weight_bits, cores,
                                                         neurons_exponent, depth_exponent,
                                                         delay_slots):
    """The resource model's synapse-word feature is the width of the elaborated synapse
    memory, the 1-lane word included (once 16 bits in the DSE where the hardware's is 17)."""
    config = HWConfig.from_dict({"cores": cores, "neurons_per_core": 2**neurons_exponent,
                                 "synapse_lanes": min(lanes, 2**neurons_exponent),
                                 "weight_bits": weight_bits,
                                 "synapse_memory_depth": 2**depth_exponent,
                                 "delay_slots": delay_slots})
    feature = resource_model.FEATURES["cores_x_lanes_x_synapse_bits"](
        config, CoreLayout.from_config(config))
    word_bits = feature // config.cores
    widths = {shape.width for shape in resource_model.memory_shapes(config)
              if shape.depth == config.synapse_memory_depth}
    assert word_bits in widths, (word_bits, widths)


_CONFIGS = {
    "one-core": HWConfig.from_dict({"synapse_lanes": 4, "profiles": 8, "cores": 1,
                                    "neurons_per_core": 64, "synapse_memory_depth": 2048,
                                    "source_table_depth": 64}),
    "four-cores": HWConfig.from_dict({"synapse_lanes": 4, "profiles": 8, "cores": 4,
                                      "neurons_per_core": 16, "synapse_memory_depth": 512,
                                      "source_table_depth": 64}),
}
_CASES = {
    "lif": ("NIR_paper/01_lif/lif_norse.nir", CompileOptions()),
    "braille-zero": ("NIR_paper/03_rnn/braille_noDelay_bias_zero.nir", CompileOptions()),
    "braille-subtract": ("NIR_paper/03_rnn/braille_noDelay_noBias_subtract.nir",
                         CompileOptions(reset="subtract")),
}


@pytest.mark.parametrize("config_name", _CONFIGS)
@pytest.mark.parametrize("case", _CASES)
def test_cycle_estimate_stays_in_its_band_of_the_cycle_model(case, config_name):
    """Same activity (the golden model's spike trains, as rates), same placement rule: the
    DSE's estimate of mean cycles per step is within ``BAND`` of the cycle model's."""
    path, options = _CASES[case]
    config = _CONFIGS[config_name]
    graph = frontend.load(shared_case(path))
    network = quantized(graph, options)
    if network.neuron_count() > config.total_neurons:
        pytest.skip(f"{case} does not fit {config_name}")
    size = network.input_size
    inputs = (np.random.default_rng(0).random((200, 1, size)) < 0.2).astype(np.int64)
    program = map_network(network, config, MappingOptions())
    prediction, reference = cycle_model.predict_run(program, inputs)
    modelled = float(np.asarray(prediction.cycles).mean())
    layers = _layers(graph, options.dt)
    rates = {layers.input.name: inputs.reshape(200, -1).mean(axis=0)}
    for name, record in reference.records.items():
        rates[name] = record["spikes"].reshape(200, -1).mean(axis=0)
    estimated = estimate(layers, config, place(layers, config, "spread"), rates).cycles_per_step
    print(f"{case} on {config_name}: estimate {estimated:.1f}, cycle model {modelled:.1f}")
    assert abs(estimated - modelled) <= BAND * modelled, (estimated, modelled)
