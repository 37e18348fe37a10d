"""SNN IR: the compiler's typed, float, continuous-time graph (one small dataclass per primitive).

Each node checks its shapes at construction and writes its dynamics in its docstring. ``x`` is
the node's input (the sum of every edge into it), ``y`` its output. Continuous-time neuron
equations follow NIR 1.0; the ``discretize`` pass turns them into the discrete
:class:`DiscreteNeuron` with forward Euler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from codesign.errors import CodesignError, warn


def _array(value, name: str, node: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise CodesignError(f"node '{node}': '{name}' has dtype {array.dtype}, not real numbers",
                            "re-export the model with float parameters")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise CodesignError(f"node '{node}' has a NaN or infinite value in '{name}'",
                            "re-export the model with finite parameters")
    return array


def _integers(value, key: str, node: str, least: int = 0, length: int | None = None
              ) -> tuple[int, ...]:
    """``value`` (a whole number or a 1-D list of them, each >= ``least``) as a tuple; a scalar
    or a single entry is repeated to ``length`` when given."""
    array = np.asarray(value)
    where = f"node '{node}': " if node else ""
    if array.dtype.kind not in "biuf" or array.ndim > 1 or not np.all(np.isfinite(array)) \
            or np.any(array != np.rint(array)):
        raise CodesignError(f"{where}'{key}' = {np.array2string(array, threshold=6)} is not a "
                            "whole number or a list of them", "re-export the model")
    values = tuple(int(v) for v in np.atleast_1d(array).tolist())
    if length is not None and len(values) == 1:
        values *= length
    if length is not None and len(values) != length:
        raise CodesignError(f"{where}'{key}' has {len(values)} entries for {length} dimensions",
                            f"give one value or {length}")
    if any(v < least for v in values):
        raise CodesignError(f"{where}'{key}' = {values} has an entry below {least}",
                            f"use values >= {least}")
    return values


def _shape(value, key: str = "shape", node: str = "") -> tuple[int, ...]:
    """A shape: whole numbers >= 1 (emptiness is named by :class:`Graph` with the node)."""
    return _integers(value, key, node, least=-2**62)


def _broadcast(array: np.ndarray, shape: tuple[int, ...], name: str, node: str) -> np.ndarray:
    try:
        return np.broadcast_to(array, shape).astype(np.float64)
    except ValueError:
        raise CodesignError(f"node '{node}': '{name}' has shape {array.shape}, expected {shape}",
                            "fix the parameter shapes in the exporter") from None


@dataclass
class Node:
    """Base of every IR node."""

    name: str
    is_neuron: ClassVar[bool] = False

    @property
    def input_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.input_shape

    def describe(self) -> str:
        """Parameter ranges for the text dump."""
        parts = []
        for key, value in self.__dict__.items():
            if isinstance(value, np.ndarray) and value.size:
                low, high = float(value.min()), float(value.max())
                parts.append(f"{key}={low:.4g}" if low == high else f"{key}=[{low:.4g}, {high:.4g}]")
        return " ".join(parts)


@dataclass
class Input(Node):
    """Graph input: ``y[t] = the user's input at step t``."""

    shape: tuple[int, ...] = ()

    @property
    def input_shape(self):
        return self.shape


@dataclass
class Output(Node):
    """Graph output: ``y = x``."""

    shape: tuple[int, ...] = ()

    @property
    def input_shape(self):
        return self.shape


@dataclass
class Affine(Node):
    """``y = W x + b``, W of shape [out, in]."""

    weight: np.ndarray = None
    bias: np.ndarray = None

    def __post_init__(self):
        self.weight = _array(self.weight, "weight", self.name)
        if self.weight.ndim != 2:
            raise CodesignError(f"node '{self.name}': weight must be 2-D, got {self.weight.shape}",
                                "export a [out, in] matrix")
        self.bias = _broadcast(_array(self.bias, "bias", self.name), (self.weight.shape[0],),
                               "bias", self.name)

    @property
    def input_shape(self):
        return (self.weight.shape[1],)

    @property
    def output_shape(self):
        return (self.weight.shape[0],)


@dataclass
class Linear(Affine):
    """``y = W x``, W of shape [out, in]."""

    def __post_init__(self):
        if self.bias is None:
            self.bias = np.zeros(np.shape(self.weight)[0])
        super().__post_init__()


