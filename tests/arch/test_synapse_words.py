"""Synapse word and source-table packing (pure Python, shared by the compiler and the tests)."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.arch.layout import CoreLayout, MemorySelect
from codesign.arch.synapse_words import (Synapse, decode_source_entry, decode_word,
                                         encode_source_entry, encode_word, entry_synapses,
                                         pack_matrix, pack_row, pack_shifted)
from codesign.errors import CodesignError

LAYOUT = CoreLayout(neurons_per_core=64, synapse_lanes=4, weight_bits=8, state_bits=16,
                    delay_slots=3, synapse_memory_depth=256, source_table_depth=32, profiles=2)


def test_word_round_trip_and_bit_positions():
    slots = [Synapse(8, -128, 2), None, Synapse(62, 127, 1), Synapse(3, 1, 0)]
    word = encode_word(LAYOUT, slots)
    # Lane 0 is in the low bits: row 2 (target 8 // 4), weight -128, delay 2.
    lane_bits = 4 + 8 + 2
    assert word & ((1 << lane_bits) - 1) == 2 | (0x80 << 4) | (2 << 12)
    assert word < 1 << (4 * lane_bits)
    decoded = decode_word(LAYOUT, word)
    assert decoded[0] == slots[0] and decoded[2] == slots[2] and decoded[3] == slots[3]
    assert decoded[1].weight == 0 and decoded[1].target % 4 == 1


def test_dense_row_takes_fan_out_over_lanes_words():
    weights = np.arange(1, 65)
    words = pack_row(LAYOUT, weights, 1)
    assert len(words) == 64 // 4
    seen = {s.target: s.weight for w in words for s in decode_word(LAYOUT, w)}
    assert seen == {t: t + 1 for t in range(64)}


def test_uneven_lanes_pad_with_empty_slots():
    weights = np.zeros(64, np.int64)
    weights[[0, 4, 8, 1]] = [5, 6, 7, -3]    # lane 0 gets three synapses, lane 1 one
    words = pack_row(LAYOUT, weights)
    assert len(words) == 3
    total = np.zeros(64, np.int64)
    for word in words:
        for synapse in decode_word(LAYOUT, word):
            total[synapse.target] += synapse.weight
    np.testing.assert_array_equal(total, weights)


def test_matrix_entries_point_at_their_words():
    rng = np.random.default_rng(0)
    weights = rng.integers(-3, 4, (5, 64))
    words, entries = pack_matrix(LAYOUT, weights, 0, first_word=10)
    for source, entry in enumerate(entries):
        fields = decode_source_entry(LAYOUT, entry)
        total = np.zeros(64, np.int64)
        for word in words[fields["first_word"] - 10:][:fields["word_count"]]:
            for synapse in decode_word(LAYOUT, word):
                total[synapse.target] += synapse.weight
        np.testing.assert_array_equal(total, weights[source])
    crossbar = decode_source_entry(LAYOUT, encode_source_entry(LAYOUT, 7, 0, crossbar=True))
    assert crossbar == {"first_word": 7, "word_count": 0, "crossbar": 1, "row_offset": 0}


def test_shifted_rows_are_equal_for_shifted_sources_and_decode_back():
    """Two sources whose targets differ by 8 neurons (2 rows of 4 lanes) get equal words and
    offsets 2 apart; a shift by 1 neuron changes lanes, so its words differ."""
    kernel = [Synapse(1, 5), Synapse(2, -7, 1), Synapse(6, 9), Synapse(13, 3)]
    offset, words = pack_shifted(LAYOUT, kernel)
    moved_offset, moved_words = pack_shifted(
        LAYOUT, [Synapse(s.target + 8, s.weight, s.delay) for s in kernel])
    assert (offset, moved_offset) == (0, 2) and moved_words == words
    assert pack_shifted(LAYOUT, [Synapse(s.target + 1, s.weight) for s in kernel])[1] != words
    entry = decode_source_entry(LAYOUT, encode_source_entry(LAYOUT, 0, len(words),
                                                            row_offset=moved_offset))
    decoded = entry_synapses(LAYOUT, entry, words)
    assert sorted((s.target, s.weight, s.delay) for s in decoded) == \
        sorted((s.target + 8, s.weight, s.delay) for s in kernel)


@pytest.mark.parametrize("synapse", [Synapse(64, 1, 0), Synapse(0, 128, 0), Synapse(0, 1, 3)])
def test_out_of_range_synapses_are_errors(synapse):
    with pytest.raises(CodesignError):
        encode_word(LAYOUT, [synapse if k == synapse.target % 4 else None for k in range(4)])


def test_wrong_lane_and_overflowing_memory_are_errors():
    with pytest.raises(CodesignError, match="lane"):
        encode_word(LAYOUT, [Synapse(1, 1, 0), None, None, None])
    with pytest.raises(CodesignError, match="synapse_memory_depth"):
        encode_source_entry(LAYOUT, 250, 10)


def test_profile_fields_round_trip_signed_values():
    fields = LAYOUT.words[MemorySelect.PROFILES]
    values = {name: (-(1 << (bits - 1)) if signed else (1 << bits) - 1)
              for name, bits, signed in fields.fields}
    assert fields.unpack(fields.pack(values)) == values
    with pytest.raises(CodesignError):
        fields.pack({**values, "threshold": 1 << 15})
