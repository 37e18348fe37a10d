"""``codesign info``, ``simulate``, ``compile`` and ``run``: parse the arguments, call
:mod:`codesign.compiler.driver`, print what it returns.

Old spellings stay accepted: ``--mode fixed`` and ``--target ref`` (now ``golden``: the golden
model), ``--passes`` (now ``--chunked``). See the glossary in docs/architecture.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from codesign.compiler import driver, frontend
from codesign.compiler.passes.discretize import RESET_MODES
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.pipeline import FRONT_END, CompileOptions, discretized
from codesign.errors import CodesignError

RUN_TARGETS = ("golden", "rtl", "c", "board")


def old_spelling(old: str, new: str):
    """An argparse ``type`` that accepts the old spelling of a choice and returns the new one
    (``choices`` then lists the new spellings only)."""
    return lambda text: new if text == old else text


def add_compile_options(parser: argparse.ArgumentParser) -> None:
    """The compiler knobs every command that compiles shares."""
    parser.add_argument("--dt", type=float, default=1e-4, help="time step in seconds (1e-4)")
    parser.add_argument("--reset", choices=RESET_MODES, default="zero",
                        help="reset to v_reset (zero) or subtract the threshold")
    parser.add_argument("--weight-bits", type=int, default=8, help="2..16 (8)")
    parser.add_argument("--state-bits", type=int, default=16, help="8..32 (16)")
    parser.add_argument("--dump-ir", metavar="PASS", action="append", default=[],
                        help=f"print the IR after this pass ({', '.join(FRONT_END)} or all)")


def add_c_options(parser: argparse.ArgumentParser) -> None:
    """The C target's options of ``codesign compile``."""
    parser.add_argument("--mode", choices=driver.C_MODES, default="fixed",
                        help="C arithmetic: bit-exact fixed point (default) or double precision")
    parser.add_argument("--with-main", action="store_true",
                        help="also write OUT/main.c: a stdin/stdout driver (docs/c-backend.md)")


def compile_options(args: argparse.Namespace) -> CompileOptions:
    return CompileOptions(dt=args.dt, reset=args.reset, weight_bits=args.weight_bits,
                          state_bits=args.state_bits)


def dump_after(args: argparse.Namespace):
    return "all" if "all" in args.dump_ir else tuple(args.dump_ir)


def info(args: argparse.Namespace) -> int:
    graph = frontend.load(args.model)
    print(graph.dump())
    layers = Fuse().apply(discretized(graph, CompileOptions(dt=args.dt)))
    synapses = sum(p.synapse_count for p in layers.projections)
    print(f"neurons: {graph.neuron_count()}  synapses: {synapses}  "
          f"populations: {len(layers.populations)}  projections: {len(layers.projections)}")
    print(layers.dump())
    return 0


def simulate(args: argparse.Namespace) -> int:
    result = driver.simulate_file(args.model, args.input, args.output, args.mode,
                                  compile_options(args), record=args.record,
                                  dump_after=dump_after(args))
    if result.fidelity is not None:
        print(result.fidelity.summary())
    print(f"{args.mode}: {result.steps} steps x {result.samples} sample(s), "
          f"{result.output_spikes} output spikes -> {args.output}")
    return 0