@dataclass
class Scale(Node):
    """``y = s * x`` element-wise."""

    scale: np.ndarray = None

    def __post_init__(self):
        self.scale = _array(self.scale, "scale", self.name)

    @property
    def input_shape(self):
        return self.scale.shape


@dataclass
class Conv(Node):
    """``y[c_out] = b[c_out] + sum_{c_in, k} W[c_out, c_in/groups, k] x[c_in, s*o + d*k - p]``.

    ``spatial_shape`` is the input's spatial size (1-D for Conv1d, 2-D for Conv2d).
    """

    weight: np.ndarray = None
    bias: np.ndarray = None
    stride: tuple[int, ...] = ()
    padding: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    groups: int = 1
    spatial_shape: tuple[int, ...] = ()

    def __post_init__(self):
        self.weight = _array(self.weight, "weight", self.name)
        dims = self.weight.ndim - 2
        if dims not in (1, 2) or len(self.spatial_shape) != dims:
            raise CodesignError(
                f"node '{self.name}': weight {self.weight.shape} does not match input size "
                f"{self.spatial_shape}", "export the convolution with matching input_shape")
        self.stride = _integers(self.stride, "stride", self.name, 1, dims)
        self.padding = _integers(self.padding, "padding", self.name, 0, dims)
        self.dilation = _integers(self.dilation, "dilation", self.name, 1, dims)
        self.groups, = _integers(self.groups, "groups", self.name, 1, 1)
        if self.weight.shape[0] % self.groups:
            raise CodesignError(f"node '{self.name}': {self.weight.shape[0]} output channels "
                                f"do not split into {self.groups} groups",
                                "export a groups value that divides the channels")
        self.bias = _broadcast(_array(0.0 if self.bias is None else self.bias, "bias", self.name),
                               (self.weight.shape[0],), "bias", self.name)
        if self.weight.shape[1] * self.groups == 0 or any(s <= 0 for s in self.output_spatial):
            raise CodesignError(f"node '{self.name}': convolution produces an empty output",
                                "check kernel, stride and padding against the input size")

    @property
    def output_spatial(self) -> tuple[int, ...]:
        kernel = self.weight.shape[2:]
        return tuple((size + 2 * p - d * (k - 1) - 1) // s + 1 for size, k, s, p, d in
                     zip(self.spatial_shape, kernel, self.stride, self.padding, self.dilation))

    @property
    def input_shape(self):
        return (self.weight.shape[1] * self.groups, *self.spatial_shape)

    @property
    def output_shape(self):
        return (self.weight.shape[0], *self.output_spatial)


@dataclass
class Pool2d(Node):
    """Sum pooling ``y[c, o] = sum_k x[c, s*o + k - p]``; average pooling divides by the window."""

    kernel_size: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    shape: tuple[int, ...] = ()
    average: bool = False

    def __post_init__(self):
        if len(self.shape) != 3:
            raise CodesignError(f"node '{self.name}': pooling takes [C, H, W] input, not "
                                f"{self.shape}", "export the pooling with a 3-D input_type")
        self.kernel_size = _integers(self.kernel_size, "kernel_size", self.name, 1, 2)
        self.stride = _integers(self.stride, "stride", self.name, 1, 2)
        self.padding = _integers(self.padding, "padding", self.name, 0, 2)

    @property
    def input_shape(self):
        return self.shape

    @property
    def output_shape(self):
        channels, *spatial = self.shape
        return (channels, *((size + 2 * p - k) // s + 1 for size, k, s, p in
                            zip(spatial, self.kernel_size, self.stride, self.padding)))


@dataclass
class Flatten(Node):
    """``y = reshape(x)``, merging dimensions ``start_dim..end_dim`` (batch dimension excluded)."""

    shape: tuple[int, ...] = ()
    start_dim: int = 0
    end_dim: int = -1

    def __post_init__(self):
        dims = len(self.shape)
        (self.start_dim, self.end_dim) = (_integers(value, key, self.name, -dims, 1)[0]
                                          for key, value in (("start_dim", self.start_dim),
                                                             ("end_dim", self.end_dim)))
        if not dims or max(self.start_dim, self.end_dim) >= dims or \
                self.start_dim % dims > self.end_dim % dims:
            raise CodesignError(f"node '{self.name}': start_dim {self.start_dim} .. end_dim "
                                f"{self.end_dim} is not a range of the {dims} dimensions of "
                                f"{self.shape}", "export the flatten with dimensions in range")

    @property
    def input_shape(self):
        return self.shape

    @property
    def output_shape(self):
        dims = len(self.shape)
        start, end = self.start_dim % dims, self.end_dim % dims
        merged = int(np.prod(self.shape[start:end + 1]))
        return (*self.shape[:start], merged, *self.shape[end + 1:])


