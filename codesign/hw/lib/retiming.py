"""Pipelining of Amaranth expressions built by :mod:`codesign.arithmetic`.

The arithmetic functions build one combinational expression per stage (multiply, add, round,
saturate). :class:`ExpressionPipeliner` rebuilds such an expression with registers inserted:

* every multiplication is split into registered DSP-sized partial products (optionally with
  registered operands, inside the DSP block on ECP5: the multiplier sits alone between
  registers, where the FPGA's DSP blocks are fastest; the block's operand register is then the
  pipeline register of the logic in front of it); optionally
  the narrowest partial products become LUT shift-adds,
* a chain of additions and subtractions (the partial products of a multiplication included) is
  one sum of terms, added two at a time in the order the terms become available (earliest and
  shallowest first), so terms that are ready early (a bias, a rounding constant, a product of
  earlier inputs) are summed while the late ones are still being computed,
* a register is inserted wherever the chain of adders, comparators and selects would exceed
  ``max_depth`` carry-chain levels,
* operands that arrive in different cycles are delayed to the latest one, so the result is the
  same function of the inputs, only ``latency`` cycles later.

Registers copy the exact shape of the value they hold, and Amaranth's additions widen their
result, so a regrouped sum is the same integer (given back in the original shape): the rebuilt
expression computes bit-for-bit what the original one computes. *Static* signals (parameters that
stay constant while data is in flight) are never delayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, Value
from amaranth.hdl._ast import Operator, Slice, SwitchValue

from codesign.hw.lib import dsp_block

#: Carry-chain levels charged per operator; shifts by constants, slices and casts are wiring.
_OPERATOR_DEPTH = {
    "+": 1.0, "-": 1.0, "<": 1.0, ">": 1.0, "<=": 1.0, ">=": 1.0, "==": 1.0, "!=": 1.0,
    "&": 0.25, "|": 0.25, "^": 0.25, "~": 0.0, "u": 0.0, "s": 0.0, "<<": 0.0, ">>": 0.0,
}
#: Depth charged for one two-way select (a LUT level).
_SELECT_DEPTH = 0.5



def _dsp_chunks(value: Value, dsp_bits: int) -> list[tuple[Value, int]]:
    """``value`` as ``sum(chunk << shift)``: unsigned ``dsp_bits - 1``-bit low chunks and a top
    chunk that keeps the sign and fits a signed ``dsp_bits``-bit multiplier input."""
    shape = value.shape()
    limit = dsp_bits if shape.signed else dsp_bits - 1
    chunks, offset = [], 0
    while shape.width - offset > limit:
        chunks.append((value[offset:offset + dsp_bits - 1], offset))
        offset += dsp_bits - 1
    top = value[offset:]
    chunks.append((top.as_signed() if shape.signed else top, offset))
    return chunks


@dataclass
class Timed:
    """A rebuilt value, the cycle its inputs belong to (None: static) and its logic depth."""

    value: Value
    cycle: int | None
    depth: float


class ExpressionPipeliner:
    """Inserts pipeline registers into expressions over the signals it is given.

    Leaf signals are cycle 0 unless they are registers made by this pipeliner (which know their
    cycle) or listed in ``static``.

    ``dsp_bits`` is the signed operand width of the target's DSP multipliers (18: ECP5
    MULT18X18D; 16: iCE40 SB_MAC16). A partial product whose narrower operand has at most
    ``lut_product_bits`` bits is built as a shift-add in LUTs instead (a DSP block would be
    wasted on it).

    ``product_registers`` is the number of registers after each DSP product (2: one the placer
    can keep next to the DSP block, one to travel to the adder tree; ECP5's DSP blocks sit in a
    few rows, far from much of the fabric).

    ``dsp_block_registers``: each DSP product is :func:`dsp_block.registered_product`, whose
    operand register and first product register are the DSP block's own on ECP5 (``platform``
    with ``family == "ecp5"``); the other ``product_registers - 1`` stay in fabric. Without it
    the product reads the operands directly and every product register is in fabric.

    ``reset_less``: the registers ignore the domain's reset. For pure datapath pipelines whose
    validity travels beside them in reset registers: on ECP5 the flip-flops then need no LSR
    net, so thousands of them neither load one reset net nor constrain slice packing.
    """

    def __init__(self, module: Module, *, static: Iterable[Value] = (), max_depth: float = 2.0,
                 domain: str = "sync", name: str = "pipe", dsp_bits: int = dsp_block.OPERAND_BITS,
                 lut_product_bits: int = 0, product_registers: int = 1,
                 dsp_block_registers: bool = False, platform=None, reset_less: bool = False):
        if dsp_block_registers and product_registers < 1:
            raise ValueError("dsp_block_registers needs product_registers >= 1")
        self.module = module
        self.dsp_block_registers = dsp_block_registers
        self.platform = platform
        self.reset_less = reset_less
        self.product_registers = product_registers
        self.max_depth = max_depth
        self.dsp_bits = dsp_bits
        self.lut_product_bits = lut_product_bits
        self.domain = domain
        self.name = name
        self._static = {id(signal) for signal in static}
        self._cycle_of_register: dict[int, int | None] = {}
        self._rebuilt: dict[int, Timed] = {}
        self._delayed: dict[tuple[int, int], Signal] = {}
        self._keep: list[object] = []
        self.registers = 0

    # -- public -----------------------------------------------------------------------------
    def register(self, expression) -> Signal:
        """``expression`` rebuilt with registers, ending in a register; records its cycle."""
        timed = self._timed(Value.cast(expression))
        cycle = None if timed.cycle is None else timed.cycle + 1
        return self._new_register(timed.value, cycle)

    def cycle_of(self, value) -> int | None:
        """The cycle of a value built from this pipeliner's registers (None: static)."""
        return self._timed(Value.cast(value)).cycle

    def align(self, expressions: list) -> tuple[list[Signal], int]:
        """Registers every expression and delays them all to one common cycle."""
        registered = [self.register(expression) for expression in expressions]
        cycle = max((self.cycle_of(value) or 0) for value in registered)
        return [self.delay(value, cycle) for value in registered], cycle

    def delay(self, value, cycle: int) -> Value:
        """``value`` (a register or input at cycle c <= ``cycle``) delayed to ``cycle``."""
        timed = self._timed(Value.cast(value))
        return self._at_cycle(timed, cycle).value

    # -- internals --------------------------------------------------------------------------
    def _new_register(self, value: Value, cycle: int | None) -> Signal:
        register = Signal(value.shape(), name=f"{self.name}_{self.registers}",
                          reset_less=self.reset_less)
        self.registers += 1
        self.module.d[self.domain] += register.eq(value)
        self._cycle_of_register[id(register)] = cycle
        self._keep.append(register)
        return register

    def _registered(self, timed: Timed) -> Timed:
        """``timed`` behind one register (static values stay static)."""
        cycle = None if timed.cycle is None else timed.cycle + 1
        return Timed(self._new_register(timed.value, cycle), cycle, 0.0)

    def _at_cycle(self, timed: Timed, cycle: int) -> Timed:
        """``timed`` delayed to exactly ``cycle`` (static values are valid at every cycle)."""
        if timed.cycle is None or timed.cycle == cycle:
            return timed
        assert timed.cycle < cycle, "a value cannot be moved back in time"
        while timed.cycle < cycle:
            key = (id(timed.value), timed.cycle + 1)
            if key not in self._delayed:
                self._keep.append(timed.value)
                self._delayed[key] = self._registered(timed).value
            timed = Timed(self._delayed[key], timed.cycle + 1, 0.0)
        return timed

    def _aligned(self, operands: list[Timed], added_depth: float) -> list[Timed]:
        """Operands moved to a common cycle, registered first if the new level would be too deep."""
        cycles = [operand.cycle for operand in operands if operand.cycle is not None]
        cycle = max(cycles) if cycles else None
        if cycle is not None:
            operands = [self._at_cycle(operand, cycle) for operand in operands]
        deepest = max(operand.depth for operand in operands)
        if deepest > 0 and deepest + added_depth > self.max_depth:
            operands = [self._registered(operand) if operand.depth > 0 else operand
                        for operand in operands]
            cycles = [operand.cycle for operand in operands if operand.cycle is not None]
            if cycles:
                operands = [self._at_cycle(operand, max(cycles)) for operand in operands]
        return operands

    def _timed(self, value: Value) -> Timed:
        key = id(value)
        if key not in self._rebuilt:
            self._keep.append(value)
            self._rebuilt[key] = self._rebuild(value)
        return self._rebuilt[key]

    def _rebuild(self, value: Value) -> Timed:
        if isinstance(value, Const):
            return Timed(value, None, 0.0)
        if isinstance(value, Signal):
            if id(value) in self._static:
                return Timed(value, None, 0.0)
            return Timed(value, self._cycle_of_register.get(id(value), 0), 0.0)
        if isinstance(value, Slice):
            inner = self._timed(value.value)
            return Timed(Slice(inner.value, value.start, value.stop), inner.cycle, inner.depth)
        if isinstance(value, SwitchValue):
            parts = [self._timed(value.test)] + [self._timed(case) for _, case in value.cases]
            parts = self._aligned(parts, _SELECT_DEPTH)
            cases = [(patterns, part.value)
                     for (patterns, _), part in zip(value.cases, parts[1:])]
            return self._combined(SwitchValue(parts[0].value, cases), parts, _SELECT_DEPTH)
        if isinstance(value, Operator) and value.operator == "*":
            return self._multiply(*[self._timed(operand) for operand in value.operands])
        if isinstance(value, Operator) and value.operator in ("+", "-") \
                and len(value.operands) == 2:
            terms: list[tuple[Value, bool]] = []
            _sum_terms(value, False, terms)
            total = self._sum([(self._timed(term), negative) for term, negative in terms])
            return Timed(_reshaped(total.value, value.shape()), total.cycle, total.depth)
        if isinstance(value, Operator) and value.operator in _OPERATOR_DEPTH:
            if value.operator in ("<<", ">>") and not isinstance(value.operands[1], Const):
                raise TypeError("only shifts by constant amounts can be pipelined")
            return self._operator(value.operator, [self._timed(o) for o in value.operands])
        raise TypeError(f"cannot pipeline expression node {value!r}")

    def _operator(self, operator: str, operands: list[Timed]) -> Timed:
        added = _OPERATOR_DEPTH[operator]
        operands = self._aligned(operands, added)
        return self._combined(Operator(operator, [o.value for o in operands]), operands, added)

    def _multiply(self, left: Timed, right: Timed) -> Timed:
        """A product split into DSP-sized partial products, each between registers, summed by
        an adder tree that obeys the depth limit. Exact: the sum is cut back to the product's
        own shape, which holds every product of the operands. Operands start at registers, or,
        when every partial product is a DSP block with its own operand registers, at those."""
        in_blocks = self.dsp_block_registers and self.lut_product_bits == 0
        left, right = self._aligned([left, right], 0.0 if in_blocks else float("inf"))
        shape = Operator("*", [left.value, right.value]).shape()
        cycles = [operand.cycle for operand in (left, right) if operand.cycle is not None]
        cycle = max(cycles) if cycles else None
        partials = []
        for left_chunk, left_shift in _dsp_chunks(left.value, self.dsp_bits):
            for right_chunk, right_shift in _dsp_chunks(right.value, self.dsp_bits):
                if min(len(left_chunk), len(right_chunk)) <= self.lut_product_bits:
                    product = self._shift_add(left_chunk, right_chunk)
                elif self.dsp_block_registers:
                    product = self._dsp_block_product(left_chunk, right_chunk, cycle)
                    for _ in range(self.product_registers - 1):
                        product = self._registered(product)
                else:
                    product = Timed(left_chunk * right_chunk, cycle, 0.0)
                    for _ in range(self.product_registers):
                        product = self._registered(product)
                partials.append(Timed(product.value << (left_shift + right_shift),
                                      product.cycle, product.depth))
        total = self._sum([(partial, False) for partial in partials])
        return Timed(_reshaped(total.value, shape), total.cycle, total.depth)

    def _dsp_block_product(self, left: Value, right: Value, cycle: int | None) -> Timed:
        """``left * right`` through :func:`dsp_block.registered_product` (``LATENCY`` cycles)."""
        product = dsp_block.registered_product(self.module, left, right, self.platform,
                                               domain=self.domain,
                                               name=f"{self.name}_dsp_{self.registers}")
        self.registers += 1
        return Timed(product, None if cycle is None else cycle + dsp_block.LATENCY, 0.0)

    def _shift_add(self, left: Value, right: Value) -> Timed:
        """``left * right`` as one selected, shifted copy of the wider operand per bit of the
        narrower one (the sign bit of a signed operand weighs ``-2^(n-1)``)."""
        narrow, wide = (left, right) if len(left) <= len(right) else (right, left)
        terms = []
        for bit in range(len(narrow)):
            negative = narrow.shape().signed and bit == len(narrow) - 1
            shifted = wide << bit
            terms.append((self._timed(Mux(narrow[bit], -shifted if negative else shifted, 0)),
                          False))
        return self._sum(terms)

    def _sum(self, terms: list[tuple[Timed, bool]]) -> Timed:
        """``sum(-term if negative else term)``, added two at a time, the two available
        earliest (then the shallowest) first; each addition is depth-limited like every other
        operator."""
        def ready(entry: tuple[Timed, bool]) -> tuple[float, float]:
            timed = entry[0]
            return (-1.0 if timed.cycle is None else float(timed.cycle), timed.depth)

        terms = list(terms)
        while len(terms) > 1:
            terms.sort(key=ready)
            (first, first_negative), (second, second_negative) = terms[0], terms[1]
            if first_negative == second_negative:
                entry = (self._operator("+", [first, second]), first_negative)
            elif first_negative:
                entry = (self._operator("-", [second, first]), False)
            else:
                entry = (self._operator("-", [first, second]), False)
            terms = [entry] + terms[2:]
        total, negative = terms[0]
        return self._operator("-", [total]) if negative else total

    @staticmethod
    def _combined(value: Value, operands: list[Timed], added: float) -> Timed:
        cycles = [operand.cycle for operand in operands if operand.cycle is not None]
        return Timed(value, max(cycles) if cycles else None,
                     max(operand.depth for operand in operands) + added)


