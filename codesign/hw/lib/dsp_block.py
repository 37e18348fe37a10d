"""One DSP multiplication with the DSP block's own operand and product registers.

``registered_product(m, left, right, platform)`` is ``left * right`` two cycles later: the
operands are registered, multiplied, and the product is registered.

* On ECP5 (``platform.family == "ecp5"``: amaranth's Lattice platforms, and ``codesign hw
  synth --family ecp5``) it is one ``MULT18X18D`` with ``REG_INPUTA_CLK``, ``REG_INPUTB_CLK`` and
  ``REG_OUTPUT_CLK`` on ``CLK0``. Yosys's own mapping (``dsp_map_18x18.v``) leaves all three at
  ``NONE`` and does not absorb fabric registers, so a fabric register -> multiplier -> fabric
  register path carried the block's combinational delay plus two routes (~10.4 ns in the default
  accelerator); with the block's registers the multiplier sits between registers inside the block.
* Elsewhere (simulation, Verilator, other families) the same registers in fabric.

Operands are at most 18 bits signed or 17 bits unsigned; both are sign-extended to 18 bits and
multiplied signed (``SIGNEDA = SIGNEDB = 1``), which is exact for every such operand. The
registers ignore the domain's reset (``RST0`` is tied low): they carry data whose validity
travels beside them.
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Instance, Module, Signal, Value, signed

#: Cycles from the operands to the product.
LATENCY = 2
#: Signed operand width of the block.
OPERAND_BITS = 18


def registered_product(m: Module, left, right, platform, *, domain: str = "sync",
                       name: str = "dsp") -> Value:
    """``left * right`` (its own exact shape), ``LATENCY`` cycles later."""
    left, right = Value.cast(left), Value.cast(right)
    for operand in (left, right):
        width = len(operand) + (0 if operand.shape().signed else 1)
        if width > OPERAND_BITS:
            raise ValueError(f"operand {operand!r} needs {width} signed bits, "
                             f"more than the block's {OPERAND_BITS}")
    shape = (left * right).shape()
    # Sign- or zero-extended by ``eq`` to the block's signed operands.
    a = Signal(signed(OPERAND_BITS), name=f"{name}_a")
    b = Signal(signed(OPERAND_BITS), name=f"{name}_b")
    m.d.comb += [a.eq(left), b.eq(right)]
    product = Signal(signed(2 * OPERAND_BITS), name=f"{name}_product", reset_less=True)
    if getattr(platform, "family", None) == "ecp5":
        registers = {f"p_REG_{port}_CLK": "CLK0" for port in ("INPUTA", "INPUTB", "OUTPUT")}
        m.submodules[name] = Instance(
            "MULT18X18D", **registers,
            i_CLK0=ClockSignal(domain), i_CE0=1, i_RST0=0,
            i_SIGNEDA=1, i_SIGNEDB=1, i_SOURCEA=0, i_SOURCEB=0,
            **{f"i_A{bit}": a[bit] for bit in range(OPERAND_BITS)},
            **{f"i_B{bit}": b[bit] for bit in range(OPERAND_BITS)},
            **{f"i_C{bit}": 0 for bit in range(OPERAND_BITS)},
            **{f"o_P{bit}": product[bit] for bit in range(2 * OPERAND_BITS)})
    else:
        a_register = Signal.like(a, name=f"{name}_a_register", reset_less=True)
        b_register = Signal.like(b, name=f"{name}_b_register", reset_less=True)
        m.d[domain] += [a_register.eq(a), b_register.eq(b),
                        product.eq(a_register * b_register)]
    exact = product[:shape.width]
    return exact.as_signed() if shape.signed else exact
