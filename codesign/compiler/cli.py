"""``codesign info`` and ``codesign simulate``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from codesign.compiler import fidelity, float_reference, frontend, golden
from codesign.compiler.passes.discretize import RESET_MODES
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.pipeline import CompileOptions, discretized, quantized
from codesign.errors import CodesignError
from codesign.inputs import load_inputs


def add_compile_options(parser: argparse.ArgumentParser) -> None:
    """The compiler knobs every command that compiles shares."""
    parser.add_argument("--dt", type=float, default=1e-4, help="time step in seconds (1e-4)")
    parser.add_argument("--reset", choices=RESET_MODES, default="zero",
                        help="reset to v_reset (zero) or subtract the threshold")
    parser.add_argument("--weight-bits", type=int, default=8, help="2..16 (8)")
    parser.add_argument("--state-bits", type=int, default=16, help="8..32 (16)")
    parser.add_argument("--dump-ir", metavar="PASS", action="append", default=[],
                        help="print the IR after this pass (discretize, fuse, quantize or all)")


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
    graph = frontend.load(args.model)
    options = compile_options(args)
    inputs = load_inputs(args.input)
    reference = float_reference.simulate(discretized(graph, options), inputs.steps,
                                         record=args.record or args.mode == "fixed")
    result, records = reference, reference.records
    if args.mode == "fixed":
        network = quantized(graph, options, dump_after(args))
        fixed = golden.simulate(network, inputs.steps, record=True)
        report = fidelity.compare(reference.records, fixed.records, reference.output,
                                  fixed.output, inputs.labels)
        print(report.summary())
        scales = {p.name: p.voltage_scale for p in network.populations}
        records = {name: {"spikes": r["spikes"], "v": r["v"] * scales[name]}
                   for name, r in fixed.records.items()}
        result = fixed
    arrays = {"output": inputs.unbatch(result.output)}
    if args.record:
        for name, record in records.items():
            arrays[f"{name}.spikes"] = inputs.unbatch(record["spikes"])
            arrays[f"{name}.v"] = inputs.unbatch(record["v"])
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.output, **arrays)
    spikes = int(np.sum(result.output))
    print(f"{args.mode}: {inputs.steps.shape[0]} steps x {inputs.steps.shape[1]} sample(s), "
          f"{spikes} output spikes -> {args.output}")
    return 0


def compile_program(args: argparse.Namespace) -> int:
    options = compile_options(args)
    if args.target == "c":
        from codesign.compiler.backends import cli_c

        cli_c.compile_c(args.model, options, args.mode, args.output, args.with_main)
        return 0
    if args.hw is None:
        raise CodesignError("--target hw needs --hw CFG.yaml",
                            "pass an HWConfig such as configs/default.yaml")
    from codesign.compiler.hw_cli import REPORT_NAME, compile_for_hardware

    compile_for_hardware(args.model, args.hw, options, args.output, in_passes=args.passes)
    print((Path(args.output) / REPORT_NAME).read_text(), end="")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.target == "c":
        from codesign.compiler.backends import cli_c

        return cli_c.run_c(args.program, args.input, args.output, record=args.record)
    from codesign.compiler.hw_cli import run_program

    board = None
    if args.target == "board":
        if not args.port:
            raise CodesignError("--target board needs --port", "pass the board's serial port, "
                                "e.g. --port /dev/ttyUSB0")
        from codesign.flows.board_runtime import BoardTarget

        board = BoardTarget(args.port, args.baud, args.timeout)
    arrays = run_program(args.program, args.target, args.input, args.output, waves=args.waves,
                         profile_guided=args.profile_guided, board=board)
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
    parser.add_argument("--mode", choices=("float", "fixed"), default="float")
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
    parser.add_argument("--passes", action="store_true",
                        help="if a feed-forward network does not fit --hw, compile it into "
                             "several programs run layer by layer (slower: every pass reloads "
                             "the chip)")
    add_compile_options(parser)
    from codesign.compiler.backends import cli_c
    cli_c.add_compile_arguments(parser)
    parser.add_argument("-o", "--output", required=True, help="output directory")
    parser.set_defaults(handler=compile_program)

    parser = subparsers.add_parser("run", help="run a compiled program on ref, rtl, c or a board")
    parser.add_argument("program", help="directory written by codesign compile")
    parser.add_argument("--target", choices=("ref", "rtl", "c", "board"), default="ref")
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
