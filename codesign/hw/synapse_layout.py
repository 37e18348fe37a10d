"""Synapse words and source-table entries of a core, in pure Python (compiler and tests).

A synapse word holds ``synapse_lanes`` slots ``(row, weight, delay)``; the slot of lane ``k``
targets neuron ``row * lanes + k``, so every lane adds into its own accumulator bank and the
lanes of one word never conflict. A weight of 0 marks an empty slot. The synapses of one source
occupy ``word_count`` consecutive words from ``first_word``; each lane is filled in order, so a
source with ``n_k`` synapses in lane ``k`` takes ``max(n_k)`` words (``fan_out / lanes`` for a
dense row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from codesign import arithmetic
from codesign.errors import CodesignError
from codesign.hw.core_layout import CoreLayout


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


def encode_source_entry(layout: CoreLayout, first_word: int, word_count: int,
                        crossbar: bool = False) -> int:
    """A source-table entry; a ``crossbar`` entry forwards events as row ``first_word``."""
    if not crossbar and first_word + word_count > layout.synapse_memory_depth:
        raise CodesignError(f"synapse words {first_word}..{first_word + word_count - 1} exceed "
                            f"synapse_memory_depth={layout.synapse_memory_depth}",
                            "raise synapse_memory_depth or map fewer synapses to this core")
    return layout.source_entry_fields.pack(
        {"first_word": first_word, "word_count": 0 if crossbar else word_count,
         "crossbar": int(crossbar)})


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