def _sum_terms(value: Value, negative: bool, terms: list[tuple[Value, bool]]) -> None:
    """Appends the terms of a chain of binary ``+`` and ``-`` (and unary ``-``) to ``terms``
    as ``(value, negative)``."""
    if isinstance(value, Operator) and value.operator == "+" and len(value.operands) == 2:
        for operand in value.operands:
            _sum_terms(operand, negative, terms)
    elif isinstance(value, Operator) and value.operator == "-" and len(value.operands) == 2:
        _sum_terms(value.operands[0], negative, terms)
        _sum_terms(value.operands[1], not negative, terms)
    elif isinstance(value, Operator) and value.operator == "-" and len(value.operands) == 1:
        _sum_terms(value.operands[0], not negative, terms)
    else:
        terms.append((value, negative))


def _reshaped(value: Value, shape: Shape) -> Value:
    """``value`` (an integer that fits ``shape``, of the same signedness) in exactly ``shape``:
    cut, or sign- / zero-extended."""
    width = len(value)
    if width > shape.width:
        value = value[:shape.width]
    elif width < shape.width:
        fill = value[-1] if value.shape().signed else Const(0, 1)
        value = Cat(value, fill.replicate(shape.width - width))
    else:
        value = value.as_unsigned()
    return value.as_signed() if shape.signed else value
