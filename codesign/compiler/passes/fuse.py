"""``fuse``: fold every chain of linear nodes between neuron populations into one projection.

Affine/Linear, Scale, Conv, pooling and Flatten compose into a single sparse matrix per
(source population, target population, delay); a recurrent edge on the path (it always leaves
the source population, ``ir.Graph.recurrent_edges``) adds one step of delay, a Delay node adds its
steps (split per distinct delay). Biases become a constant input of the population they reach,
from t = 0, also behind recurrent edges and delay lines: before t = 0 the network is at rest and
every linear node outputs its bias (docs/compiler.md, "Cycles and delays"), as the float
reference (``float_reference.rest_outputs``) computes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sparse

from codesign.compiler import ir, linear_ops
from codesign.compiler.layer_ir import LayerNetwork, Population, Projection
from codesign.errors import CodesignError


def _is_population(node: ir.Node) -> bool:
    return isinstance(node, (ir.Input, ir.DiscreteNeuron))


@dataclass(frozen=True)
class Fuse:
    """Discretised :class:`~codesign.compiler.ir.Graph` -> :class:`LayerNetwork`."""

    name: ClassVar[str] = "fuse"

    def apply(self, graph: ir.Graph) -> LayerNetwork:
        undiscretised = [n for n, v in graph.nodes.items()
                         if isinstance(v, (ir.NeuronNode, ir.Delay))
                         and not isinstance(v, ir.DiscreteNeuron)]
        if undiscretised:
            raise ValueError(f"run discretize before fuse ({undiscretised[0]})")
        recurrent = graph.recurrent_edges()
        found: dict[tuple[str, str, int], sparse.csr_matrix] = {}
        bias = {name: np.zeros(int(np.prod(node.output_shape)))
                for name, node in graph.nodes.items() if isinstance(node, ir.DiscreteNeuron)}

        def walk(origin: str, node_name: str, transfer, delay: int, visited: tuple, is_bias: bool):
            for successor in graph.successors(node_name):
                step = delay + (1 if (node_name, successor) in recurrent else 0)
                target = graph.nodes[successor]
                if isinstance(target, ir.DiscreteNeuron):
                    if is_bias:
                        bias[successor] += transfer
                    else:
                        key = (origin, successor, step)
                        found[key] = found[key] + transfer if key in found else transfer
                    continue
                if isinstance(target, (ir.Output, ir.Input)):
                    continue
                if successor in visited:
                    raise CodesignError(f"the cycle through '{successor}' contains no neuron",
                                        "every recurrent loop must pass through a neuron layer")
                if isinstance(target, ir.DiscreteDelay):
                    steps = target.steps.ravel()
                    for value in np.unique(steps):
                        mask = sparse.diags((steps == value).astype(float))
                        walk(origin, successor, mask @ transfer, step + int(value),
                             visited + (successor,), is_bias)
                    continue
                matrix = linear_ops.matrix(target)
                walk(origin, successor, matrix @ transfer, step, visited + (successor,), is_bias)

        for name, node in graph.nodes.items():
            if _is_population(node):
                size = int(np.prod(node.output_shape))
                walk(name, name, sparse.identity(size, format="csr"), 0, (), False)
            elif isinstance(node, ir.LINEAR_NODES) and np.any(linear_ops.bias(node)):
                walk(name, name, linear_ops.bias(node), 0, (name,), True)

        order = [n for n in graph.topological_order() if isinstance(graph.nodes[n],
                                                                     ir.DiscreteNeuron)]
        if not order:
            raise CodesignError("the graph has no neuron layer", "add a spiking neuron layer")
        populations = [Population(name, graph.nodes[name].output_shape, graph.nodes[name],
                                  bias[name]) for name in order]
        projections = [Projection(source, target, sparse.csr_matrix(matrix), delay)
                       for (source, target, delay), matrix in found.items()]
        projections.sort(key=lambda p: (order.index(p.target), p.delay, p.source))
        source = graph.input
        return LayerNetwork(input=Population(source.name, tuple(source.shape)),
                            populations=populations, projections=projections,
                            output=self._output_population(graph),
                            output_shape=tuple(graph.output.shape), dt=graph.dt,
                            reset="subtract" if populations[0].neuron.reset_subtract else "zero")

    @staticmethod
    def _output_population(graph: ir.Graph) -> str:
        """The neuron population the Output reads, through shape-only nodes (Flatten)."""
        name = graph.output.name
        while True:
            sources = graph.predecessors(name)
            if len(sources) != 1:
                raise CodesignError(f"the Output is fed by {len(sources)} nodes",
                                    "feed the Output from exactly one neuron layer")
            name = sources[0]
            node = graph.nodes[name]
            if isinstance(node, ir.DiscreteNeuron):
                return name
            if not isinstance(node, ir.Flatten):
                raise CodesignError(
                    f"the Output reads '{name}', a {type(node).__name__} node",
                    "end the network with a neuron layer (e.g. an LI read-out) before the Output")
