"""Register replicas that synthesis keeps apart, for signals with a large or far-flung fanout.

Yosys merges flip-flops with equal inputs and initial value (``opt_merge``), so plain copies of a
register collapse back into one. Copy ``k`` here differs from the others: it starts at all ones
if ``k`` is odd, and stores the value inverted (read back through an inverter, which ECP5 folds
into the flip-flop's clock-enable or LUT inputs) if ``k & 2``: four distinct copies per bit.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value

#: Distinct copies per bit: initial value 0 or all ones, stored plain or inverted.
MAX_REPLICAS = 4


def replica(m: Module, value, copy: int, name: str, *, domain: str = "sync",
            reset_less: bool = True) -> Value:
    """Copy number ``copy`` (0..3) of ``value`` one cycle later, distinct from the other three."""
    if not 0 <= copy < MAX_REPLICAS:
        raise ValueError(f"copy must be 0..{MAX_REPLICAS - 1}, not {copy}")
    value = Value.cast(value)
    shape = value.shape()
    ones = -1 if shape.signed else (1 << shape.width) - 1
    inverted = bool(copy & 2)
    register = Signal(shape, name=name, init=ones if copy & 1 else 0, reset_less=reset_less)
    m.d[domain] += register.eq(~value if inverted else value)
    return ~register if inverted else register


def replicas(m: Module, value, count: int, name: str, *, domain: str = "sync",
             reset_less: bool = True) -> list[Value]:
    """``count`` registers, each ``value`` one cycle later, that synthesis does not merge."""
    if not 1 <= count <= MAX_REPLICAS:
        raise ValueError(f"count must be 1..{MAX_REPLICAS}, not {count}")
    return [replica(m, value, copy, f"{name}_{copy}", domain=domain, reset_less=reset_less)
            for copy in range(count)]