def compile_program(args: argparse.Namespace) -> int:
    options = compile_options(args)
    if args.target == "c":
        sources, files = driver.compile_c(args.model, options, args.mode, args.output,
                                          args.with_main)
        size = sum(path.stat().st_size for path in files)
        print(f"c ({args.mode}): {sources.manifest['synapses']} synapses, "
              f"{len(sources.manifest['populations'])} populations, {size / 1024:.0f} KiB of "
              f"source -> {', '.join(str(path) for path in files)}")
        return 0
    if args.hw is None:
        raise CodesignError("--target hw needs --hw CFG.yaml",
                            "pass an HWConfig such as configs/default.yaml")
    driver.compile_for_hardware(args.model, args.hw, options, args.output,
                                chunked_if_needed=args.chunked)
    print((Path(args.output) / driver.REPORT_NAME).read_text(), end="")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.target == "c":
        arrays, result = driver.run_c(args.program, args.input, args.output, record=args.record)
        steps, batch = result.output.shape[:2]
        print(f"c: {steps} steps x {batch} sample(s), {int(np.sum(result.output != 0))} non-zero "
              f"outputs in {result.seconds:.3f} s -> {args.output}")
        return 0
    target = driver.GOLDEN
    if args.target == "rtl":
        from codesign.flows import rtl_target   # Verilator and Amaranth: loaded only for rtl

        target = rtl_target.target(waves=args.waves, profile_guided=args.profile_guided)
    elif args.target == "board":
        if not args.port:
            raise CodesignError("--target board needs --port", "pass the board's serial port, "
                                "e.g. --port /dev/ttyUSB0")
        from codesign.flows import board_runtime   # pyserial: loaded only for board

        target = board_runtime.target(args.port, args.baud, args.timeout)
    arrays = driver.run_program(args.program, args.input, args.output, target)
    print(f"{args.target}: {int(np.sum(arrays['output']))} output spikes, "
          f"{int(np.sum(arrays['cycles']))} cycles -> {args.output}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("info", help="print a NIR model's IR, counts and ranges")
    parser.add_argument("model", help="NIR file")
    parser.add_argument("--dt", type=float, default=1e-4, help="time step in seconds (1e-4)")
    parser.set_defaults(handler=info)

    parser = subparsers.add_parser("simulate", help="run the float reference or the golden model")
    parser.add_argument("model", help="NIR file")
    parser.add_argument("--input", required=True,
                        help="IN.npy [T, *input_shape] or IN.npz with x [N, T, ...] and labels y")
    parser.add_argument("--mode", type=old_spelling("fixed", "golden"),
                        choices=driver.SIMULATION_MODES,
                        default="float",
                        help="the float reference or the bit-exact golden model (old name: "
                             "fixed)")
    add_compile_options(parser)
    parser.add_argument("--record", action="store_true",
                        help="also save <node>.spikes and <node>.v of every neuron node")
    parser.add_argument("-o", "--output", required=True, help="OUT.npz")
    parser.set_defaults(handler=simulate)

    parser = subparsers.add_parser(
        "compile", help="compile for the accelerator (--hw CFG) or to C11 (--target c)")
    parser.add_argument("model", help="NIR file")
    parser.add_argument("--target", choices=("hw", "c"), default="hw")
    parser.add_argument("--hw", help="HWConfig YAML (for --target hw)")
    parser.add_argument("--chunked", "--passes", dest="chunked", action="store_true",
                        help="if a feed-forward network does not fit --hw, compile it in chunks: "
                             "one program per chunk of a layer, run layer by layer (slower: "
                             "every chunk reloads the chip; old name: --passes)")
    add_compile_options(parser)
    add_c_options(parser)
    parser.add_argument("-o", "--output", required=True, help="output directory")
    parser.set_defaults(handler=compile_program)

    parser = subparsers.add_parser("run", help="run a compiled program on golden, rtl, c or a "
                                              "board")
    parser.add_argument("program", help="directory written by codesign compile")
    parser.add_argument("--target", type=old_spelling("ref", "golden"), choices=RUN_TARGETS,
                        default="golden",
                        help="the golden model (with the cycle model's cycles), the "
                             "Verilator-built RTL, the compiled C or a board over its serial "
                             "port (old name of golden: ref)")
    parser.add_argument("--input", required=True, help="IN.npy [T, *input_shape] or IN.npz")
    parser.add_argument("--record", action="store_true", help="(c) also save neuron state")
    parser.add_argument("--waves", action="store_true", help="(rtl) keep an FST waveform")
    parser.add_argument("--profile-guided", action="store_true",
                        help="(rtl) a gcc profile-guided Verilator build: ~2 min more to build "
                             "once per HWConfig, ~1.5x the cycles per second after")
    parser.add_argument("--port", help="(board) serial port, e.g. /dev/ttyUSB0")
    parser.add_argument("--baud", type=int, default=115_200,
                        help="(board) the baud rate the bitstream was built for (115200)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="(board) seconds to wait for the board before giving up (10)")
    parser.add_argument("-o", "--output", required=True, help="OUT.npz")
    parser.set_defaults(handler=run)
