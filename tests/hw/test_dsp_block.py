"""The DSP-block product: ``left * right`` two cycles later in simulation, and on ECP5 one
MULT18X18D that keeps both operand registers and the product register inside the block."""

import random

import pytest
from amaranth import Module
from amaranth.hdl import Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from codesign.flows.synthesis import synthesize
from codesign.flows.verilog import to_verilog
from codesign.hw.lib import dsp_block

#: Operand shapes at the block's limits and below it.
SHAPES = [(signed(18), signed(18)), (unsigned(17), signed(18)), (unsigned(17), unsigned(17)),
          (signed(5), unsigned(9))]


class Product(wiring.Component):
    def __init__(self, left_shape, right_shape):
        product_shape = (Signal(left_shape) * Signal(right_shape)).shape()
        super().__init__({"left": In(left_shape), "right": In(right_shape),
                          "product": Out(product_shape)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.product.eq(
            dsp_block.registered_product(m, self.left, self.right, platform))
        return m


def _extremes(shape):
    low, high = (-(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1) if shape.signed \
        else (0, (1 << shape.width) - 1)
    rng = random.Random(shape.width * 2 + shape.signed)
    return [low, high, 0, 1, -1 if shape.signed else 2] + [rng.randint(low, high)
                                                           for _ in range(30)]


@pytest.mark.parametrize("left_shape, right_shape", SHAPES)
def test_product_two_cycles_later(left_shape, right_shape):
    dut = Product(left_shape, right_shape)
    pairs = [(left, right) for left in _extremes(left_shape)[:12]
             for right in _extremes(right_shape)[:12]]
    seen = []

    async def testbench(ctx):
        for left, right in pairs + [(0, 0)] * dsp_block.LATENCY:
            ctx.set(dut.left, left)
            ctx.set(dut.right, right)
            await ctx.tick()
            seen.append(ctx.get(dut.product))

    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()
    # After a tick the product of the operands set LATENCY - 1 ticks earlier is visible.
    assert seen[dsp_block.LATENCY - 1:][:len(pairs)] == [left * right for left, right in pairs]


def test_operands_wider_than_the_block_are_refused():
    m = Module()
    with pytest.raises(ValueError, match="needs 19 signed bits"):
        dsp_block.registered_product(m, Signal(signed(19)), Signal(signed(4)), None)
    with pytest.raises(ValueError, match="needs 19 signed bits"):
        dsp_block.registered_product(m, Signal(unsigned(18)), Signal(signed(4)), None)
    m._MustUse__used = True  # nothing to elaborate


def test_ecp5_keeps_every_register_in_the_block(tmp_path, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(tmp_path))
    ecp5 = synthesize(Product(signed(18), signed(18)), "ecp5")
    assert (ecp5.dsp, ecp5.ffs) == (1, 0)
    # The same design elaborated generically: 36 operand and 36 product flip-flops in fabric.
    generic = tmp_path / "generic.v"
    generic.write_text(to_verilog(Product(signed(18), signed(18))))
    fabric = synthesize(generic, "ecp5", top="top")
    assert (fabric.dsp, fabric.ffs) == (1, 72)


def test_hw_verilog_writes_the_generic_or_the_family_elaboration(tmp_path):
    import argparse

    from codesign.flows import cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    config = tmp_path / "small.yaml"
    config.write_text("cores: 1\nneurons_per_core: 64\ncrossbar:\n  tiles: 0\n")
    texts = {}
    for family in (None, "ecp5"):
        out = tmp_path / str(family)
        args = parser.parse_args(["hw", "verilog", "--hw", str(config), "-o", str(out)]
                                 + (["--family", family] if family else []))
        assert args.handler(args) == 0
        texts[family] = (out / "accelerator.v").read_text()
    assert "MULT18X18D" not in texts[None]
    assert texts["ecp5"].count("MULT18X18D #(") == 9  # the neuron unit's partial products
