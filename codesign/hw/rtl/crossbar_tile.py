"""Behavioural ReRAM crossbar tile, emulated on FPGA fabric and block RAM.

The arithmetic (bit slicing, device variation, ADC, shift-add recombination) is the one definition
in :mod:`codesign.arithmetic` (section "ReRAM crossbar"); this file only schedules it.

Ports (all in the ``sync`` domain):

* ``program`` (:class:`~codesign.hw.rtl.host_interface.ProgramWriteSignature`, no back-pressure; the
  top level decodes ``unit``):

  - memory ``CELL_MEMORY``: ``address`` = ``arithmetic.crossbar_cell_address(row, column, rows)``,
    ``data`` = the cell's level (low ``cell_bits`` bits). The tile turns the level into a
    conductance with ``arithmetic.cell_conductance`` and the cell's own PRNG sample
    (``variation_state`` / ``variation_sample`` keyed by the address, so write order does not
    matter). Addresses outside the tile are ignored. A write is stored ``program_latency`` cycles
    later (set when the tile elaborates; ``busy`` is high meanwhile).
  - memory ``REGISTER_MEMORY``, address ``ADC_SHIFT_REGISTER``: ``adc_shift`` (low
    ``adc_shift_bits`` bits; the compiler keeps it <= ``arithmetic.max_adc_shift``).

  Program only while ``busy`` is low; ``adc_shift`` must not change during a conversion.
* ``row_events`` (stream of row numbers): a spike on a row. Rows are binary: a row that is already
  active, or a number >= ``rows``, is dropped. An accepted event is in flight for two cycles
  (``busy`` is high) before it counts as active. Not ready while a conversion or a cell write
  keeps ``busy`` high, in the cycle of ``convert`` and the one after, nor in the cycle after a
  conversion ends; events in flight do not lower ``ready``.
* ``convert`` (strobe): convert the active rows. Ignored while ``busy`` (wait for it to fall
  after the last row event, as the sequencer's barrier does) or when no row is active (then
  nothing is emitted). ``busy`` rises the cycle after ``convert`` and falls when the last result
  has been accepted; the active rows are cleared by the conversion.
* ``results`` (stream of ``index``, ``value``): one result per output, ``index`` = 0 .. outputs-1
  in order, ``value`` = ``arithmetic.crossbar_matvec(...)[index]`` (signed, ``output_bits``), to
  be added into the accumulator of the neuron the core maps ``index`` to. Outputs the layer does
  not use hold level-0 cells and always give 0. Back-pressure stalls the whole pipeline.

Conversion is event driven. One block RAM word holds the 2S cells of one (output, row), so for
each output the words of the active rows are streamed (one per cycle) into 2S column
accumulators; the finished column sums then pass, one column per cycle, through the ADC and the
shift-add into the output's total while the next output accumulates. Without back-pressure
``busy`` stays high for :func:`conversion_cycles` cycles after ``convert``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from codesign import arithmetic
from codesign.arch import protocol
from codesign.arch.layout import bits_for
from codesign.errors import CodesignError
from codesign.hw.lib.retiming import ExpressionPipeliner
from codesign.hw.rtl.host_interface import ProgramWriteSignature

#: ``program.memory`` of the cell levels, of the tile's registers, and the register address of
#: ``adc_shift`` (the host protocol's numbers).
CELL_MEMORY = protocol.TILE_CELLS
REGISTER_MEMORY = protocol.TILE_REGISTERS
ADC_SHIFT_REGISTER = protocol.TILE_ADC_SHIFT_REGISTER


#: Pipeline fill and drain of a conversion (see :func:`conversion_cycles`).
CONVERT_FIXED_CYCLES = 9


def conversion_cycles(output_count: int, lanes: int, active_rows: int) -> int:
    """Cycles ``busy`` stays high after ``convert`` when the results are taken at once: every
    output but the last takes max(active_rows, 2S) cycles (reads, or the column converter); the
    last one its reads, then 2S columns through the converter. 0 without active rows."""
    if active_rows == 0:
        return 0
    return ((output_count - 1) * max(active_rows, lanes) + active_rows + lanes
            + CONVERT_FIXED_CYCLES)


class _OutputWalk(NamedTuple):
    """Stage 0 of a conversion (``CrossbarTile._walk_outputs``): the output whose words are
    read, at ``step`` of its period, from ``word_base``; ``clear_rows`` after the last one."""
    running: Signal
    clear_rows: Signal
    output_index: Signal
    word_base: Signal
    step: Signal


class _Pipeline:
    """The conversion pipeline's stages after stage 0, which all move on ``advance``; the
    valid flags of its stages (``valids``) make the tile busy."""

    def __init__(self, m: Module, advance: Signal):
        self.m = m
        self.advance = advance
        self.valids: list[Signal] = []

    def stage(self, values: dict[str, Any], valid: Any) -> tuple[dict[str, Signal], Signal]:
        """Registers ``values`` and ``valid`` whenever the pipeline advances (only ``valid``
        is reset: the values are qualified by it, and reset-less flip-flops need no LSR)."""
        number = len(self.valids) + 1
        registered = {name: Signal(Value.cast(value).shape(), name=f"{name}_{number}",
                                   reset_less=True)
                      for name, value in values.items()}
        valid_register = Signal(name=f"valid_{number}")
        with self.m.If(self.advance):
            self.m.d.sync += [registered[name].eq(value) for name, value in values.items()]
            self.m.d.sync += valid_register.eq(valid)
        self.valids.append(valid_register)
        return registered, valid_register

    @staticmethod
    def carry(registered: dict[str, Signal], *names: str) -> dict[str, Signal]:
        """The values ``names`` of a stage, to register again in the next one."""
        return {name: registered[name] for name in names}


class CrossbarTile(wiring.Component):
    """One behavioural ReRAM crossbar tile; see the module docstring for the protocol."""

    def __init__(self, *, rows: int, cols: int, weight_bits: int, cell_bits: int, adc_bits: int,
                 variation_sigma: float = 0.0, variation_seed: int = 1,
                 write_data_bits: int = 32):
        # A tile that fails to build is not an unused design: no UnusedElaboratable warning.
        self._MustUse__silence = True
        if not 1 <= cell_bits <= weight_bits:
            raise CodesignError(f"crossbar cell_bits = {cell_bits} is not allowed",
                                f"use cell_bits in 1..weight_bits ({weight_bits})")
        self.rows = rows
        self.cols = cols
        self.weight_bits = weight_bits
        self.cell_bits = cell_bits
        self.adc_bits = adc_bits
        if not 0 <= variation_seed < 2**32:
            raise CodesignError(f"crossbar variation_seed = {variation_seed} is not allowed",
                                "use an integer in 0..4294967295")
        self.variation_seed = variation_seed
        self.variation_scale = arithmetic.variation_scale(variation_sigma)
        self.slices = arithmetic.crossbar_slices(weight_bits, cell_bits)
        self.output_count = arithmetic.crossbar_outputs(cols, weight_bits, cell_bits)
        if self.output_count < 1:
            raise CodesignError(
                f"a crossbar tile of {cols} columns cannot hold one {weight_bits}-bit weight, "
                f"which needs {2 * self.slices} columns of {cell_bits}-bit cells",
                f"use crossbar.cols >= {2 * self.slices} or larger crossbar.cell_bits")
        #: Columns per output (2S), which are the lanes of one block RAM word.
        self.lanes = 2 * self.slices
        self.used_columns = self.output_count * self.lanes
        self.depth = rows * self.used_columns
        # Ideal devices: every conductance is level << G, so the block RAM stores only levels.
        self.stored_bits = (arithmetic.conductance_bits(cell_bits) if self.variation_scale
                            else cell_bits)
        self.max_adc_shift = arithmetic.max_adc_shift(rows, cell_bits, adc_bits)
        self.adc_shift_bits = bits_for(self.max_adc_shift + 1)
        self.output_bits = arithmetic.crossbar_output_bits(rows, cols, weight_bits, cell_bits,
                                                           adc_bits)
        self.row_bits = bits_for(rows)
        self.result_layout = data.StructLayout({
            "index": unsigned(bits_for(self.output_count)),
            "value": signed(self.output_bits),
        })
        self._MustUse__silence = False
        super().__init__({
            "program": In(ProgramWriteSignature(write_data_bits)),
            "row_events": In(stream.Signature(unsigned(self.row_bits))),
            "convert": In(1),
            "busy": Out(1),
            "results": Out(stream.Signature(self.result_layout)),
        })

    @classmethod
    def from_config(cls, config: Any, write_data_bits: int = 32) -> "CrossbarTile":
        """A tile sized by an ``HWConfig`` (its ``crossbar`` section and ``weight_bits``)."""
        crossbar = config.crossbar
        return cls(rows=crossbar.rows, cols=crossbar.cols, weight_bits=config.weight_bits,
                   cell_bits=crossbar.cell_bits, adc_bits=crossbar.adc_bits,
                   variation_sigma=crossbar.variation_sigma,
                   variation_seed=crossbar.variation_seed, write_data_bits=write_data_bits)

    def elaborate(self, platform) -> Module:
        m = Module()
        # One block RAM word holds the 2S cells of one (output, row): lane k is the column
        # 2S * output + k, so a word read gives every slice of both polarities at once.
        m.submodules.cells = cells = Memory(
            shape=unsigned(self.lanes * self.stored_bits), depth=self.output_count * self.rows,
            init=[])
        m.submodules.active_rows = active_rows = Memory(shape=unsigned(self.row_bits),
                                                        depth=self.rows, init=[])
        adc_shift, adc_rounding, adc_saturation = self._adc_registers(m)
        programming = self._program(m, cells)
        # `working` is `busy` without the row events in flight (see `_activate_rows`).
        working = Signal()
        active_count, active_map, arrived, new_row = self._activate_rows(m, active_rows, working)

        # One global stall: the pipeline moves whenever the result register can take a value.
        advance = Signal()
        m.d.comb += advance.eq(~self.results.valid | self.results.ready)
        busy = Signal()   # `working`, or a row event in flight: no conversion starts
        walk = self._walk_outputs(m, advance, busy, active_count, active_map)

        pipeline = _Pipeline(m, advance)
        fifth, valid_5, sums = self._sum_columns(m, pipeline, cells, active_rows, walk,
                                                 active_count, adc_rounding)
        ninth, valid_9 = self._convert_columns(m, pipeline, fifth, valid_5, sums, walk,
                                               adc_shift, adc_saturation)
        # The output's total; stage 10: the result register.
        total = Signal(signed(self.output_bits), reset_less=True)
        total_next = Mux(ninth["first_column"], 0, total) + ninth["contribution"]
        with m.If(advance & valid_9):
            m.d.sync += total.eq(total_next)
        with m.If(advance):
            m.d.sync += self.results.valid.eq(valid_9 & ninth["last_column"])
            m.d.sync += [
                self.results.payload.index.eq(ninth["output_index"]),
                self.results.payload.value.eq(arithmetic.crossbar_output(total_next, adc_shift)),
            ]

        m.d.comb += [
            working.eq(walk.running | walk.clear_rows | programming | self.results.valid
                       | Cat(*pipeline.valids).any()),
            busy.eq(working | arrived | new_row),
        ]
        m.d.comb += self.busy.eq(busy)
        return m

    @property
    def _largest_shift(self) -> int:
        """The largest ``adc_shift`` its register holds."""
        return (1 << self.adc_shift_bits) - 1

    @property
    def _column_sum_shape(self) -> range:
        """A column sum: every row's largest conductance, plus the ADC's largest rounding half."""
        largest_cell = (1 << arithmetic.conductance_bits(self.cell_bits)) - 1
        return range(self.rows * largest_cell + arithmetic.adc_rounding(self._largest_shift) + 1)

    def _adc_registers(self, m: Module) -> tuple[Signal, Signal, Signal]:
        """``(adc_shift, adc_rounding, adc_saturation)``, loaded by the ``adc_shift`` write.

        The ADC's terms that depend on adc_shift alone are registered with it: the rounding
        half starts every column sum, the saturation threshold is one compare per column."""
        adc_shift = Signal(self.adc_shift_bits)
        adc_rounding = Signal(range(arithmetic.adc_rounding(self._largest_shift) + 1))
        adc_saturation = Signal(range(
            arithmetic.adc_saturation(self._largest_shift, self.adc_bits) + 1))
        with m.If(self.program.enable & (self.program.memory == REGISTER_MEMORY)
                  & (self.program.address == ADC_SHIFT_REGISTER)):
            new_shift = self.program.data[:self.adc_shift_bits]
            m.d.sync += [adc_shift.eq(new_shift),
                         adc_rounding.eq(arithmetic.adc_rounding(new_shift)),
                         adc_saturation.eq(arithmetic.adc_saturation(new_shift, self.adc_bits))]
        return adc_shift, adc_rounding, adc_saturation

    def _activate_rows(self, m: Module, active_rows: Memory,
                       working: Signal) -> tuple[Signal, Signal, Signal, Signal]:
        """Row activation from ``row_events``: ``(active_count, active_map, arrived, new_row)``,
        the last two high while an event is in flight.

        A list of distinct active rows (what the conversion walks) and a bitmap (to keep rows
        binary). An event takes three registered steps, so no path runs from the row link
        through the bitmap's 64:1 mux into the list's write enable: it arrives; its flag is
        read (is the row new?) and set; a new row is appended to the list."""
        active_count = Signal(range(self.rows + 1))
        active_map = Signal(self.rows)
        row_write = active_rows.write_port()
        arrived = Signal()
        arrived_row = Signal(self.row_bits, reset_less=True)
        new_row = Signal()
        new_row_number = Signal(self.row_bits, reset_less=True)
        # `working` is `busy` without the row events in flight (else `ready` would fall after
        # every event). `ready` reads it a cycle late (an OR of a dozen flip-flops). The only
        # rise that matters, the cycle after `convert`, is covered by a registered copy of
        # `convert`; the only cost is one cycle of not-ready after a conversion, which the phase
        # barrier outlasts.
        working_before = Signal()
        convert_before = Signal()
        m.d.sync += [working_before.eq(working), convert_before.eq(self.convert)]
        m.d.comb += self.row_events.ready.eq(~working_before & ~convert_before & ~self.convert)
        m.d.sync += [arrived.eq(self.row_events.valid & self.row_events.ready),
                     arrived_row.eq(self.row_events.payload)]
        # Setting an already set flag changes nothing, so the flag is set before the check's
        # result is used, and the next event (even the same row) reads it up to date.
        in_range = arrived_row < self.rows
        m.d.sync += [new_row.eq(arrived & in_range & ~active_map.bit_select(arrived_row, 1)),
                     new_row_number.eq(arrived_row)]
        with m.If(arrived & in_range):
            m.d.sync += active_map.bit_select(arrived_row, 1).eq(1)
        m.d.comb += [row_write.addr.eq(active_count), row_write.data.eq(new_row_number),
                     row_write.en.eq(new_row)]
        with m.If(new_row):
            m.d.sync += active_count.eq(active_count + 1)
        return active_count, active_map, arrived, new_row

    def _walk_outputs(self, m: Module, advance: Signal, busy: Signal, active_count: Signal,
                      active_map: Signal) -> _OutputWalk:
        """Stage 0, started by ``convert``: the outputs one after the other.

        For each output, read the words of the active rows, then idle until the output has had
        ``period`` = max(active rows, 2S) cycles, so that the column converter (2S cycles per
        output) is free whenever an output's sums are complete. The ends of an output and of
        the conversion are registered flags (``last_step``, ``last_output``) set a step ahead,
        and the active rows are cleared the cycle after the last step (by then ``ready`` is
        long low), so no subtract or compare drives the bitmap's 64 flags."""
        running = Signal()
        output_index = Signal(range(self.output_count))
        word_base = Signal(range(self.output_count * self.rows))
        step = Signal(range(max(self.rows, self.lanes)))
        step_before_last = Signal.like(step)  # period - 2 (period >= 2S >= 2)
        last_step = Signal()
        last_output = Signal()
        clear_rows = Signal()
        m.d.sync += clear_rows.eq(0)
        with m.If(self.convert & ~busy & (active_count != 0)):
            m.d.sync += [running.eq(1), output_index.eq(0), word_base.eq(0), step.eq(0),
                         last_step.eq(0), last_output.eq(self.output_count == 1),
                         step_before_last.eq(Mux(active_count > self.lanes, active_count - 2,
                                                 self.lanes - 2))]
        with m.If(running & advance):
            with m.If(~last_step):
                m.d.sync += [step.eq(step + 1), last_step.eq(step == step_before_last)]
            with m.Else():
                m.d.sync += [step.eq(0), last_step.eq(0), output_index.eq(output_index + 1),
                             word_base.eq(word_base + self.rows),
                             last_output.eq(output_index == self.output_count - 2)]
                with m.If(last_output):
                    m.d.sync += [running.eq(0), clear_rows.eq(1)]
        with m.If(clear_rows):
            m.d.sync += [active_count.eq(0), active_map.eq(0)]
        return _OutputWalk(running, clear_rows, output_index, word_base, step)

    def _sum_columns(self, m: Module, pipeline: _Pipeline, cells: Memory, active_rows: Memory,
                     walk: _OutputWalk, active_count: Signal, adc_rounding: Signal
                     ) -> tuple[dict[str, Signal], Signal, list[Value]]:
        """Stages 1-5: the words of the active rows read and summed into the 2S column sums;
        returns stage 5, its valid and the column sums including its word.

        Every block RAM output is registered before it is used (ECP5 block RAM clock-to-out
        alone is ~6 ns)."""
        stage, carry, advance = pipeline.stage, _Pipeline.carry, pipeline.advance
        step = walk.step
        # Stage 1: the active-row list answers.
        row_read = active_rows.read_port()
        m.d.comb += [row_read.addr.eq(step), row_read.en.eq(advance)]
        row_flags = ("output_index", "first_row", "last_row")
        first, valid_1 = stage({"output_index": walk.output_index, "first_row": step == 0,
                                "last_row": step == active_count - 1,
                                "word_base": walk.word_base},
                               walk.running & (step < active_count))
        second, valid_2 = stage({**carry(first, *row_flags, "word_base"), "row": row_read.data},
                                valid_1)
        # Stage 3: the word address; stage 4: the word answers; stage 5: registered.
        third, valid_3 = stage({**carry(second, *row_flags),
                                "address": second["word_base"] + second["row"]}, valid_2)
        cell_read = cells.read_port()
        m.d.comb += [cell_read.addr.eq(third["address"]), cell_read.en.eq(advance)]
        fourth, valid_4 = stage(carry(third, *row_flags), valid_3)
        fifth, valid_5 = stage({**carry(fourth, *row_flags), "word": cell_read.data}, valid_4)
        # Accumulate the 2S column sums of the output over its active rows, each started at the
        # ADC's rounding half (so the sums are the rounded sums the ADC codes).
        sums_next = []
        for lane in range(self.lanes):
            cell = fifth["word"].word_select(lane, self.stored_bits)
            if not self.variation_scale:
                cell = arithmetic.cell_conductance(cell, 0, self.cell_bits, Mux)
            column_sum = Signal(self._column_sum_shape, name=f"column_sum_{lane}",
                                reset_less=True)
            sums_next.append(Mux(fifth["first_row"], adc_rounding, column_sum) + cell)
            with m.If(advance & valid_5):
                m.d.sync += column_sum.eq(sums_next[-1])
        return fifth, valid_5, sums_next

    def _convert_columns(self, m: Module, pipeline: _Pipeline, fifth: dict[str, Signal],
                         valid_5: Signal, sums_next: list[Value], walk: _OutputWalk,
                         adc_shift: Signal, adc_saturation: Signal
                         ) -> tuple[dict[str, Signal], Signal]:
        """Stages 6-9: an output's finished column sums through the ADC, one column per cycle,
        and the shift-add of their codes; returns stage 9 (``contribution`` to the output's
        total, ``first_column`` / ``last_column``, ``output_index``) and its valid."""
        stage, carry, advance = pipeline.stage, _Pipeline.carry, pipeline.advance
        # Stage 6: an output's finished column sums, held for the converter.
        sum_shape = self._column_sum_shape
        finished = [Signal(sum_shape, name=f"finished_sum_{lane}", reset_less=True)
                    for lane in range(self.lanes)]
        finished_output = Signal.like(walk.output_index)
        lane_index = Signal(range(self.lanes))
        converting = Signal()
        with m.If(advance):
            with m.If(valid_5 & fifth["last_row"]):
                m.d.sync += [register.eq(value) for register, value in zip(finished, sums_next)]
                m.d.sync += [finished_output.eq(fifth["output_index"]), converting.eq(1),
                             lane_index.eq(0)]
            with m.Elif(converting):
                m.d.sync += lane_index.eq(lane_index + 1)
                with m.If(lane_index == self.lanes - 1):
                    m.d.sync += converting.eq(0)
        pipeline.valids.append(converting)
        # Stage 7: one column per cycle, lane k = polarity * S + slice; stage 8: its ADC code.
        column_sum = Signal(sum_shape)
        with m.Switch(lane_index):
            for lane in range(self.lanes):
                with m.Case(lane):
                    m.d.comb += column_sum.eq(finished[lane])
        polarity = lane_index >= self.slices
        column = {"output_index": finished_output, "polarity": polarity,
                  "slice_index": Mux(polarity, (lane_index - self.slices)[:bits_for(self.slices)],
                                     lane_index),
                  "first_column": lane_index == 0, "last_column": lane_index == self.lanes - 1}
        column_flags = tuple(column)
        seventh, valid_7 = stage({**column, "column_sum": column_sum}, converting)
        code = arithmetic.adc_code(seventh["column_sum"], adc_saturation, adc_shift, self.adc_bits,
                                   Mux)[:self.adc_bits]
        eighth, valid_8 = stage({**carry(seventh, *column_flags), "code": code}, valid_7)
        # Stage 9: shift-add recombination into the output's total.
        contribution = arithmetic.slice_contribution(eighth["code"], eighth["polarity"],
                                                     eighth["slice_index"], self.cell_bits, Mux)
        return stage({**carry(eighth, *column_flags), "contribution": contribution}, valid_8)

    def _program(self, m: Module, cells: Memory) -> Value:
        """Cell writes; returns a signal that is high while writes are in flight."""
        program = self.program
        pipe = ExpressionPipeliner(m, max_depth=2.0, name="program")
        # The decoded write is registered first: the tile's timing does not depend on its driver.
        write = first_write = pipe.register(program.enable & (program.memory == CELL_MEMORY)
                                            & (program.address < self.depth))
        address = pipe.register(program.address[:bits_for(self.depth)])
        level = pipe.register(program.data[:self.cell_bits])
        # Cell address = column * rows + row, column = 2S * output + lane.
        column = pipe.register(_divide(address, self.rows, self.depth))
        row = pipe.register((address - _times(column, self.rows))[:self.row_bits])
        output = pipe.register(_divide(column, self.lanes, self.used_columns))
        lane = pipe.register((column - _times(output, self.lanes))[:bits_for(self.lanes)])
        word = pipe.register(_times(output, self.rows) + row)
        if self.variation_scale:
            # Device variation on chip: the cell's PRNG sample, scaled, applied to its level.
            variation = arithmetic.scaled_variation(
                arithmetic.variation_sample(arithmetic.variation_state(
                    address, self.variation_seed, Mux)),
                self.variation_scale)
            stored = arithmetic.cell_conductance(level, variation, self.cell_bits, Mux)
        else:
            stored = level  # ideal devices: the conductance is level << G, rebuilt when read
        (stored, word, lane, write), latency = pipe.align([stored, word, lane, write])
        cell_write = cells.write_port(granularity=self.stored_bits)
        m.d.comb += [cell_write.addr.eq(word),
                     cell_write.data.eq(Cat(*[stored[:self.stored_bits]] * self.lanes))]
        with m.If(write):
            m.d.comb += cell_write.en.eq(1 << lane)
        self.program_latency = latency
        # The writes in flight: the write strobe delayed through every cycle of the pipeline.
        in_flight = [pipe.delay(first_write, cycle) for cycle in range(1, latency + 1)]
        return Cat(*in_flight).any()


def _divide(value: Value, divisor: int, limit: int) -> Value:
    """``value // divisor`` for ``0 <= value < limit``: a shift, or a multiplication by the
    rounded-up reciprocal 2^s / divisor, exact because 2^s > limit * divisor."""
    if divisor & (divisor - 1) == 0:
        return value >> (divisor.bit_length() - 1)
    shift = (limit * divisor).bit_length()
    return (value * -(-(1 << shift) // divisor)) >> shift


def _times(value: Value, factor: int) -> Value:
    """``value * factor``: a shift when ``factor`` is a power of two (no multiplier)."""
    if factor & (factor - 1) == 0:
        return value << (factor.bit_length() - 1)
    return value * factor