@dataclass
class Delay(Node):
    """``y(t) = x(t - delay)`` element-wise; delays in seconds, rounded to whole steps."""

    delay: np.ndarray = None

    def __post_init__(self):
        self.delay = _array(self.delay, "delay", self.name)
        if np.any(self.delay < 0):
            raise CodesignError(f"node '{self.name}' has a negative delay", "use delays >= 0")

    @property
    def input_shape(self):
        return self.delay.shape


@dataclass
class NeuronNode(Node):
    """Base of the neuron primitives; every parameter array has the node's shape."""

    is_neuron: ClassVar[bool] = True
    spiking: ClassVar[bool] = True
    parameters: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        arrays = {key: _array(getattr(self, key), key, self.name) for key in self.parameters}
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
        for key, array in arrays.items():
            setattr(self, key, _broadcast(array, shape, key, self.name))
        for key in ("tau", "tau_mem", "tau_syn", "tau_adaptation"):
            if key in arrays and np.any(arrays[key] <= 0):
                raise CodesignError(f"node '{self.name}' has a time constant '{key}' <= 0",
                                    "time constants must be positive seconds")

    @property
    def input_shape(self):
        return getattr(self, self.parameters[0]).shape


@dataclass
class Integrator(NeuronNode):
    """NIR ``I``: ``dv/dt = R x``; ``y = v``."""

    r: np.ndarray = None
    spiking: ClassVar[bool] = False
    parameters: ClassVar[tuple[str, ...]] = ("r",)


@dataclass
class IF(NeuronNode):
    """``dv/dt = R x``; ``y = [v > v_threshold]``, then ``v <- v_reset``."""

    r: np.ndarray = None
    v_threshold: np.ndarray = None
    v_reset: np.ndarray = None
    parameters: ClassVar[tuple[str, ...]] = ("r", "v_threshold", "v_reset")


@dataclass
class LI(NeuronNode):
    """``tau dv/dt = (v_leak - v) + R x``; ``y = v``."""

    tau: np.ndarray = None
    r: np.ndarray = None
    v_leak: np.ndarray = None
    spiking: ClassVar[bool] = False
    parameters: ClassVar[tuple[str, ...]] = ("tau", "r", "v_leak")


@dataclass
class LIF(NeuronNode):
    """``tau dv/dt = (v_leak - v) + R x``; ``y = [v > v_threshold]``, then ``v <- v_reset``."""

    tau: np.ndarray = None
    r: np.ndarray = None
    v_leak: np.ndarray = None
    v_threshold: np.ndarray = None
    v_reset: np.ndarray = None
    parameters: ClassVar[tuple[str, ...]] = ("tau", "r", "v_leak", "v_threshold", "v_reset")


@dataclass
class CubaLI(NeuronNode):
    """``tau_syn dI/dt = -I + w_in x``; ``tau_mem dv/dt = (v_leak - v) + R I``; ``y = v``."""

    tau_syn: np.ndarray = None
    tau_mem: np.ndarray = None
    r: np.ndarray = None
    v_leak: np.ndarray = None
    w_in: np.ndarray = None
    spiking: ClassVar[bool] = False
    parameters: ClassVar[tuple[str, ...]] = ("tau_syn", "tau_mem", "r", "v_leak", "w_in")


@dataclass
class CubaLIF(NeuronNode):
    """``tau_syn dI/dt = -I + w_in x``; ``tau_mem dv/dt = (v_leak - v) + R I``;
    ``y = [v > v_threshold]``, then ``v <- v_reset``."""

    tau_syn: np.ndarray = None
    tau_mem: np.ndarray = None
    r: np.ndarray = None
    v_leak: np.ndarray = None
    v_threshold: np.ndarray = None
    v_reset: np.ndarray = None
    w_in: np.ndarray = None
    parameters: ClassVar[tuple[str, ...]] = ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold",
                                             "v_reset", "w_in")


