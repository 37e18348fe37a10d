"""Mapping back end: the mapped program computes what the network computes, limits are enforced
with one-line errors that name a fitting HWConfig, and the report shows every tier."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.arch.config import HWConfig
from codesign.arch.layout import CoreLayout
from codesign.arch.synapse_words import decode_word
from codesign.compiler import golden
from codesign.compiler.analysis.mapping_report import mapping_report_lines
from codesign.compiler.image import program_image
from codesign.compiler.passes.sparsity import Sparsity
from codesign.compiler.pipeline import map_network
from codesign.compiler.program import MappingOptions
from codesign.errors import CodesignError
from networks import chain, convolution, spikes

CONFIGS = {
    "one-core": HWConfig(cores=1, neurons_per_core=64),
    "four-cores": HWConfig(cores=4, neurons_per_core=16, source_table_depth=64),
    "small-table": HWConfig(cores=2, neurons_per_core=32, source_table_depth=64),
}


def assert_same_run(network_a, network_b, inputs):
    a = golden.simulate(network_a, inputs)
    b = golden.simulate(network_b, inputs)
    assert np.array_equal(a.output, b.output)
    for name, state in a.final_state.items():
        for field in ("voltage", "current", "adaptation"):
            assert np.array_equal(getattr(state, field), getattr(b.final_state[name], field))


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_digital_mapping_and_image_compute_the_network(config):
    network = chain([20, 30, 10], recurrent=True)
    inputs = spikes(60, 20)
    program = map_network(network, config)
    assert set(program.engines) == {"digital"}
    assert_same_run(network, program.network, inputs)
    image = program_image.parse_image(program_image.build_image(program).to_bytes())
    assert_same_run(network, program_image.network_from_image(image), inputs)


def test_spread_uses_every_core_and_sources_never_collide():
    config = CONFIGS["four-cores"]
    network = chain([20, 30, 10], recurrent=True)
    program = map_network(network, config)
    assert {s.core for s in program.segments} == {0, 1, 2, 3}
    layout = CoreLayout.from_config(config)
    mask = (1 << layout.source_index_bits) - 1
    for core, state in enumerate(program.cores):
        heard = [int(i) for route in program.routes if core in route.cores
                 for i in range(route.first_id, route.last_id + 1)
                 if i in set(np.concatenate([program.input_ids(), *(
                     program.population_ids(p.name) for p in network.populations)]).tolist())]
        assert len({i & mask for i in heard}) == len(heard), "two listened ids share a table row"
        assert all(i & mask < config.source_table_depth for i in heard)


def test_synapse_words_are_lane_banked_and_hold_every_synapse():
    config = HWConfig(cores=2, neurons_per_core=32, synapse_lanes=4)
    network = chain([12, 24, 6])
    program = map_network(network, config)
    layout = CoreLayout.from_config(config)
    stored = 0
    for state in program.cores:
        for word in state.synapse_words:
            for lane, synapse in enumerate(decode_word(layout, word)):
                assert synapse.target % config.synapse_lanes == lane
                stored += synapse.weight != 0
        for entry in state.sources.values():
            assert entry.first_word + entry.word_count <= len(state.synapse_words)
    assert stored == network.synapse_count()


def test_convolution_shares_shifted_rows_and_the_image_still_computes_it():
    """A 3x3 convolution over 12x12 pixels: away from the borders a pixel's row is its
    neighbour's shifted by the output position, so per input channel only the border classes
    (3 in y) x (x = 0, x = 11 and the 4 lane phases in between: 6 in x) = 18 distinct rows are
    stored instead of 144: at most 1/8 of the words (border rows are shorter)."""
    network = convolution((2, 4), 12)
    inputs = spikes(30, 2 * 12 * 12).reshape(30, 1, 2, 12, 12)
    programs = {shared: map_network(network, HWConfig(cores=2, neurons_per_core=512,
                                                      source_table_depth=512,
                                                      shared_rows=shared))
                for shared in (True, False)}
    for program in programs.values():
        image = program_image.parse_image(program_image.build_image(program).to_bytes())
        assert_same_run(network, program_image.network_from_image(image), inputs)
    words = {shared: sum(len(core.synapse_words) for core in program.cores)
             for shared, program in programs.items()}
    assert words[True] * 8 <= words[False]
    report = mapping_report_lines(programs[True])
    for core, state in enumerate(programs[True].cores):
        assert state.stored_synapses < state.synapse_count
        line = next(text for text in report if text.startswith(f"  core {core}:"))
        assert (f"shared rows: {state.synapse_count} synapses stored as "
                f"{state.stored_synapses}") in line
    assert "shared rows" not in "\n".join(mapping_report_lines(programs[False]))


def test_sparsity_prunes_by_threshold():
    network = chain([20, 30, 10])
    pruned = Sparsity(threshold=20).apply(network)
    for before, after in zip(network.projections, pruned.projections):
        assert np.all(np.abs(after.weight.data) > 20)
        kept = np.abs(before.weight.toarray()) > 20
        assert np.array_equal(after.weight.toarray(), before.weight.toarray() * kept)
    assert pruned.metadata["sparsity"]["dropped"] > 0
    program = map_network(network, CONFIGS["one-core"], MappingOptions(prune_threshold=20))
    assert sum(s.synapse_count for s in program.cores) == pruned.synapse_count()


def test_crossbar_without_variation_is_exact_and_with_variation_matches_the_image():
    network = chain([16, 24, 8])
    inputs = spikes(40, 16, rate=0.5)
    ideal = HWConfig.from_dict({"cores": 2, "neurons_per_core": 32,
                                "crossbar": {"tiles": 2, "rows": 32, "cols": 64,
                                             "adc_bits": 12}})
    program = map_network(network, ideal, MappingOptions(crossbar="prefer", partition="pack"))
    assert program.engines[1] == "crossbar" and program.tiles
    assert all(block.adc_shift == 0 for block in program.tiles)
    assert_same_run(network, program.network, inputs)
    noisy = HWConfig.from_dict({"cores": 2, "neurons_per_core": 32,
                                "crossbar": {"tiles": 2, "rows": 32, "cols": 64, "adc_bits": 6,
                                             "variation_sigma": 0.2, "variation_seed": 7}})
    program = map_network(network, noisy, MappingOptions(crossbar="prefer", partition="pack"))
    image = program_image.parse_image(program_image.build_image(program).to_bytes())
    assert_same_run(program.network, program_image.network_from_image(image), inputs)
    for block in program.tiles:
        assert block.tile % noisy.cores == block.core


@pytest.mark.parametrize("config, limit, knob", [
    (HWConfig(cores=1, neurons_per_core=16), "neurons_per_core", "neurons_per_core"),
    (HWConfig(cores=1, neurons_per_core=64, synapse_memory_depth=64), "synapse_memory_depth",
     "synapse_memory_depth"),
    (HWConfig(cores=1, neurons_per_core=64, source_table_depth=16), "source_table_depth",
     "source_table_depth"),
])
def test_network_that_does_not_fit_names_the_limit_and_a_config_that_fits(config, limit, knob):
    network = chain([20, 30, 10], recurrent=True)
    with pytest.raises(CodesignError) as error:
        map_network(network, config)
    message = str(error.value)
    assert "\n" not in message and limit in message
    suggestion = message.split(f"{knob}: ")[1].split()[0]
    fitting = HWConfig.from_dict({**config.to_dict(), knob: int(suggestion)})
    map_network(network, fitting)


def test_delay_beyond_delay_slots_is_refused():
    network = chain([8, 8], recurrent=False)
    network.projections[0].delay = 2
    with pytest.raises(CodesignError, match="delay_slots: 3"):
        map_network(network, HWConfig(cores=1, neurons_per_core=16))


def test_report_shows_chip_core_and_tile_tiers():
    config = HWConfig.from_dict({"cores": 2, "neurons_per_core": 32,
                                 "crossbar": {"tiles": 2, "rows": 32}})
    program = map_network(chain([16, 24, 8]), config, MappingOptions(crossbar="prefer",
                                                                     partition="pack"))
    report = program.dump()
    assert "chip:" in report and "cores:" in report and "tiles:" in report
    assert "lif0 -> lif1 (delay 0" in report and "crossbar tiles" in report
    assert "core 0: neurons 24/32" in report
