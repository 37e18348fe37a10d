"""The time step a graph assumes, and the check that a chosen ``dt`` lets its neurons move.

NIR is continuous-time, but exporters from discrete-time simulators fold their step into the
parameters, so a graph run at another ``dt`` is silently wrong (docs/compiler.md, "Time step").
:func:`assumed_dt` reads the step from the file's metadata or recognises an exporter's
convention; :func:`resolve_dt` uses it when the user gives no ``--dt``; :func:`warning` names
populations that the chosen step leaves (almost) still, with the likely cause and the ``--dt``
to try.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.compiler import ir
from codesign.compiler.layer_ir import LayerNetwork

#: The step when neither the user nor the graph gives one (snnTorch's and Lava's NIR step).
DEFAULT_DT = 1e-4
#: Metadata keys of ``NIRGraph.metadata`` read as the step in seconds.
METADATA_KEYS = ("dt", "timestep", "time_step")
#: A population that needs more steps than this of its strongest input to fire from reset moves
#: by a tiny fraction of its threshold per step: the step is almost surely too short.
SLOW_STEPS = 1000
#: Exporters write round steps: ``m * 10^k`` with ``m`` one of these (within the tolerance).
ROUND_MANTISSAS = (1.0, 2.0, 2.5, 5.0, 10.0)
#: Relative tolerance when comparing the step implied by different neurons (exporters write
#: float32 parameters).
RELATIVE_TOLERANCE = 1e-4

LEAKY = (ir.LIF, ir.LI, ir.CubaLIF, ir.CubaLI)
INTEGRATING = (ir.IF, ir.Integrator)


@dataclass(frozen=True)
class AssumedStep:
    """A step in seconds and why the graph seems to assume it."""

    dt: float
    reason: str


def _common(values: np.ndarray) -> float | None:
    """The one value every entry equals (within the tolerance), rounded to 6 digits, or None."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        return None
    middle = float(np.median(values))
    if np.any(np.abs(values - middle) > RELATIVE_TOLERANCE * middle):
        return None
    return float(f"{middle:.6g}")


def _round(step: float | None) -> float | None:
    """``step`` if it is a round number as exporters write (1e-4, 1e-3, 1, 0.5 ...), else None:
    a tau/r ratio that is not round (Rockpool's r folds in its own correction) fixes no step."""
    if step is None:
        return None
    mantissa = step / 10 ** np.floor(np.log10(step))
    return step if any(abs(mantissa - m) <= RELATIVE_TOLERANCE * m for m in ROUND_MANTISSAS) \
        else None


def _from_metadata(metadata: dict) -> AssumedStep | None:
    for key in METADATA_KEYS:
        if key in metadata:
            try:
                value = float(np.asarray(metadata[key]).item())
            except (TypeError, ValueError):
                continue
            if np.isfinite(value) and value > 0:
                return AssumedStep(value, f"the file's metadata gives {key} = {value:g}")
    return None


def _leaky_step(neurons: list[ir.NeuronNode]) -> AssumedStep | None:
    """snnTorch writes ``r = tau_mem / dt`` (and ``w_in = tau_syn / dt``) with its ``dt``, so that
    forward Euler at that ``dt`` is its ``v = beta v + x``: every ratio tau / r is that ``dt``."""
    ratios, gains = [], []
    for node in neurons:
        tau = node.tau_mem if isinstance(node, (ir.CubaLIF, ir.CubaLI)) else node.tau
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios.append(tau / node.r)
            if isinstance(node, (ir.CubaLIF, ir.CubaLI)):
                ratios.append(node.tau_syn / node.w_in)
        gains.append(node.r)
    step = _round(_common(np.concatenate([np.ravel(r) for r in ratios])))
    if step is None or not np.any(np.concatenate([np.ravel(g) for g in gains]) > 1):
        return None  # r = 1 everywhere (Norse, Sinabs LIF) says nothing about the step
    return AssumedStep(step, f"its leaky neurons have r = tau/dt and w_in = tau_syn/dt for "
                             f"dt = {step:g}, as snnTorch exports them")


def _integrating_step(neurons: list[ir.NeuronNode]) -> AssumedStep | None:
    """An IF or I neuron gains ``dt * r`` per step; discrete-time simulators integrate their input
    with gain 1, so their exporters write ``r = 1 / dt`` (Sinabs: IAF as IF with r = 1)."""
    r = np.concatenate([np.ravel(node.r) for node in neurons])
    if r.size == 0 or np.any(r <= 0):
        return None
    step = _round(_common(1.0 / r))
    if step is None:
        return None
    return AssumedStep(step, f"its IF neurons have r = {1 / step:g}: gain 1 per step at "
                             f"dt = {step:g}, as Sinabs exports IAF")


def assumed_dt(graph: ir.Graph) -> AssumedStep | None:
    """The step ``graph`` seems to assume: its metadata's ``dt``, else the exporter convention
    all its neurons agree on (snnTorch's r = tau/dt, or r = 1/dt of integrate-and-fire
    neurons); None if nothing in the file fixes it."""
    found = _from_metadata(graph.metadata)
    if found:
        return found
    neurons = [n for n in graph.nodes.values() if isinstance(n, ir.NeuronNode)]
    leaky = [n for n in neurons if isinstance(n, LEAKY)]
    integrating = [n for n in neurons if isinstance(n, INTEGRATING)]
    guesses = ([_leaky_step(leaky)] if leaky else []) + \
        ([_integrating_step(integrating)] if integrating else [])
    if not guesses or None in guesses:
        return None
    if any(abs(guess.dt - guesses[0].dt) > RELATIVE_TOLERANCE * guesses[0].dt
           for guess in guesses):
        return None
    return guesses[0]