@dataclass
class Threshold(NeuronNode):
    """Stateless: ``y = [x > threshold]``."""

    threshold: np.ndarray = None
    parameters: ClassVar[tuple[str, ...]] = ("threshold",)


@dataclass
class AdaptiveLIF(NeuronNode):
    """LIF with an adaptive threshold (outside NIR):
    ``tau dv/dt = (v_leak - v) + R x``; ``tau_adaptation da/dt = -a``;
    ``y = [v > v_threshold + a]``, then ``v <- v_reset`` and ``a <- a + adaptation_step``."""

    tau: np.ndarray = None
    r: np.ndarray = None
    v_leak: np.ndarray = None
    v_threshold: np.ndarray = None
    v_reset: np.ndarray = None
    tau_adaptation: np.ndarray = None
    adaptation_step: np.ndarray = None
    parameters: ClassVar[tuple[str, ...]] = ("tau", "r", "v_leak", "v_threshold", "v_reset",
                                             "tau_adaptation", "adaptation_step")


@dataclass
class DiscreteNeuron(NeuronNode):
    """Any neuron after forward-Euler discretisation (the ``discretize`` pass), per step::

        I' = current_decay * I + input_gain * x
        v' = voltage_decay * v + current_gain * I' + leak
        y  = [v' > threshold + a]         (threshold = inf: never spikes, y = v')
        v  = y ? (reset_subtract ? v' - threshold - a : reset_voltage) : v'
        a' = adaptation_decay * a + adaptation_step * y
    """

    current_decay: np.ndarray = None
    input_gain: np.ndarray = None
    voltage_decay: np.ndarray = None
    current_gain: np.ndarray = None
    leak: np.ndarray = None
    threshold: np.ndarray = None
    reset_voltage: np.ndarray = None
    adaptation_decay: np.ndarray = None
    adaptation_step: np.ndarray = None
    reset_subtract: bool = False
    model: str = "LIF"
    parameters: ClassVar[tuple[str, ...]] = (
        "current_decay", "input_gain", "voltage_decay", "current_gain", "leak", "threshold",
        "reset_voltage", "adaptation_decay", "adaptation_step")

    def __post_init__(self):
        arrays = {key: np.asarray(getattr(self, key), dtype=np.float64) for key in self.parameters}
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
        for key, array in arrays.items():
            setattr(self, key, np.broadcast_to(array, shape).astype(np.float64))

    @property
    def spiking_output(self) -> bool:
        return bool(np.all(np.isfinite(self.threshold)))


@dataclass
class DiscreteDelay(Node):
    """``y[t] = x[t - steps]`` element-wise, ``steps`` whole timesteps (after ``discretize``)."""

    steps: np.ndarray = None

    @property
    def input_shape(self):
        return self.steps.shape


LINEAR_NODES = (Affine, Scale, Conv, Pool2d, Flatten)


