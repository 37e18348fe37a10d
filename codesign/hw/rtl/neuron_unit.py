"""Pipelined neuron-update unit: the programmable control part of a hybrid core.

One neuron enters per cycle (``neuron_valid``); ``latency`` cycles later its new state and spike
leave (``result_valid``). The datapath is :func:`codesign.arithmetic.update_current`,
``update_voltage``, ``fire_and_reset`` and ``update_adaptation`` called on Amaranth values with
``select=Mux``; :class:`ExpressionPipeliner` places the registers in the whole update (registered
multipliers, at most ``max_depth`` carry chains between registers, sums added in the order their
terms become ready), so the unit reaches >= 100 MHz on ECP5 while computing exactly what the
golden model computes.

The *profile* (``parameters``: every NeuronParameters field except the per-neuron ``bias``)
selects the model at run time and must be held stable while neurons are in flight: the sweep
changes it only between segments, after the pipeline has drained. This keeps ~200 parameter bits
out of every pipeline stage.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from codesign import arithmetic
from codesign.arch.layout import bits_for, parameter_fields, state_fields
from codesign.hw.lib.retiming import ExpressionPipeliner
from codesign.hw.rtl.layouts import struct_layout

#: ``dsp_bits`` (the ``neuron_dsp_bits`` knob) -> the widest narrower operand of a partial
#: product built in LUTs. 18 (ECP5 MULT18X18D): none. 16 (iCE40 SB_MAC16): operands under 8 bits,
#: which would use under half of a 16 x 16 block; this keeps tiny.yaml's unit at 7 SB_MAC16.
LUT_PRODUCT_BITS = {18: 0, 16: 7}
#: ``dsp_bits`` -> registers after each DSP product. 18 (ECP5): two, because in a whole
#: accelerator the MULT18X18D blocks are placed rows away from their consumers and the
#: multiplier plus both routes did not fit one 10 ns cycle; 16 (iCE40, flip-flops scarce): one.
PRODUCT_REGISTERS = {18: 2, 16: 1}
#: ``dsp_bits`` -> whether each DSP product registers its operands and its product in the DSP
#: block (:mod:`codesign.hw.lib.dsp_block`; the first of ``PRODUCT_REGISTERS``). 18 (ECP5): yes, in
#: the MULT18X18D's own registers; 16: no.
DSP_BLOCK_REGISTERS = {18: True, 16: False}


class NeuronUnit(wiring.Component):
    """Fixed-latency pipelined ``arithmetic.neuron_step``.

    Ports:

    * ``neuron_valid``, ``neuron`` (``tag``, ``synaptic_input``, ``voltage``, ``current``,
      ``adaptation``, ``bias``): one neuron per cycle; ``tag`` travels along unchanged.
    * ``parameters``: the profile (stable while neurons are in flight, and set no later than
      the first neuron's ``neuron_valid``).
    * ``result_valid``, ``result`` (``tag``, ``voltage``, ``current``, ``adaptation``,
      ``spike``, ``rest``): ``latency`` cycles after the input. ``rest`` (with ``rest_flag``,
      else 0): the input was 0, the state did not change and there was no spike, so the same
      neuron with input 0 would compute the same again (the update is a function of the state,
      the input and the parameters).
    * ``spike_valid``, ``spike``: the same spike ``spike_latency`` cycles after the input, as
      soon as the threshold test is done (the state takes a few more cycles: reset and
      adaptation), so the spike can leave the core before the state is written back.
    """

    def __init__(self, *, state_bits: int, accumulator_bits: int, tag_bits: int = 8,
                 max_depth: float = 1.5, dsp_bits: int = 18, parameter_register: bool = True,
                 rest_flag: bool = False):
        if dsp_bits not in LUT_PRODUCT_BITS:
            raise ValueError(f"dsp_bits must be one of {sorted(LUT_PRODUCT_BITS)}")
        self.state_bits = state_bits
        self.accumulator_bits = accumulator_bits
        self.max_depth = max_depth
        self.dsp_bits = dsp_bits
        self.parameter_register = parameter_register
        self.rest_flag = rest_flag
        bias_bits, _ = arithmetic.parameter_widths(state_bits)["bias"]
        state = {name: signed(state_bits) for name, _, _ in state_fields(state_bits).fields}
        self.input_layout = data.StructLayout({
            "tag": unsigned(tag_bits), "synaptic_input": signed(accumulator_bits), **state,
            "bias": signed(bias_bits)})
        self.output_layout = data.StructLayout({"tag": unsigned(tag_bits), **state,
                                                "spike": unsigned(1), "rest": unsigned(1)})
        self.profile_layout = struct_layout(parameter_fields(state_bits, include_bias=False))
        super().__init__({
            "neuron_valid": In(1),
            "neuron": In(self.input_layout),
            "parameters": In(self.profile_layout),
            "result_valid": Out(1),
            "result": Out(self.output_layout),
            "spike_valid": Out(1),
            "spike": Out(1),
        })
        # Build once on a scratch module to learn the latencies before elaboration.
        scratch = Module()
        self.latency, self.spike_latency = self._build(scratch)
        scratch._MustUse__used = True  # the scratch module is intentionally discarded

    @classmethod
    def from_config(cls, config: Any, tag_bits: int | None = None) -> "NeuronUnit":
        """Sized for an ``HWConfig``; the tag holds a neuron index unless told otherwise."""
        return cls(state_bits=config.state_bits,
                   accumulator_bits=arithmetic.accumulator_bits(config.weight_bits),
                   tag_bits=tag_bits if tag_bits is not None else bits_for(config.neurons_per_core),
                   max_depth=config.neuron_stage_depth, dsp_bits=config.neuron_dsp_bits,
                   parameter_register=config.timing_registers,
                   rest_flag=config.skip_resting)

    @classmethod
    def latency_of(cls, config: Any) -> int:
        """Pipeline depth of the unit for an ``HWConfig``, from a unit built only for that."""
        return cls.latencies_of(config)[0]

    @classmethod
    def latencies_of(cls, config: Any) -> tuple[int, int]:
        """``(latency, spike_latency)`` of the unit for an ``HWConfig``."""
        unit = cls.from_config(config)
        unit._MustUse__used = True  # never elaborated: no UnusedElaboratable warning
        return unit.latency, unit.spike_latency

    def _build(self, m: Module, platform=None) -> tuple[int, int]:
        """Adds the datapath to ``m`` (``platform`` picks DSP primitives); returns its latency
        and its spike latency in cycles, the same on every platform."""
        profile = self.parameters
        if self.parameter_register:
            # The unit's own copy of the profile, loaded with the registered inputs: the profile
            # register upstream feeds only this copy, and the copy's bits sit by the multipliers
            # and comparators they feed (a MULT18X18D has no input register of its own here).
            profile = Signal(self.profile_layout, reset_less=True)
            m.d.sync += profile.eq(self.parameters)
        pipe = ExpressionPipeliner(m, static=[Value.cast(profile)],
                                   max_depth=self.max_depth, name="neuron",
                                   dsp_bits=self.dsp_bits,
                                   lut_product_bits=LUT_PRODUCT_BITS[self.dsp_bits],
                                   product_registers=PRODUCT_REGISTERS[self.dsp_bits],
                                   dsp_block_registers=DSP_BLOCK_REGISTERS[self.dsp_bits],
                                   platform=platform,
                                   reset_less=True)
        # Every input is registered first: the unit's timing does not depend on its driver.
        registered = {name: pipe.register(self.neuron[name]) for name in
                                 ("synaptic_input", "voltage", "current", "adaptation", "bias")}
        parameters = arithmetic.NeuronParameters(
            bias=registered["bias"],
            **{name: profile[name] for name, _, _ in
               parameter_fields(self.state_bits, include_bias=False).fields})
        bits = self.state_bits

        # Each saturated result is cut to ``bits`` (exact: saturation bounds it), so the next
        # stage multiplies and compares a bits-wide value, not the sum's full width (the
        # current-gain product is 26 x bits; the voltage's saturation compares ~45 bits, not 80).
        # The stages are one expression: the pipeliner places the registers (a stage's result
        # feeds the next stage's DSP operand registers directly).
        current = arithmetic.update_current(
            parameters, registered["current"], registered["synaptic_input"], bits, Mux
        )[:bits].as_signed()
        voltage = arithmetic.update_voltage(
            parameters, registered["voltage"], current, bits, Mux)[:bits].as_signed()
        voltage, spike = arithmetic.fire_and_reset(parameters, voltage, registered["adaptation"],
                                                   bits, Mux)
        early_spike = pipe.register(spike)
        spike_latency = pipe.cycle_of(early_spike)
        adaptation = arithmetic.update_adaptation(parameters, registered["adaptation"], spike,
                                                  bits, Mux)

        outputs = [voltage, current, adaptation, spike]
        if self.rest_flag:
            outputs.append((registered["synaptic_input"] == 0) & ~spike
                           & (current == registered["current"])
                           & (voltage == registered["voltage"])
                           & (adaptation == registered["adaptation"]))
        aligned, latency = pipe.align(outputs)
        voltage, current, adaptation, spike = aligned[:4]
        rest = aligned[4] if self.rest_flag else 0
        # Valid and tag ride along in a plain shift register of the same length; only the valid
        # bits are reset (the datapath registers are reset-less, see ExpressionPipeliner).
        valid, tag = self.neuron_valid, self.neuron.tag
        for stage in range(latency):
            next_valid = Signal(name=f"valid_{stage}")
            next_tag = Signal(len(self.neuron.tag), name=f"tag_{stage}", reset_less=True)
            m.d.sync += [next_valid.eq(valid), next_tag.eq(tag)]
            valid, tag = next_valid, next_tag
            if stage + 1 == spike_latency:
                m.d.comb += [self.spike_valid.eq(valid), self.spike.eq(early_spike)]
        m.d.comb += [
            self.result_valid.eq(valid),
            self.result.tag.eq(tag),
            self.result.voltage.eq(voltage),
            self.result.current.eq(current),
            self.result.adaptation.eq(adaptation),
            self.result.spike.eq(spike),
            self.result.rest.eq(rest),
        ]
        return latency, spike_latency

    def elaborate(self, platform) -> Module:
        m = Module()
        self._build(m, platform)
        return m
