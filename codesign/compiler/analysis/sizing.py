"""The smallest change to an HWConfig that holds a network (DESIGN contract 6: "a network that
does not fit says what would fit").

Each limit the mapping meets raises :class:`~codesign.errors.DoesNotFit` with the knob values
that lift that one limit, but lifting it can expose the next (the SCNN on the default config
needs more neurons, then a deeper source table, then more synapse words). So the search maps
again with every change so far until the network fits, then lowers each power-of-two change
while the network still fits, as single-limit suggestions round up (a source table twice the
heard sources, to leave room for id collisions). Each round is one ``map_network``: seconds for
networks of thousands of neurons, so ``codesign compile`` and the DSE's check before its search
use it once, after a mapping failed; the DSE's trials do not.
"""

from __future__ import annotations

from codesign.arch.config import HWConfig
from codesign.compiler.layer_ir import QuantizedNetwork
from codesign.compiler.pipeline import map_network
from codesign.compiler.program import MappingOptions
from codesign.errors import CodesignError, DoesNotFit

#: Mappings tried before giving up (every limit is met at most a few times).
MAX_ROUNDS = 12


def fitting_config(network: QuantizedNetwork, config: HWConfig,
                   options: MappingOptions | None = None) -> tuple[HWConfig, dict[str, int]]:
    """``(config, changes)``: ``config`` with ``changes`` applied, on which ``network`` maps.
    Raises :class:`CodesignError` when no knob change makes it fit (the 16-bit source ids run
    out, a change leaves the knob's range, or MAX_ROUNDS mappings did not get there)."""
    changes: dict[str, int] = {}
    for _ in range(MAX_ROUNDS):
        candidate = _changed(config, changes)
        try:
            map_network(network, candidate, options)
        except DoesNotFit as error:
            for knob, value in error.knobs.items():
                current = getattr(candidate, knob)
                # a suggestion that is no change (collisions at that size) doubles the knob
                changes[knob] = value if value > current else 2 * current
            continue
        return _lowered(network, config, changes, options)
    raise CodesignError(f"no HWConfig found that holds the network in {MAX_ROUNDS} mappings",
                        "raise cores and neurons_per_core by hand")


def does_not_fit_error(error: DoesNotFit, network: QuantizedNetwork, config: HWConfig,
                       config_name: str, options: MappingOptions | None = None) -> CodesignError:
    """``error`` completed with every change that makes ``network`` fit (one line)."""
    try:
        _, changes = fitting_config(network, config, options)
    except CodesignError:
        return error
    wanted = ", ".join(f"{knob}: {value}" for knob, value in changes.items())
    return CodesignError(error.cause, f"use {config_name} with {wanted} (the smallest change "
                                      "found by mapping the network again), or compile with "
                                      "--chunked to run a feed-forward network in chunks")


def _changed(config: HWConfig, changes: dict[str, int]) -> HWConfig:
    return HWConfig.from_dict({**config.to_dict(), **changes})


def _fits(network: QuantizedNetwork, config: HWConfig, options: MappingOptions | None) -> bool:
    try:
        map_network(network, config, options)
    except DoesNotFit:
        return False
    return True


def _lowered(network: QuantizedNetwork, config: HWConfig, changes: dict[str, int],
             options: MappingOptions | None) -> tuple[HWConfig, dict[str, int]]:
    for knob in list(changes):
        while changes[knob] % 2 == 0 and changes[knob] // 2 > getattr(config, knob):
            lower = {**changes, knob: changes[knob] // 2}
            if not _fits(network, _changed(config, lower), options):
                break
            changes = lower
    return _changed(config, changes), changes
