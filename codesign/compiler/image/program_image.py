"""Program image: the versioned, checksummed file ``codesign compile`` writes (docs/program-format.md).

Layout (all integers little-endian)::

    offset  size  field
    0       8     magic  b"CDSGPIMG"
    8       4     format version (FORMAT_VERSION)
    12      4     header size in bytes (HEADER_SIZE)
    16      4     manifest size in bytes (UTF-8 JSON)
    20      4     record field count (32-bit fields of host-protocol WRITE commands)
    24      4     CRC-32 (zlib) of manifest bytes + record bytes
    28      4     CRC-32 of bytes 0..27 (the header itself)
    32      ...   manifest, then the record fields (uint32 each)

The *records* are exactly the command fields the host sends to load the program, built with
:func:`codesign.arch.protocol.encode_write` and the word layouts of :mod:`codesign.arch` (no
format is re-encoded here): core memories, router table, phase table and sequencer registers,
crossbar cells and registers. The *manifest* carries what the host needs around the hardware
(the HWConfig, input/output id maps, population shapes and scales, the mapping report data) and
is never sent to the accelerator.

:func:`load_image` rejects a wrong magic or version, a truncated or over-long file and a bad
checksum with a one-line :class:`~codesign.errors.CodesignError`; :func:`decode_records` checks
every record's framing. :func:`network_from_image` rebuilds the fixed-point network *from the
records* (decoding the memory words), so running the golden model on it checks the image itself.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sparse

from codesign import arithmetic
from codesign.arch import protocol
from codesign.arch.config import HWConfig
from codesign.arch.layout import AcceleratorSizes, CoreLayout, MemorySelect
from codesign.arch.synapse_words import decode_source_entry, encode_source_entry, entry_synapses
from codesign.compiler.layer_ir import (CrossbarBlock, QuantizedNetwork, QuantizedPopulation,
                                        QuantizedProjection)
from codesign.compiler.program import (CoreProgram, MappedProgram, MappingOptions, Phase, Route,
                                       Segment, SourceEntry, TileBlock)
from codesign.errors import CodesignError

MAGIC = b"CDSGPIMG"
#: 2: source-table entries carry ``row_offset`` (HWConfig.shared_rows).
FORMAT_VERSION = 2
HEADER = struct.Struct("<8sIIIIII")
HEADER_SIZE = HEADER.size
REGISTER_BITS = 32


@dataclass
class ProgramImage:
    """A validated image: the HWConfig, the manifest and the WRITE command fields."""

    config: HWConfig
    manifest: dict[str, Any]
    fields: np.ndarray          # uint32

    def to_bytes(self) -> bytes:
        manifest = json.dumps(self.manifest, sort_keys=True).encode()
        body = self.fields.astype("<u4").tobytes()
        crc = zlib.crc32(manifest + body)
        head = HEADER.pack(MAGIC, FORMAT_VERSION, HEADER_SIZE, len(manifest), len(self.fields),
                           crc, 0)
        head = head[:-4] + struct.pack("<I", zlib.crc32(head[:-4]))
        return head + manifest + body


def _bad(path: str, cause: str) -> CodesignError:
    return CodesignError(f"program image {path} is {cause}",
                         "recompile it with `codesign compile ... -o OUT/`")


def parse_image(data: bytes, name: str = "<bytes>") -> ProgramImage:
    """Validate and split an image (see the module docstring for what is rejected)."""
    if len(data) < HEADER_SIZE:
        raise _bad(name, f"truncated: {len(data)} bytes, shorter than its {HEADER_SIZE}-byte header")
    magic, version, header_size, manifest_size, field_count, crc, header_crc = \
        HEADER.unpack_from(data)
    if magic != MAGIC:
        raise _bad(name, f"not a codesign program image (magic {magic!r})")
    if zlib.crc32(data[:HEADER_SIZE - 4]) != header_crc:
        raise _bad(name, "corrupted: header checksum mismatch")
    if version != FORMAT_VERSION:
        raise CodesignError(f"program image {name} has format version {version}, this codesign "
                            f"reads version {FORMAT_VERSION}",
                            "recompile the model with this codesign version")
    expected = header_size + manifest_size + 4 * field_count
    if header_size != HEADER_SIZE or len(data) != expected:
        state = "truncated" if len(data) < expected else "too long"
        raise _bad(name, f"{state}: {len(data)} bytes, the header announces {expected}")
    body = data[header_size:]
    if zlib.crc32(body) != crc:
        raise _bad(name, "corrupted: payload checksum mismatch")
    manifest = json.loads(body[:manifest_size].decode())
    field_array = np.frombuffer(body[manifest_size:], dtype="<u4").astype(np.uint32)
    config = HWConfig.from_dict(manifest["hw"], source=f"{name} (hw)")
    return ProgramImage(config=config, manifest=manifest, fields=field_array)


def load_image(path: str | Path) -> ProgramImage:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CodesignError(f"cannot read program image {path}: {error.strerror}",
                            "pass the output folder of `codesign compile`") from None
    return parse_image(data, str(path))


# -- building --------------------------------------------------------------------------------
def _fields_width(select: MemorySelect, layout: CoreLayout) -> int:
    return layout.words[select].width


def phase_table_bits(config: HWConfig) -> int:
    return config.cores + config.crossbar.tiles + CoreLayout.from_config(config).segment_bits


def build_records(program: MappedProgram) -> list[int]:
    """The WRITE command fields that load ``program`` (see docs/program-format.md for order)."""
    config = program.config
    layout = CoreLayout.from_config(config)
    records: list[int] = []

    def write(unit: int, memory: int, address: int, words: list[int], bits: int) -> None:
        if words:
            records.extend(protocol.encode_write(unit, memory, address, words, bits))

    profile_fields = layout.words[MemorySelect.PROFILES]
    for core, state in enumerate(program.cores):
        unit = protocol.core_unit(core)
        write(unit, MemorySelect.PROFILES, 0, [profile_fields.pack(p) for p in state.profiles],
              profile_fields.width)
        segment_words = []
        for index in range(max(state.segments, default=-1) + 1):
            segment = state.segments.get(index)
            # an index this core does not take part in: an empty-looking entry it never fires
            values = ({"first": segment.local_first,
                       "last": segment.local_first + segment.size - 1,
                       "profile": segment.profile, "base_id": segment.base_id}
                      if segment else {"first": 0, "last": 0, "profile": 0, "base_id": 0})
            segment_words.append(layout.words[MemorySelect.SEGMENTS].pack(values))
        write(unit, MemorySelect.SEGMENTS, 0, segment_words,
              _fields_width(MemorySelect.SEGMENTS, layout))
        write(unit, MemorySelect.BIAS, 0,
              [layout.words[MemorySelect.BIAS].pack({"bias": int(b)})
               for b in state.bias[:state.used_neurons]],
              _fields_width(MemorySelect.BIAS, layout))
        # Only the entries of ids the router delivers to this core are ever looked up, and
        # schedule gives every one of them an entry (empty or not): write those, in runs.
        indices = sorted(state.sources)
        runs = np.split(np.asarray(indices), np.flatnonzero(np.diff(indices) != 1) + 1) \
            if indices else []
        for run in runs:
            write(unit, MemorySelect.SOURCE_TABLE, int(run[0]),
                  [encode_source_entry(layout, state.sources[i].first_word,
                                       state.sources[i].word_count, state.sources[i].crossbar,
                                       state.sources[i].row_offset)
                   for i in run.tolist()], _fields_width(MemorySelect.SOURCE_TABLE, layout))
        write(unit, MemorySelect.SYNAPSES, 0, state.synapse_words,
              _fields_width(MemorySelect.SYNAPSES, layout))
    for block in program.tiles:
        unit = protocol.tile_unit(block.tile)
        rows = config.crossbar.rows
        levels = np.zeros((rows, block.levels.shape[1]), dtype=np.int64)
        levels[:block.levels.shape[0]] = block.levels
        # column-major cell addresses (arithmetic.crossbar_cell_address): one record per tile
        write(unit, protocol.TILE_CELLS, 0, levels.T.ravel().tolist(), config.crossbar.cell_bits)
        _, target_local = program.placement(program.network.projections[block.projection].target)
        write(unit, protocol.TILE_REGISTERS, protocol.TILE_ADC_SHIFT_REGISTER,
              [block.adc_shift, int(target_local[block.targets[0]]),
               program.network.projections[block.projection].delay], REGISTER_BITS)
    # Every entry, unused ones as never-matching ranges (first > last): none of an earlier
    # program's routes may survive.
    unused = protocol.routing_entry(0xFFFF, 0, [], False, config.cores)
    routes = [protocol.routing_entry(r.first_id, r.last_id, r.cores, r.to_host, config.cores)
              for r in program.routes]
    routes += [unused] * (AcceleratorSizes.from_config(config).routing_table_entries - len(routes))
    write(protocol.ROUTER_UNIT, protocol.ROUTING_TABLE, 0, routes,
          protocol.routing_entry_bits(config.cores))
    write(protocol.SEQUENCER_UNIT, protocol.PHASE_TABLE, 0,
          [protocol.phase_entry(p.cores, p.index, p.tiles, config.cores, config.crossbar.tiles,
                                layout.segment_bits) for p in program.phases],
          phase_table_bits(config))
    # phase count, timestep 0, timestep slot 0, then CLEAR (zero every accumulator and state)
    write(protocol.SEQUENCER_UNIT, protocol.SEQUENCER_REGISTERS, protocol.PHASE_COUNT_REGISTER,
          [len(program.phases), 0, 0, 0], REGISTER_BITS)
    return records


def build_manifest(program: MappedProgram) -> dict[str, Any]:
    network = program.network
    return {
        "hw": program.config.to_dict(),
        "weight_bits": network.weight_bits, "state_bits": network.state_bits,
        "dt": network.dt, "reset": network.reset,
        "input": {"name": network.input_name, "shape": list(network.input_shape),
                  "chunks": [list(chunk) for chunk in program.input_chunks]},
        "output": {"name": network.output, "shape": list(network.output_shape)},
        "populations": [{"name": p.name, "shape": list(p.shape), "model": p.model,
                         "spiking": bool(p.spiking), "voltage_scale": p.voltage_scale,
                         "current_scale": p.current_scale, "input_scale": p.input_scale,
                         # [core, phase, start, local_first, size, base_id]
                         "segments": [[s.core, s.phase, s.start, s.local_first, s.size,
                                       s.base_id] for s in program.segments
                                      if s.population == p.name]}
                        for p in network.populations],
        "phases": [{"population": p.population, "cores": p.cores, "tiles": p.tiles}
                   for p in program.phases],
        "tiles": [{"tile": t.tile, "core": t.core, "source": network.projections[t.projection].source,
                   "target": network.projections[t.projection].target,
                   "delay": network.projections[t.projection].delay,
                   "source_start": t.source_start, "source_stop": t.source_stop,
                   "targets": t.targets.tolist()} for t in program.tiles],
        "engines": program.engines,
        "metadata": {key: value for key, value in network.metadata.items()
                     if isinstance(value, (int, float, str, dict, list))},
    }


def build_image(program: MappedProgram) -> ProgramImage:
    return ProgramImage(config=program.config, manifest=build_manifest(program),
                        fields=np.asarray(build_records(program), dtype=np.uint32))


# -- decoding --------------------------------------------------------------------------------
def decode_records(image: ProgramImage) -> dict[tuple[int, int], dict[int, int]]:
    """``(unit, memory) -> {address: word}`` from the WRITE records (framing checked)."""
    fields_ = image.fields.tolist()
    memories: dict[tuple[int, int], dict[int, int]] = {}
    position = 0
    while position < len(fields_):
        head = fields_[position]
        opcode, unit, memory, per_word = head >> 24, (head >> 16) & 0xFF, (head >> 8) & 0xFF, \
            head & 0xFF
        if opcode != protocol.WRITE or per_word == 0 or position + 3 > len(fields_):
            raise CodesignError(f"program image record at field {position} is not a WRITE "
                                f"command (0x{head:08x})", "recompile the program image")
        address, count = fields_[position + 1], fields_[position + 2]
        end = position + 3 + count * per_word
        if end > len(fields_):
            raise CodesignError(f"program image record at field {position} runs past the end",
                                "recompile the program image")
        words = memories.setdefault((unit, memory), {})
        for index in range(count):
            start = position + 3 + index * per_word
            words[address + index] = protocol.join_word(fields_[start:start + per_word],
                                                        per_word * protocol.FIELD_BITS)
        position = end
    return memories


def network_from_image(image: ProgramImage) -> QuantizedNetwork:
    """Rebuild the network the hardware will execute from the image's memory words."""
    config, manifest = image.config, image.manifest
    layout = CoreLayout.from_config(config)
    memories = decode_records(image)
    core_memory = lambda core, select: memories.get((protocol.core_unit(core), int(select)), {})
    profile_fields = layout.words[MemorySelect.PROFILES]
    segment_fields = layout.words[MemorySelect.SEGMENTS]
    bias_fields = layout.words[MemorySelect.BIAS]
    state_bits = manifest["state_bits"]
    # (core, local) -> (population, index) and the population's parameters
    owner: dict[tuple[int, int], tuple[str, int]] = {}
    populations, id_owner = [], {}
    for entry in manifest["populations"]:
        size = int(np.prod(entry["shape"]))
        parameters = {f.name: np.zeros(size, dtype=np.int64)
                      for f in fields(arithmetic.NeuronParameters)}
        for core, phase, start, _, _, _ in entry["segments"]:
            segment = segment_fields.unpack(core_memory(core, MemorySelect.SEGMENTS)[phase])
            profile = profile_fields.unpack(core_memory(core, MemorySelect.PROFILES)
                                            [segment["profile"]])
            bias = core_memory(core, MemorySelect.BIAS)
            count = segment["last"] - segment["first"] + 1
            for offset in range(count):
                local, index = segment["first"] + offset, start + offset
                owner[(core, local)] = (entry["name"], index)
                id_owner[segment["base_id"] + offset] = (entry["name"], index)
                for name, value in profile.items():
                    parameters[name][index] = value
                parameters["bias"][index] = bias_fields.unpack(bias[local])["bias"]
        populations.append(QuantizedPopulation(
            name=entry["name"], shape=tuple(entry["shape"]), model=entry["model"],
            parameters=arithmetic.NeuronParameters(**parameters), spiking=entry["spiking"],
            voltage_scale=entry["voltage_scale"], current_scale=entry["current_scale"],
            input_scale=entry["input_scale"]))
    input_name = manifest["input"]["name"]
    for start, stop, base in manifest["input"]["chunks"]:
        for offset in range(stop - start):
            id_owner[base + offset] = (input_name, start + offset)
    sizes = {p.name: p.size for p in populations}
    sizes[input_name] = int(np.prod(manifest["input"]["shape"]))
    # synapses: every id the router delivers to a core, looked up as the engine does
    routes = memories.get((protocol.ROUTER_UNIT, protocol.ROUTING_TABLE), {})
    index_mask = (1 << layout.source_index_bits) - 1
    synapses: dict[tuple[str, str, int], list[tuple[int, int, int]]] = {}
    for word in routes.values():
        first, last = word & 0xFFFF, (word >> 16) & 0xFFFF
        mask = word >> 32
        for source_id in range(first, last + 1):
            if source_id not in id_owner:
                continue
            source, source_index = id_owner[source_id]
            for core in range(config.cores):
                if not mask >> core & 1:
                    continue
                table = core_memory(core, MemorySelect.SOURCE_TABLE)
                entry = decode_source_entry(layout, table.get(source_id & index_mask, 0))
                if entry["crossbar"]:         # the tile's rows: rebuilt from the manifest below
                    continue
                words = core_memory(core, MemorySelect.SYNAPSES)
                for synapse in entry_synapses(layout, entry, words):
                    target, target_index = owner[(core, synapse.target)]
                    synapses.setdefault((source, target, synapse.delay), []).append(
                        (target_index, source_index, synapse.weight))
    projections = []
    for (source, target, delay), entries in synapses.items():
        rows, cols, values = (np.array(column, dtype=np.int64) for column in zip(*entries))
        weight = sparse.csr_matrix((values, (rows, cols)), shape=(sizes[target], sizes[source]))
        weight.sum_duplicates()
        projections.append(QuantizedProjection(source, target, weight, delay))
    projections += _crossbar_projections(image, memories, sizes)
    return QuantizedNetwork(
        input_name=input_name, input_shape=tuple(manifest["input"]["shape"]),
        populations=populations, projections=projections, output=manifest["output"]["name"],
        output_shape=tuple(manifest["output"]["shape"]), weight_bits=manifest["weight_bits"],
        state_bits=state_bits, dt=manifest["dt"], reset=manifest["reset"],
        metadata=dict(manifest.get("metadata", {})))


