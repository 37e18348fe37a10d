"""``codesign info`` and ``codesign simulate``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from codesign.compiler import fidelity, float_reference, frontend, golden, ir, timestep
from codesign.compiler.passes.discretize import RESET_MODES
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.pipeline import CompileOptions, discretized, quantized
from codesign.errors import CodesignError, warn
from codesign.inputs import load_inputs


def add_compile_options(parser: argparse.ArgumentParser) -> None:
    """The compiler knobs every command that compiles shares."""
    add_dt_option(parser)
    parser.add_argument("--reset", choices=RESET_MODES, default="zero",
                        help="reset to v_reset (zero) or subtract the threshold")
    parser.add_argument("--weight-bits", type=int, default=8, help="2..16 (8)")
    parser.add_argument("--state-bits", type=int, default=16, help="8..32 (16)")
    parser.add_argument("--dump-ir", metavar="PASS", action="append", default=[],
                        help="print the IR after this pass (discretize, fuse, quantize or all)")


def add_dt_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dt", type=float, default=None,
                        help="time step in seconds (default: the step the graph assumes, which "
                             "`codesign info` names, else 1e-4)")


def check_time_step(graph: ir.Graph, dt: float | None,
                    spike_counts: dict[str, int] | None = None) -> None:
    """Warn (one line) when the step leaves populations (almost) still: timestep.warning."""
    discrete = discretized(graph, CompileOptions(dt=dt))
    text = timestep.warning(graph, discrete.dt, Fuse().apply(discrete), spike_counts)
    if text:
        warn(text)


def compile_options(args: argparse.Namespace) -> CompileOptions:
    return CompileOptions(dt=args.dt, reset=args.reset, weight_bits=args.weight_bits,
                          state_bits=args.state_bits)


def dump_after(args: argparse.Namespace):
    return "all" if "all" in args.dump_ir else tuple(args.dump_ir)


def info(args: argparse.Namespace) -> int:
    graph = frontend.load(args.model)
    print(graph.dump())
    discrete = discretized(graph, CompileOptions(dt=args.dt))
    layers = Fuse().apply(discrete)
    synapses = sum(p.synapse_count for p in layers.projections)
    print(f"neurons: {graph.neuron_count()}  synapses: {synapses}  "
          f"populations: {len(layers.populations)}  projections: {len(layers.projections)}")
    print(timestep.describe(graph, args.dt))
    print(layers.dump())
    text = timestep.warning(graph, discrete.dt, layers)
    if text:
        warn(text)
    return 0


def simulate(args: argparse.Namespace) -> int:
    graph = frontend.load(args.model)
    options = compile_options(args)
    inputs = load_inputs(args.input)
    network = None
    if args.mode == "fixed":  # bad options or input end in an error before any warning
        network = quantized(graph, options, dump_after(args))
        golden.integer_input(network, inputs.steps)
    discrete = discretized(graph, options)
    reference = float_reference.simulate(discrete, inputs.steps,
                                         record=args.record or args.mode == "fixed")
    check_time_step(graph, args.dt, reference.spike_counts)
    result, records = reference, reference.records
    if network is not None:
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
    steps, samples = inputs.steps.shape[:2]
    predicted = fidelity.predictions(result.output)
    guess = f", predicted class {int(predicted[0])}" if samples == 1 and spikes else ""
    print(f"{args.mode}: {steps} steps x {samples} sample(s) at dt = {discrete.dt:g} s, "
          f"{spikes} output spikes{guess} -> {args.output}")
    return 0


def compile_program(args: argparse.Namespace) -> int:
    options = compile_options(args)
    if args.target == "c":
        from codesign.compiler.backends import cli_c

        cli_c.compile_c(args.model, options, args.mode, args.output, args.with_main)
    elif args.hw is None:
        raise CodesignError("--target hw needs --hw CFG.yaml",
                            "pass an HWConfig such as configs/default.yaml")
    else:
        from codesign.compiler.hw_cli import REPORT_NAME, compile_for_hardware

        compile_for_hardware(args.model, args.hw, options, args.output, in_passes=args.passes)
        print((Path(args.output) / REPORT_NAME).read_text(), end="")
    check_time_step(frontend.load(args.model), options.dt)  # after: errors stay one line
    return 0


def run(args: argparse.Namespace) -> int:
    if args.target == "c":
        from codesign.compiler.backends import cli_c

        return cli_c.run_c(args.program, args.input, args.output, record=args.record)
    from codesign.compiler.hw_cli import run_program

    arrays = run_program(args.program, args.target, args.input, args.output, waves=args.waves,
                         profile_guided=args.profile_guided)
    print(f"{args.target}: {int(np.sum(arrays['output']))} output spikes, "
          f"{int(np.sum(arrays['cycles']))} cycles -> {args.output}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("info", help="print a NIR model's IR, counts and ranges")
    parser.add_argument("model", help="NIR file")
    add_dt_option(parser)
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

    parser = subparsers.add_parser("run", help="run a compiled program on ref, rtl or c")
    parser.add_argument("program", help="directory written by codesign compile")
    parser.add_argument("--target", choices=("ref", "rtl", "c"), default="ref")
    parser.add_argument("--input", required=True, help="IN.npy [T, *input_shape] or IN.npz")
    parser.add_argument("--record", action="store_true", help="(c) also save neuron state")
    parser.add_argument("--waves", action="store_true", help="(rtl) keep an FST waveform")
    parser.add_argument("--profile-guided", action="store_true",
                        help="(rtl) a gcc profile-guided Verilator build: ~2 min more to build "
                             "once per HWConfig, ~1.5x the cycles per second after")
    parser.add_argument("-o", "--output", required=True, help="OUT.npz")
    parser.set_defaults(handler=run)
