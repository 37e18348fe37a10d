"""An 8N1 serial line written and read cycle by cycle from exact bit times, independently of the
UART under test (start bit 0, data least significant bit first, stop bit 1)."""

from __future__ import annotations

import math
from fractions import Fraction


def line_levels(data: bytes, cycles_per_bit: Fraction, stop: int = 1, idle: int = 2,
                gap_bits: int = 0) -> list[int]:
    """The line level in every clock cycle: ``idle`` bits of idle line, then each byte's ten
    bits (``stop`` as its stop bit) and ``gap_bits`` idle bits after it; a bit starts at the
    first cycle at or after its exact start time."""
    period = Fraction(cycles_per_bit)
    bits = [1] * idle
    for byte in data:
        bits += [0, *((byte >> bit) & 1 for bit in range(8)), stop] + [1] * gap_bits
    bits += [1] * idle
    total = math.ceil(len(bits) * period)
    return [bits[min(len(bits) - 1, int(cycle / period))] for cycle in range(total)]


def decode_levels(levels: list[int], cycles_per_bit: Fraction,
                  starts: list[int] | None = None) -> list[int]:
    """Bytes on a line recorded cycle by cycle, each bit sampled in its middle (the cycle of
    each start bit's edge is appended to ``starts``); raises if a stop bit is missing."""
    period = Fraction(cycles_per_bit)
    found, cycle = [], 0
    while cycle < len(levels):
        if levels[cycle] == 1:
            cycle += 1
            continue
        start = cycle
        samples = [levels[min(len(levels) - 1, int(start + (bit + Fraction(1, 2)) * period))]
                   for bit in range(10)]
        assert samples[0] == 0, f"start bit at cycle {start} too short"
        assert samples[9] == 1, f"stop bit of the byte starting at cycle {start} missing"
        found.append(sum(level << bit for bit, level in enumerate(samples[1:9])))
        if starts is not None:
            starts.append(start)
        cycle = int(start + Fraction(19, 2) * period) + 1
    return found