def _crossbar_projections(image: ProgramImage, memories, sizes) -> list[QuantizedProjection]:
    config = image.config
    crossbar = config.crossbar
    result: dict[tuple[str, str, int], QuantizedProjection] = {}
    for tile in image.manifest["tiles"]:
        unit = protocol.tile_unit(tile["tile"])
        cells = memories.get((unit, protocol.TILE_CELLS), {})
        columns = len(cells) // crossbar.rows
        levels = np.array([cells[address] for address in range(columns * crossbar.rows)],
                          dtype=np.int64).reshape(columns, crossbar.rows).T
        shift = memories.get((unit, protocol.TILE_REGISTERS), {}).get(
            protocol.TILE_ADC_SHIFT_REGISTER, 0)
        conductances = arithmetic.crossbar_conductances(levels, crossbar.cell_bits,
                                                        crossbar.variation_sigma,
                                                        crossbar.variation_seed)
        key = (tile["source"], tile["target"], tile["delay"])
        if key not in result:
            weight = sparse.csr_matrix((sizes[key[1]], sizes[key[0]]), dtype=np.int64)
            result[key] = QuantizedProjection(*key[:2], weight, key[2], crossbar=[])
        result[key].crossbar.append(CrossbarBlock(
            tile["tile"], tile["source_start"], tile["source_stop"],
            np.asarray(tile["targets"], dtype=np.int64), conductances, int(shift),
            crossbar.cell_bits, crossbar.adc_bits))
    return list(result.values())


