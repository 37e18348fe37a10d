"""``discretize``: continuous-time neurons and delays -> forward-Euler discrete form (contract 2)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from codesign.compiler import ir
from codesign.errors import CodesignError

RESET_MODES = ("zero", "subtract")


def _discrete(node: ir.NeuronNode, dt: float, subtract: bool) -> ir.DiscreteNeuron:
    """Forward Euler with step ``dt``: ``v += dt * dv/dt`` (the current first, then the voltage
    from the new current, as snnTorch, Norse and Lava do)."""
    zero = np.zeros(node.input_shape)
    never = np.full(node.input_shape, np.inf)
    common = dict(name=node.name, adaptation_decay=zero, adaptation_step=zero,
                  reset_subtract=subtract, model=type(node).__name__)
    if isinstance(node, (ir.LIF, ir.LI, ir.AdaptiveLIF)):
        step = dt / node.tau
        spiking = not isinstance(node, ir.LI)
        neuron = ir.DiscreteNeuron(
            current_decay=zero, input_gain=1.0, voltage_decay=1.0 - step,
            current_gain=step * node.r, leak=step * node.v_leak,
            threshold=node.v_threshold if spiking else never,
            reset_voltage=node.v_reset if spiking else zero, **common)
        if isinstance(node, ir.AdaptiveLIF):
            neuron.adaptation_decay = 1.0 - dt / node.tau_adaptation
            neuron.adaptation_step = node.adaptation_step
        return neuron
    if isinstance(node, (ir.IF, ir.Integrator)):
        spiking = isinstance(node, ir.IF)
        return ir.DiscreteNeuron(
            current_decay=zero, input_gain=1.0, voltage_decay=1.0, current_gain=dt * node.r,
            leak=zero, threshold=node.v_threshold if spiking else never,
            reset_voltage=node.v_reset if spiking else zero, **common)
    if isinstance(node, (ir.CubaLIF, ir.CubaLI)):
        synaptic, membrane = dt / node.tau_syn, dt / node.tau_mem
        spiking = isinstance(node, ir.CubaLIF)
        return ir.DiscreteNeuron(
            current_decay=1.0 - synaptic, input_gain=synaptic * node.w_in,
            voltage_decay=1.0 - membrane, current_gain=membrane * node.r,
            leak=membrane * node.v_leak, threshold=node.v_threshold if spiking else never,
            reset_voltage=node.v_reset if spiking else zero, **common)
    if isinstance(node, ir.Threshold):
        return ir.DiscreteNeuron(current_decay=zero, input_gain=1.0, voltage_decay=zero,
                                 current_gain=1.0, leak=zero, threshold=node.threshold,
                                 reset_voltage=zero, **common)
    raise TypeError(type(node).__name__)


#: The longest delay in steps (every target keeps this many steps of its source's spikes).
MAX_DELAY_STEPS = 2**16


@dataclass(frozen=True)
class Discretize:
    """Replace every neuron by a :class:`~codesign.compiler.ir.DiscreteNeuron` and every delay by
    whole steps, for timestep ``dt`` and reset mode ``reset`` (``zero`` resets to ``v_reset``,
    ``subtract`` subtracts the threshold, which NIR cannot express)."""

    dt: float = 1e-4
    reset: str = "zero"
    name: ClassVar[str] = "discretize"

    def __post_init__(self):
        if not (np.isfinite(self.dt) and self.dt > 0):
            raise CodesignError(f"--dt {self.dt} is not a positive time step",
                                "pass a step in seconds such as 1e-4")
        if self.reset not in RESET_MODES:
            raise CodesignError(f"unknown reset mode '{self.reset}'",
                                f"use one of {', '.join(RESET_MODES)}")

    def apply(self, graph: ir.Graph) -> ir.Graph:
        nodes = {}
        for name, node in graph.nodes.items():
            if isinstance(node, ir.NeuronNode) and not isinstance(node, ir.DiscreteNeuron):
                node = _discrete(node, self.dt, self.reset == "subtract")
            elif isinstance(node, ir.Delay):
                steps = np.rint(node.delay / self.dt)
                if steps.size and steps.max() > MAX_DELAY_STEPS:
                    raise CodesignError(
                        f"node '{name}' delays by {node.delay.max():.4g} s = "
                        f"{steps.max():.4g} steps of --dt {self.dt:g}, more than "
                        f"{MAX_DELAY_STEPS}", "use a delay in seconds (not steps) or a larger --dt")
                node = ir.DiscreteDelay(name, steps=steps.astype(int))
            nodes[name] = node
        return replace(graph, nodes=nodes, dt=self.dt)