@dataclass
class Graph:
    """A directed graph of IR nodes. Edges into one node are summed; an edge that closes a cycle
    (a DFS back edge from the input) reads the source's output of the previous timestep."""

    nodes: dict[str, Node]
    edges: list[tuple[str, str]]
    dt: float | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        inputs = [n for n in self.nodes.values() if isinstance(n, Input)]
        outputs = [n for n in self.nodes.values() if isinstance(n, Output)]
        if not inputs:
            raise CodesignError("the graph has no Input node", "add a nir.Input feeding the network")
        if not outputs:
            raise CodesignError("the graph has no Output node",
                                "add a nir.Output fed by the network's last layer")
        if len(inputs) > 1 or len(outputs) != 1:
            raise CodesignError(
                f"the graph has {len(inputs)} Input and {len(outputs)} Output nodes",
                "export a graph with exactly one Input and one Output")
        for name, node in self.nodes.items():
            if any(size <= 0 for size in (*node.input_shape, *node.output_shape)):
                raise CodesignError(f"node '{name}' has an empty shape ({node.input_shape} -> "
                                    f"{node.output_shape}): a size <= 0",
                                    "give every dimension at least one element, or remove the "
                                    "node")
        for source, target in self.edges:
            for end in (source, target):
                if end not in self.nodes:
                    raise CodesignError(f"edge ({source} -> {target}) names unknown node '{end}'",
                                        "fix the graph's edge list")
            produced = int(np.prod(self.nodes[source].output_shape))
            consumed = int(np.prod(self.nodes[target].input_shape))
            if produced != consumed:
                raise CodesignError(
                    f"edge {source} -> {target}: {source} produces shape "
                    f"{self.nodes[source].output_shape} but {target} expects "
                    f"{self.nodes[target].input_shape}", "fix the layer sizes in the exported graph")
        self._check_connected()

    def _check_connected(self) -> None:
        """Every node is fed from the Input; one that does not lead to the Output is a warning
        (a side branch is legal: ``--record`` reads it; but it is often a lost edge)."""
        fed = self.reachable(self.input.name)
        for name in self.nodes:
            if name not in fed:
                raise CodesignError(f"node '{name}' is not reached from the Input "
                                    f"'{self.input.name}'",
                                    f"add the edge that feeds '{name}' or remove the node")
        heard = self.reachable(self.output.name, backwards=True)
        for name in self.nodes:
            if name not in heard:
                warn(f"node '{name}' does not lead to the Output '{self.output.name}': only "
                     "--record sees it", f"add the edge from '{name}' onwards if it should")

    @property
    def input(self) -> Input:
        return next(n for n in self.nodes.values() if isinstance(n, Input))

    @property
    def output(self) -> Output:
        return next(n for n in self.nodes.values() if isinstance(n, Output))

    def predecessors(self, name: str) -> list[str]:
        return [s for s, t in self.edges if t == name]

    def successors(self, name: str) -> list[str]:
        return [t for s, t in self.edges if s == name]

    def reachable(self, start: str, backwards: bool = False) -> set[str]:
        """``start`` and every node a path of edges leads to from it (to it, ``backwards``)."""
        step = self.predecessors if backwards else self.successors
        seen, todo = {start}, [start]
        while todo:
            for other in step(todo.pop()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    def recurrent_edges(self) -> set[tuple[str, str]]:
        """Edges that close a cycle, found as DFS back edges starting from the Input."""
        state: dict[str, str] = {}
        back: set[tuple[str, str]] = set()
        roots = [self.input.name] + [n for n in self.nodes if n != self.input.name]
        for root in roots:
            if root in state:
                continue
            stack = [(root, iter(self.successors(root)))]
            state[root] = "open"
            while stack:
                node, children = stack[-1]
                child = next(children, None)
                if child is None:
                    state[node] = "done"
                    stack.pop()
                elif state.get(child) == "open":
                    back.add((node, child))
                elif child not in state:
                    state[child] = "open"
                    stack.append((child, iter(self.successors(child))))
        return back

    def topological_order(self) -> list[str]:
        """Node names in evaluation order, ignoring recurrent edges."""
        recurrent = self.recurrent_edges()
        forward = [e for e in self.edges if e not in recurrent]
        indegree = {n: 0 for n in self.nodes}
        for _, target in forward:
            indegree[target] += 1
        ready = [n for n in self.nodes if indegree[n] == 0]
        order = []
        while ready:
            node = ready.pop(0)
            order.append(node)
            for source, target in forward:
                if source == node:
                    indegree[target] -= 1
                    if indegree[target] == 0:
                        ready.append(target)
        return order

    def neuron_count(self) -> int:
        return sum(int(np.prod(n.output_shape)) for n in self.nodes.values() if n.is_neuron)

    def dump(self) -> str:
        """Readable text form: one line per node with its shapes and parameter ranges."""
        recurrent = self.recurrent_edges()
        lines = [f"graph: {len(self.nodes)} nodes, {len(self.edges)} edges, "
                 f"{self.neuron_count()} neurons" + (f", dt={self.dt:g}" if self.dt else "")]
        for name in self.topological_order():
            node = self.nodes[name]
            inputs = ", ".join(s + (" (t-1)" if (s, name) in recurrent else "")
                               for s in self.predecessors(name))
            kind = getattr(node, "model", type(node).__name__)
            lines.append(f"  {name}: {kind} {node.input_shape} -> {node.output_shape}"
                         f"  <- [{inputs}]  {node.describe()}".rstrip())
        return "\n".join(lines)