def program_from_image(image: ProgramImage) -> MappedProgram:
    """The mapped program an image loads: the network rebuilt from its memory words
    (:func:`network_from_image`) and the tables the cycle model reads (segments, phases, router
    table, source tables, tiles), all decoded from the records or the manifest."""
    config, manifest = image.config, image.manifest
    layout = CoreLayout.from_config(config)
    memories = decode_records(image)
    network = network_from_image(image)
    segments = [Segment(entry["name"], start, start + size, core, local, 0, phase, base)
                for entry in manifest["populations"]
                for core, phase, start, local, size, base in entry["segments"]]
    phases = [Phase(index, p["population"], p["cores"], p["tiles"])
              for index, p in enumerate(manifest["phases"])]
    routes = []
    for _, word in sorted(memories.get((protocol.ROUTER_UNIT, protocol.ROUTING_TABLE),
                                       {}).items()):
        mask = word >> 32
        if word & 0xFFFF > (word >> 16) & 0xFFFF:
            continue                                  # an unused entry
        routes.append(Route(word & 0xFFFF, (word >> 16) & 0xFFFF,
                            [c for c in range(config.cores) if mask >> c & 1],
                            bool(mask >> config.cores & 1)))
    cores = []
    for core in range(config.cores):
        table = memories.get((protocol.core_unit(core), int(MemorySelect.SOURCE_TABLE)), {})
        state = CoreProgram()
        for index, word in table.items():
            entry = decode_source_entry(layout, word)
            if entry["word_count"] or entry["crossbar"]:
                state.sources[index] = SourceEntry(entry["first_word"], entry["word_count"],
                                                   bool(entry["crossbar"]),
                                                   entry.get("row_offset", 0))
        state.synapse_words = list(memories.get((protocol.core_unit(core),
                                                 int(MemorySelect.SYNAPSES)), {}).values())
        cores.append(state)
    projection_index = {(p.source, p.target, p.delay): index
                        for index, p in enumerate(network.projections)}
    tiles = []
    for tile in manifest["tiles"]:
        index = projection_index[(tile["source"], tile["target"], tile["delay"])]
        block = next(b for b in network.projections[index].crossbar if b.tile == tile["tile"])
        tiles.append(TileBlock(tile["tile"], index, tile["core"], tile["source_start"],
                               tile["source_stop"], np.asarray(tile["targets"]),
                               np.zeros((config.crossbar.rows, block.conductances.shape[1])),
                               block.adc_shift))
    engines = ["crossbar" if p.crossbar is not None else "digital" for p in network.projections]
    return MappedProgram(config=config, network=network, segments=segments, engines=engines,
                         tiles=tiles, phases=phases, core_profiles=[[] for _ in cores],
                         options=MappingOptions(),
                         input_chunks=[tuple(c) for c in manifest["input"]["chunks"]],
                         cores=cores, routes=routes)
