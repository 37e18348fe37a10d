"""The accelerator's top level: host interface, phase sequencer, router, cores and crossbar tiles.

::

    command ──► HostInterface ──program/read──► cores, tiles, router table, phase table
    response ◄──┘   │ input events ──► Router ◄── spikes_out ── Core k ◄── events ── Router
                    │ ◄── output events ─┘                        │ crossbar_rows / sums
                    └─ step_start/done ─► Sequencer ─fire/convert─► cores / CrossbarTile j

Crossbar tile ``j`` is attached to core ``j % cores``. A core with several tiles numbers their
rows one after the other (the core's crossbar row ``r`` is row ``r - i * rows`` of its ``i``-th
tile), and its tiles' results are merged by fixed priority (they are converted in a phase whose
barrier waits for all of them). Result ``index`` of a tile is added to neuron
``target_base + index`` of its core in the accumulator bank of ``delay``; both are top-level
registers of the tile's unit (host_driver.TILE_TARGET_BASE_REGISTER / TILE_DELAY_REGISTER).

The only ports are the host streams: everything, programs included, goes through them.
"""

from __future__ import annotations

import operator
from functools import reduce

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from codesign.arch import protocol
from codesign.arch.config import HWConfig
from codesign.arch.layout import AcceleratorSizes, CoreLayout
from codesign.hw.lib.replicas import MAX_REPLICAS, replicas
from codesign.hw.lib.stream_pipe import StreamPipe
from codesign.hw.lib.stream_register import StreamRegister
from codesign.hw.rtl.core import Core
from codesign.hw.rtl.crossbar_tile import CrossbarTile
from codesign.hw.rtl.host_interface import HostInterface, register_writes
from codesign.hw.rtl.router import INTAKE_COPIES, Router
from codesign.hw.rtl.sequencer import Sequencer

#: Forward registers of the credit-based pipes between the host-stream pins and the host
#: interface (each way; the credits return through as many).
HOST_PIPE_STAGES = 3


def _host(config: HWConfig) -> HostInterface:
    sizes = AcceleratorSizes.from_config(config)
    return HostInterface(
        host_width=config.host_width, write_data_bits=sizes.write_data_bits,
        read_data_bits=sizes.read_data_bits, input_buffer_depth=sizes.input_buffer_depth,
        output_buffer_depth=sizes.output_buffer_depth, registered_ready=config.timing_registers)


def _router(config: HWConfig) -> Router:
    sizes = AcceleratorSizes.from_config(config)
    return Router(
        cores=config.cores, queue_depth=config.router_queue_depth,
        table_entries=sizes.routing_table_entries, write_data_bits=sizes.write_data_bits,
        stall_free=config.timing_registers, write_register=config.timing_registers,
        split_compare=config.timing_registers,
        intake_copies=INTAKE_COPIES if config.timing_registers else 1)


def _sequencer(config: HWConfig) -> Sequencer:
    sizes = AcceleratorSizes.from_config(config)
    return Sequencer(
        cores=config.cores, tiles=sizes.tiles, segment_bits=sizes.segment_bits,
        phase_table_depth=sizes.phase_table_depth, delay_slots=config.delay_slots,
        write_data_bits=sizes.write_data_bits, registered_writes=config.timing_registers)


def _core(config: HWConfig) -> Core:
    sizes = AcceleratorSizes.from_config(config)
    return Core(CoreLayout.from_config(config), sizes.write_data_bits, sizes.read_data_bits)


def _tile(config: HWConfig) -> CrossbarTile:
    return CrossbarTile.from_config(config,
                                    write_data_bits=AcceleratorSizes.from_config(config)
                                    .write_data_bits)


def memory_parts(config: HWConfig) -> list[tuple[wiring.Component, int]]:
    """The accelerator's parts that can hold memories, each with how many the top level
    instantiates (every core is the same, every tile too), so the resource model counts block
    RAM by elaborating one core and one tile rather than all of them. The command and response
    pipes are the only memories of the top level itself."""
    parts = [(_host(config), 1), (_router(config), 1), (_sequencer(config), 1),
             (_core(config), config.cores)]
    tiles = AcceleratorSizes.from_config(config).tiles
    if tiles:
        parts.append((_tile(config), tiles))
    if config.timing_registers:
        parts.append((StreamPipe(config.host_width, HOST_PIPE_STAGES), 2))
    return parts


