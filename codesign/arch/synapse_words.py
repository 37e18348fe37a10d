"""Synapse words and source-table entries of a core, in pure Python (compiler and tests).

A synapse word holds ``synapse_lanes`` slots ``(row, weight, delay)``; the slot of lane ``k``
targets neuron ``row * lanes + k``, so every lane adds into its own accumulator bank and the
lanes of one word never conflict. A weight of 0 marks an empty slot. The synapses of one source
occupy ``word_count`` consecutive words from ``first_word``; each lane is filled in order, so a
source with ``n_k`` synapses in lane ``k`` takes ``max(n_k)`` words (``fan_out / lanes`` for a
dense row).

Shared rows (``shared_rows``): a source's entry adds ``row_offset`` to the row of every slot
(modulo ``rows_per_lane``, so lanes are kept), so sources whose synapses are the same up to a
shift of their targets by a multiple of ``lanes`` can point at one copy of the words, as the
pixels of a convolution's input channel do (away from the borders). :func:`pack_shifted` gives a
source's words relative to its lowest row, ready to be shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from codesign import arithmetic
from codesign.arch.layout import CoreLayout
from codesign.errors import CodesignError


@dataclass(frozen=True)
class Synapse:
    """One synapse of a source: target neuron (core-local index), weight and delay in steps."""

    target: int
    weight: int
    delay: int = 0


def encode_word(layout: CoreLayout, slots: Sequence[Synapse | None]) -> int:
    """One synapse word from one slot per lane (None: empty)."""
    if len(slots) != layout.synapse_lanes:
        raise CodesignError(f"a synapse word takes {layout.synapse_lanes} slots, got {len(slots)}",
                            "pass one slot (or None) per lane")
    values = {}
    for lane, synapse in enumerate(slots):
        synapse = synapse or Synapse(target=lane, weight=0, delay=0)
        if synapse.target % layout.synapse_lanes != lane:
            raise CodesignError(f"target {synapse.target} is not in lane {lane}",
                                f"lane k only holds targets with index % {layout.synapse_lanes} == k")
        _check_synapse(layout, synapse)
        values.update({f"lane{lane}_row": synapse.target // layout.synapse_lanes,
                       f"lane{lane}_weight": synapse.weight, f"lane{lane}_delay": synapse.delay})
    return layout.synapse_word_fields.pack(values)


def decode_word(layout: CoreLayout, word: int) -> list[Synapse]:
    """The slot of every lane of ``word``, empty ones (weight 0) included."""
    values = layout.synapse_word_fields.unpack(word)
    return [Synapse(target=values[f"lane{lane}_row"] * layout.synapse_lanes + lane,
                    weight=values[f"lane{lane}_weight"], delay=values[f"lane{lane}_delay"])
            for lane in range(layout.synapse_lanes)]


def pack_synapses(layout: CoreLayout, synapses: Sequence[Synapse]) -> list[int]:
    """The words of one source: synapses banked by lane, lanes filled in order."""
    by_lane: list[list[Synapse]] = [[] for _ in range(layout.synapse_lanes)]
    for synapse in synapses:
        _check_synapse(layout, synapse)
        if synapse.weight != 0:
            by_lane[synapse.target % layout.synapse_lanes].append(synapse)
    count = max((len(lane) for lane in by_lane), default=0)
    return [encode_word(layout, [lane[i] if i < len(lane) else None for lane in by_lane])
            for i in range(count)]


def pack_row(layout: CoreLayout, weights: np.ndarray, delays: np.ndarray | int = 0) -> list[int]:
    """The words of one source from its row of an integer weight matrix (index = target)."""
    weights = np.asarray(weights)
    delays = np.broadcast_to(np.asarray(delays), weights.shape)
    return pack_synapses(layout, [Synapse(int(t), int(weights[t]), int(delays[t]))
                                  for t in np.flatnonzero(weights)])


def pack_shifted(layout: CoreLayout, synapses: Sequence[Synapse]) -> tuple[int, list[int]]:
    """``(row_offset, words)``: the words of one source with every row lowered by the source's
    lowest row, which becomes its entry's ``row_offset`` (0 and plain rows without
    ``shared_rows``). Equal word lists can then be stored once."""
    kept = [synapse for synapse in synapses if synapse.weight != 0]
    if not layout.shared_rows or not kept:
        return 0, pack_synapses(layout, kept)
    for synapse in kept:
        _check_synapse(layout, synapse)
    offset = min(synapse.target for synapse in kept) // layout.synapse_lanes
    shift = offset * layout.synapse_lanes
    return offset, pack_synapses(layout, [Synapse(s.target - shift, s.weight, s.delay)
                                          for s in kept])


def entry_synapses(layout: CoreLayout, entry: dict[str, int],
                   words: Sequence[int]) -> list[Synapse]:
    """The synapses a (decoded, non-crossbar) source-table entry stands for: its words from
    ``words`` (the core's synapse memory), rows shifted by its ``row_offset``."""
    shift = entry.get("row_offset", 0) * layout.synapse_lanes
    return [Synapse((synapse.target + shift) % layout.neurons_per_core, synapse.weight,
                    synapse.delay)
            for address in range(entry["first_word"], entry["first_word"] + entry["word_count"])
            for synapse in decode_word(layout, words[address]) if synapse.weight != 0]


def encode_source_entry(layout: CoreLayout, first_word: int, word_count: int,
                        crossbar: bool = False, row_offset: int = 0) -> int:
    """A source-table entry; a ``crossbar`` entry forwards events as row ``first_word``."""
    if not crossbar and first_word + word_count > layout.synapse_memory_depth:
        raise CodesignError(f"synapse words {first_word}..{first_word + word_count - 1} exceed "
                            f"synapse_memory_depth={layout.synapse_memory_depth}",
                            "raise synapse_memory_depth or map fewer synapses to this core")
    if row_offset and not layout.shared_rows:
        raise CodesignError(f"a row offset ({row_offset}) needs shared_rows",
                            "set shared_rows: true in the HWConfig or store the rows unshifted")
    fields = {"first_word": first_word, "word_count": 0 if crossbar else word_count,
              "crossbar": int(crossbar)}
    if layout.shared_rows:
        fields["row_offset"] = row_offset
    return layout.source_entry_fields.pack(fields)


def decode_source_entry(layout: CoreLayout, entry: int) -> dict[str, int]:
    return layout.source_entry_fields.unpack(entry)


def pack_matrix(layout: CoreLayout, weights: np.ndarray, delays: np.ndarray | int = 0,
                first_word: int = 0) -> tuple[list[int], list[int]]:
    """Synapse words and source-table entries for a ``(sources, targets)`` weight matrix whose
    sources are table indices 0.. and whose words start at ``first_word``."""
    weights = np.asarray(weights)
    delays = np.broadcast_to(np.asarray(delays), weights.shape)
    words: list[int] = []
    entries: list[int] = []
    for source in range(weights.shape[0]):
        row = pack_row(layout, weights[source], delays[source])
        entries.append(encode_source_entry(layout, first_word + len(words), len(row)))
        words.extend(row)
    return words, entries


def _check_synapse(layout: CoreLayout, synapse: Synapse) -> None:
    low, high = arithmetic.signed_limits(layout.weight_bits)
    if not 0 <= synapse.target < layout.neurons_per_core:
        raise CodesignError(f"synapse target {synapse.target} is outside the core's "
                            f"{layout.neurons_per_core} neurons",
                            "split the layer over more cores or raise neurons_per_core")
    if not low <= synapse.weight <= high:
        raise CodesignError(f"weight {synapse.weight} does not fit {layout.weight_bits} bits",
                            f"quantise weights to {low}..{high} or raise weight_bits")
    if not 0 <= synapse.delay < layout.delay_slots:
        raise CodesignError(f"delay {synapse.delay} is outside 0..{layout.delay_slots - 1}",
                            "raise delay_slots")