def resolve_dt(graph: ir.Graph, dt: float | None) -> float:
    """An explicit ``dt`` wins; without one, the step the graph assumes, else DEFAULT_DT."""
    if dt is not None:
        return dt
    guess = assumed_dt(graph)
    return guess.dt if guess else DEFAULT_DT


def describe(graph: ir.Graph, dt: float | None) -> str:
    """One line for ``codesign info``: the step the graph assumes and the one in use."""
    guess = assumed_dt(graph)
    used = resolve_dt(graph, dt)
    if guess is None:
        assumed = "nothing in the file fixes the time step"
    else:
        assumed = f"the graph seems to assume dt = {guess.dt:g} s ({guess.reason})"
    source = "--dt" if dt is not None else "the graph's" if guess else "the default"
    return f"time step: {assumed}; using dt = {used:g} s ({source})"


@dataclass(frozen=True)
class Drive:
    """How fast a spiking population can fire at a given step: under its strongest sustained
    input, the largest voltage move in one step as a fraction of the distance from reset to
    threshold, and the fewest steps from reset to a spike (``inf``: it never gets there, which
    no step changes); the longest step forward Euler allows (its shortest time constant)."""

    fraction: float
    steps: float
    longest_dt: float


def drives(layers: LayerNetwork) -> dict[str, Drive]:
    """:class:`Drive` of every spiking population of ``layers``, for its strongest sustained
    input: every source spiking once per step, the bias driving it, the synaptic current
    settled."""
    found = {}
    for population in layers.populations:
        neuron = population.neuron
        if not neuron.spiking_output:
            continue
        flat = lambda array: np.broadcast_to(np.ravel(array), (population.size,)).astype(float)
        drive = np.zeros(population.size) if population.bias is None else \
            np.maximum(flat(population.bias), 0.0)
        for projection in layers.incoming(population.name):
            drive = drive + np.asarray(projection.weight.maximum(0).sum(axis=1)).ravel()
        current_decay, decay = flat(neuron.current_decay), flat(neuron.voltage_decay)
        with np.errstate(divide="ignore", invalid="ignore"):
            settled = np.where(current_decay < 1, 1.0 / (1.0 - current_decay), np.inf)
            move = np.abs(flat(neuron.current_gain) * flat(neuron.input_gain)) * settled * drive
            move = np.nan_to_num(move, nan=0.0) + flat(neuron.leak)
            start = 0.0 if neuron.reset_subtract else flat(neuron.reset_voltage)
            gap = flat(neuron.threshold) - start
            # v_n = v_eq + (start - v_eq) decay^n, v_eq = move / (1 - decay); linear if decay = 1
            equilibrium = np.where(decay < 1, move / (1.0 - decay), np.inf)
            leaky = np.log(np.clip(1.0 - gap / (equilibrium - start), 1e-300, None)) / \
                np.log(np.clip(decay, 1e-300, 1 - 1e-16))
            steps = np.where(decay < 1, np.where(equilibrium > start + gap, np.ceil(leaky),
                                                 np.inf),
                             np.where(move > 0, np.ceil(gap / move), np.inf))
            steps = np.where(gap <= 0, 1.0, np.maximum(steps, 1.0))
            fraction = np.where(gap > 0, move / gap, np.inf)
            # tau = dt / (1 - decay); a current decay of 0 means no current state at all
            decays = np.concatenate([decay[decay < 1],
                                     current_decay[(current_decay > 0) & (current_decay < 1)]])
            time_constants = layers.dt / (1.0 - decays)
        found[population.name] = Drive(
            fraction=float(np.max(fraction)), steps=float(np.min(steps)),
            longest_dt=float(np.min(time_constants, initial=np.inf)))
    return found


def warning(graph: ir.Graph, dt: float, layers: LayerNetwork,
            spike_counts: dict[str, int] | None = None) -> str | None:
    """One line naming the populations that ``dt`` leaves (almost) still: those that need more
    than SLOW_STEPS steps of their strongest input to fire, and (after a run) those that never
    spiked, with the likely cause and the ``--dt`` to try; None if there are none."""
    found = drives(layers)
    slow = {name: drive for name, drive in found.items()
            if SLOW_STEPS < drive.steps < np.inf}
    silent = [name for name in found if (spike_counts or {}).get(name, 1) == 0]
    if not slow and not silent:
        return None
    named = lambda names: ", ".join(f"'{name}'" for name in names)
    parts = []
    if silent:
        parts.append(f"population{'s' if len(silent) > 1 else ''} {named(silent)} never spiked")
    if slow:
        fastest = min(slow.values(), key=lambda drive: drive.steps)
        parts.append(f"{'' if silent else 'population' + ('s' if len(slow) > 1 else '') + ' '}"
                     f"{named(slow)} move{'s' if len(slow) == 1 else ''} by at most "
                     f"{max(d.fraction for d in slow.values()):.2g} of the threshold per step "
                     f"and need{'s' if len(slow) == 1 else ''} {fastest.steps:.0f}+ steps of "
                     "the strongest input to fire")
    text = " and ".join(parts) + f" at dt = {dt:g} s"
    guess = assumed_dt(graph)
    if guess is not None and abs(guess.dt - dt) > RELATIVE_TOLERANCE * guess.dt:
        return f"{text}: the graph seems to assume dt = {guess.dt:g} ({guess.reason}); " \
               f"try --dt {guess.dt:g}"
    if slow:
        fastest = min(slow.values(), key=lambda drive: drive.steps)
        longest = min(drive.longest_dt for drive in slow.values())
        target = float(f"{min(dt * fastest.steps / 10, longest):.1g}")
        if target > dt:
            return f"{text}: the step is likely too short for the model; try --dt {target:g}"
    return f"{text}: check the input's scale, and --dt if the model was trained at another step"