class Accelerator(wiring.Component):
    """The whole accelerator for one :class:`HWConfig`.

    Ports: ``command`` (In) and ``response`` (Out), ``amaranth.lib.stream`` of
    ``config.host_width`` bits carrying the host protocol (docs/hardware.md, "Host interface
    protocol"); ``running`` (Out) is high while a timestep runs, one cycle late (for a board LED).
    """

    def __init__(self, config: HWConfig):
        self.config = config
        self.layout = CoreLayout.from_config(config)
        self.sizes = AcceleratorSizes.from_config(config)
        super().__init__({
            "command": In(stream.Signature(config.host_width)),
            "response": Out(stream.Signature(config.host_width)),
            "running": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        host, router, sequencer, cores, tiles = self._units(m)
        # Every stream between two components (or a pin and a component) passes registers
        # (``_host_pipes``, ``_link``); those of the event links join the phase barrier.
        links: list[StreamRegister] = []
        self._host_pipes(m, host)
        # Program loading and read-back: each unit's number and program port.
        units = ([(protocol.core_unit(index), core.program) for index, core in enumerate(cores)]
                 + [(protocol.tile_unit(index), tile.program) for index, tile in enumerate(tiles)]
                 + [(protocol.ROUTER_UNIT, router.table_write),
                    (protocol.SEQUENCER_UNIT, sequencer.program)])
        self._program_buses(m, host.program, units)
        self._read_back(m, host.read, cores)

        # Events: cores <-> router <-> host.
        for index, core in enumerate(cores):
            self._link(m, links, f"spikes_link_{index}", core.spikes_out,
                       router.core_events_in[index])
            self._link(m, links, f"events_link_{index}", router.core_events_out[index],
                       core.events_in)
        self._link(m, links, "input_link", host.input_events, router.host_events_in)
        self._link(m, links, "output_link", router.host_events_out, host.output_events)
        for index, core in enumerate(cores):
            self._attach_tiles(m, core, [(number, tile) for number, tile in enumerate(tiles)
                                         if number % self.config.cores == index], links)

        self._control(m, host, router, sequencer, cores, tiles, links)
        counters = [sequencer.last_step_cycles, sequencer.total_cycles, router.deliveries,
                    self._synaptic_events(m, cores), sequencer.timestep]
        assert len(counters) == len(protocol.COUNTER_NAMES)
        for port, value in zip(host.counters, counters):
            m.d.comb += port.eq(value)
        return m

    def _units(self, m: Module) -> tuple[HostInterface, Router, Sequencer, list[Core],
                                          list[CrossbarTile]]:
        """The accelerator's units, sized by the configuration, as submodules."""
        config, sizes = self.config, self.sizes
        host = m.submodules.host = _host(config)
        router = m.submodules.router = _router(config)
        sequencer = m.submodules.sequencer = _sequencer(config)
        cores = []
        for index in range(config.cores):
            core = _core(config)
            m.submodules[f"core_{index}"] = core
            cores.append(core)
        tiles = []
        for index in range(sizes.tiles):
            tile = _tile(config)
            m.submodules[f"tile_{index}"] = tile
            tiles.append(tile)
        return host, router, sequencer, cores, tiles

    def _link(self, m: Module, links: list[StreamRegister], name: str, source: stream.Interface,
              sink: stream.Interface) -> None:
        """Connect the event stream ``source`` to ``sink`` through a register slice, which is
        part of the phase barrier (appended to ``links``).

        No combinational path then crosses from one component into the other (valid/payload
        into a block-RAM address, ready back through an arbiter)."""
        if not self.config.timing_registers:   # small parts at low clocks: a plain connection
            wiring.connect(m, source, sink)
            return
        register = m.submodules[name] = StreamRegister(source.payload.shape())
        wiring.connect(m, source, register.i)
        links.append(register)
        wiring.connect(m, register.o, sink)

    def _host_pipes(self, m: Module, host: HostInterface) -> None:
        """The host-stream pins to and from the host interface.

        The pins sit at the die's edge, far from the host's decoder (unconstrained, nextpnr
        puts the command and response pins on opposite sides): credit-based pipes, whose only
        backward signal is a credit, let the placer spread their registers over the distance
        (host commands are not counted in step cycles)."""
        for name, source, sink in (("command_pipe", wiring.flipped(self.command), host.command),
                                   ("response_pipe", host.response,
                                    wiring.flipped(self.response))):
            if self.config.timing_registers:
                pipe = m.submodules[name] = StreamPipe(source.payload.shape(), HOST_PIPE_STAGES)
                wiring.connect(m, source, pipe.i)
                source = pipe.o
            wiring.connect(m, source, sink)

    def _program_buses(self, m: Module, program: wiring.PureInterface,
                       units: list[tuple[int, wiring.PureInterface]]) -> None:
        """Program loading: the host's write bus to each ``(unit number, program port)``.

        Every unit gets its own registered copy of the bus, loaded only while it is addressed,
        so the host's write word never fans out combinationally across the whole die (and the
        copies differ, so synthesis cannot merge them back). Without timing registers the units
        share the host's bus (its word is a register already)."""
        for unit, port in units:
            if not self.config.timing_registers:
                addressed = program.unit == unit
                m.d.comb += [port.enable.eq(program.enable & addressed), port.unit.eq(program.unit),
                             port.memory.eq(program.memory), port.address.eq(program.address),
                             port.data.eq(program.data)]
                continue
            # The unit compare is registered, so the host's unit register feeds one comparator
            # per unit instead of the enables of every copy across the die. A command sets the
            # unit in its header at least three cycles before its first write (ADDRESS, COUNT
            # and a data field come between).
            # The compare has replicas, each the clock enable of a quarter of the copy (a
            # core's copy is ~220 bits: one enable flip-flop could not sit near all of them).
            addressed = replicas(m, program.unit == unit, MAX_REPLICAS,
                                 f"unit_{unit}_addressed", reset_less=False)
            m.d.sync += port.enable.eq(program.enable & addressed[0])
            # The word's copy needs no reset (``enable`` qualifies it): no LSR on its flip-flops.
            bus = Cat(program.unit, program.memory, program.address, program.data)
            copy = Signal(len(bus), reset_less=True, name=f"unit_{unit}_bus")
            quarter = -(-len(bus) // len(addressed))
            for index, enable in enumerate(addressed):
                part = slice(index * quarter, (index + 1) * quarter)
                with m.If(enable):
                    m.d.sync += copy[part].eq(bus[part])
            m.d.comb += Cat(port.unit, port.memory, port.address, port.data).eq(copy)

    def _read_back(self, m: Module, read: wiring.PureInterface, cores: list[Core]) -> None:
        """Read-back: the addressed core answers; any other unit answers 0 so READ_STATE ends."""
        config = self.config
        addressed_core = Cat(read.unit == protocol.core_unit(index)
                             for index in range(config.cores))
        if config.timing_registers:
            # Registered like the write side's unit compare (READ_STATE's header comes at least
            # two cycles before its first read: ADDRESS and COUNT).
            addressed_now, addressed_core = addressed_core, Signal(config.cores)
            m.d.sync += addressed_core.eq(addressed_now)
        other_unit_valid = Signal()
        m.d.sync += other_unit_valid.eq(read.enable & ~addressed_core.any())
        answers = []
        for index, core in enumerate(cores):
            m.d.comb += [core.read.unit.eq(read.unit), core.read.memory.eq(read.memory),
                         core.read.address.eq(read.address),
                         core.read.enable.eq(read.enable & addressed_core[index])]
            answers.append((core.read.valid, core.read.data))
        # The answer is registered on its way back to the host interface (with timing registers).
        answer_domain = m.d.sync if config.timing_registers else m.d.comb
        answer_domain += [
            read.valid.eq(other_unit_valid | Cat(valid for valid, _ in answers).any()),
            read.data.eq(reduce(operator.or_, [Mux(valid, data, 0) for valid, data in answers])),
        ]

    def _control(self, m: Module, host: HostInterface, router: Router, sequencer: Sequencer,
                 cores: list[Core], tiles: list[CrossbarTile],
                 links: list[StreamRegister]) -> None:
        """Control: host -> sequencer -> cores and tiles, and the phase barrier back.

        The barrier's inputs are registered (the sequencer tests it SETTLE_CYCLES after a
        pulse, so the lag is covered): the AND over every unit's status never shares a cycle
        with the units' own logic. An event held in a link register counts as the router's."""
        router_idle = Signal()
        input_busy = Signal()
        m.d.sync += [
            router_idle.eq(router.idle & ~Cat(register.occupied for register in links).any()),
            input_busy.eq(host.input_busy),
        ]
        m.d.comb += [
            sequencer.start.eq(host.step_start),
            host.step_done.eq(sequencer.done),
            host.input_play.eq(sequencer.input_play),
            sequencer.input_busy.eq(input_busy),
            sequencer.router_idle.eq(router_idle),
        ]
        # Registered: it drives a pin (a board LED), and a combinational OR of every unit's
        # busy flag would be a path from the far corners of the die to the pad.
        m.d.sync += self.running.eq(host.step_start | sequencer.cores_busy.any() | ~router_idle
                                    | input_busy)
        for index, core in enumerate(cores):
            m.d.comb += [core.fire.eq(sequencer.fire[index]), core.segment.eq(sequencer.segment),
                         core.timestep_slot.eq(sequencer.timestep_slot),
                         core.clear.eq(sequencer.clear)]
            m.d.sync += [sequencer.cores_busy[index].eq(core.busy),
                         sequencer.cores_settled[index].eq(core.settled)]
        for index, tile in enumerate(tiles):
            m.d.comb += tile.convert.eq(sequencer.convert[index])
            m.d.sync += sequencer.tiles_busy[index].eq(tile.busy)

    def _attach_tiles(self, m: Module, core: Core, tiles: list[tuple[int, CrossbarTile]],
                      links: list[StreamRegister]) -> None:
        """Rows from the core to its tiles; tile results into the core's crossbar sums. Each
        tile's rows and results pass a register slice (appended to ``links``)."""
        rows = core.crossbar_rows
        if not tiles:
            m.d.comb += [rows.ready.eq(1), core.crossbar_sums.valid.eq(0)]
            return
        tile_rows = self.config.crossbar.rows
        sums = core.crossbar_sums
        granted = Signal(len(tiles))
        for position, (number, tile) in enumerate(tiles):
            row_link = m.submodules[f"row_link_{number}"] = StreamRegister(
                tile.row_events.payload.shape())
            result_link = m.submodules[f"result_link_{number}"] = StreamRegister(
                tile.results.payload.shape())
            links += [row_link, result_link]
            wiring.connect(m, row_link.o, tile.row_events)
            wiring.connect(m, tile.results, result_link.i)

            low = position * tile_rows
            mine = (rows.payload >= low) & (rows.payload < low + tile_rows)
            m.d.comb += [row_link.i.payload.eq(rows.payload - low),
                         row_link.i.valid.eq(rows.valid & mine)]
            with m.If(mine):
                m.d.comb += rows.ready.eq(row_link.i.ready)

            target_base = Signal(self.layout.neuron_index_bits, name=f"tile_{number}_target_base")
            delay = Signal(self.layout.delay_bits, name=f"tile_{number}_delay")
            strobes, data = register_writes(
                m, tile.program, protocol.TILE_REGISTERS,
                [protocol.TILE_TARGET_BASE_REGISTER, protocol.TILE_DELAY_REGISTER],
                f"tile_{number}_registers", self.config.timing_registers)
            for strobe, target in zip(strobes, [target_base, delay]):
                with m.If(strobe):
                    m.d.sync += target.eq(data)

            # Fixed priority: the first tile with a result wins this cycle.
            results = result_link.o
            first_with_result = results.valid & ~granted[:position].any() if position \
                else results.valid
            with m.If(first_with_result):
                m.d.comb += [granted[position].eq(1),
                             sums.payload.target.eq(target_base + results.payload.index),
                             sums.payload.value.eq(results.payload.value),
                             sums.payload.delay.eq(delay),
                             results.ready.eq(sums.ready)]
        # Rows beyond the attached tiles are dropped rather than blocking the core.
        in_range = rows.payload < len(tiles) * tile_rows
        with m.If(~in_range):
            m.d.comb += rows.ready.eq(1)
        m.d.comb += sums.valid.eq(granted.any())

    @staticmethod
    def _synaptic_events(m: Module, cores: list[Core]) -> Signal:
        """Sum of the cores' ``synaptic_events`` counters (wraps at 2^32 like each of them),
        registered: the adder tree stays off the host's response path."""
        total = Signal(32)
        m.d.sync += total.eq(sum(core.synaptic_events for core in cores))
        return total
