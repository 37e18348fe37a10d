"""NIR front end: read a ``.nir`` file (nir 1.0) into the SNN IR, flattening nested graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.compiler import ir
from codesign.errors import CodesignError, warn

#: NIR primitives the front end imports (all of nir 1.0).
SUPPORTED = ("Input", "Output", "Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d",
             "AvgPool2d", "Flatten", "Delay", "Threshold", "I", "IF", "LI", "LIF", "CubaLI",
             "CubaLIF", "NIRGraph")


def _stored_types(path: Path) -> dict[str, str]:
    """Top-level node name -> type as stored in the file (before nir interprets it)."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            nodes = handle["node/nodes"]
            return {name: nodes[name]["type"][()].decode() for name in nodes
                    if "type" in nodes[name]}
    except (OSError, KeyError, AttributeError, TypeError, ValueError):
        return {}


def read_nir(path: str | Path):
    """Read a NIR file with nir 1.0, retrying without type checks (older exporters such as
    Rockpool write port types that nir 1.0.8's checker rejects but the graph is sound)."""
    import nir

    path = Path(path)
    if path.is_dir():
        raise CodesignError(f"{path} is a directory, not a NIR file", "pass the path of a .nir file")
    if not path.is_file():
        raise CodesignError(f"{path} does not exist", "pass the path of a .nir file")
    stored = _stored_types(path)
    unknown = {name: kind for name, kind in stored.items() if not hasattr(nir, kind)}
    if unknown:
        name, kind = next(iter(unknown.items()))
        raise CodesignError(f"node '{name}' has unknown type '{kind}'",
                            f"codesign imports the nir 1.0 primitives {', '.join(SUPPORTED)}")
    if stored and "Input" not in stored.values():
        # nir 1.0.8 would invent an Input for every node without predecessors.
        raise CodesignError(f"{path} has no Input node", "add a nir.Input feeding the network")
    failure = None
    for type_check in (True, False):
        try:
            graph = nir.read(path, type_check=type_check)
            _check_invented(graph, stored)
            return graph
        except (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError,
                AssertionError, ArithmeticError) as error:
            failure = failure or error
    message = " ".join(str(failure).split())[:200] or type(failure).__name__
    if isinstance(failure, OSError):
        cause = f"{path} is not a readable NIR (HDF5) file ({message})"
        fix = "the file is truncated or not NIR; re-export it with nir.write"
    else:
        cause = f"nir 1.0 rejects {path}: {message}"
        fix = "re-export the model with a nir 1.0 exporter"
    raise CodesignError(cause, fix)


def _check_invented(graph, stored: dict[str, str]) -> None:
    """nir 1.0.8's type check invents an Input for a node nothing feeds (an error, named here
    instead of counting Inputs) and an Output for a node that feeds nothing (dropped again: the
    IR warns about such a side branch)."""
    for name in [name for name in graph.nodes if name not in stored] if stored else ():
        for source, target in graph.edges:
            if source == name:
                raise CodesignError(f"node '{target}' has no incoming edge",
                                    f"add the edge that feeds '{target}' or remove the node")
        del graph.nodes[name]
        graph.edges[:] = [edge for edge in graph.edges if name not in edge]


def _input_shape(node, fallback):
    types = getattr(node, "input_type", None) or {}
    shape = np.asarray(types.get("input", []))
    if shape.size and shape.ndim == 1 and shape.dtype.kind in "iu" and np.all(shape > 0):
        return ir._shape(shape)
    if fallback is None:
        raise CodesignError(f"cannot infer the input shape of a {type(node).__name__} node",
                            "export the graph with input_type set")
    return fallback


def _convert(name: str, node, fallback_shape) -> ir.Node:
    kind = type(node).__name__
    if kind == "Input":
        return ir.Input(name, shape=ir._shape(node.input_type["input"], "shape", name))
    if kind == "Output":
        return ir.Output(name, shape=ir._shape(node.output_type["output"], "shape", name))
    if kind in ("Affine", "Linear"):
        return ir.Affine(name, weight=node.weight,
                         bias=getattr(node, "bias", None) if kind == "Affine" else
                         np.zeros(np.shape(node.weight)[0]))
    if kind == "Scale":
        return ir.Scale(name, scale=node.scale)
    if kind in ("Conv1d", "Conv2d"):
        if isinstance(node.padding, str):
            raise CodesignError(f"node '{name}' uses padding='{node.padding}'",
                                "export the convolution with numeric padding")
        spatial = ir._shape(node.input_shape, "input_shape", name) \
            if node.input_shape is not None else \
            _input_shape(node, fallback_shape)[1:]
        return ir.Conv(name, weight=node.weight, bias=node.bias, stride=node.stride,
                       padding=node.padding, dilation=node.dilation, groups=node.groups,
                       spatial_shape=spatial)
    if kind in ("SumPool2d", "AvgPool2d"):
        return ir.Pool2d(name, kernel_size=node.kernel_size, stride=node.stride,
                         padding=node.padding,
                         shape=_input_shape(node, fallback_shape), average=kind == "AvgPool2d")
    if kind == "Flatten":
        return ir.Flatten(name, shape=_input_shape(node, fallback_shape),
                          start_dim=node.start_dim, end_dim=node.end_dim)
    if kind == "Delay":
        return ir.Delay(name, delay=node.delay)
    if kind == "Threshold":
        return ir.Threshold(name, threshold=node.threshold)
    if kind == "I":
        return ir.Integrator(name, r=node.r)
    reset = {"v_reset": getattr(node, "v_reset", None)}
    if kind in ("IF", "LIF", "CubaLIF") and reset["v_reset"] is None:
        reset["v_reset"] = 0.0
    if kind == "IF":
        return ir.IF(name, r=node.r, v_threshold=node.v_threshold, **reset)
    if kind == "LI":
        return ir.LI(name, tau=node.tau, r=node.r, v_leak=node.v_leak)
    if kind == "LIF":
        return ir.LIF(name, tau=node.tau, r=node.r, v_leak=node.v_leak,
                      v_threshold=node.v_threshold, **reset)
    if kind == "CubaLI":
        return ir.CubaLI(name, tau_syn=node.tau_syn, tau_mem=node.tau_mem, r=node.r,
                         v_leak=node.v_leak, w_in=getattr(node, "w_in", 1.0))
    if kind == "CubaLIF":
        return ir.CubaLIF(name, tau_syn=node.tau_syn, tau_mem=node.tau_mem, r=node.r,
                          v_leak=node.v_leak, v_threshold=node.v_threshold,
                          w_in=getattr(node, "w_in", 1.0), **reset)
    raise CodesignError(f"node '{name}' has unsupported type {kind}",
                        f"codesign imports the nir 1.0 primitives {', '.join(SUPPORTED[:-1])}")


def _flatten(graph, prefix: str = "") -> tuple[dict, list]:
    """Nodes and edges with nested NIRGraphs inlined; inner Input/Output become pass-throughs."""
    nodes, edges, entry, exit_ = {}, [], {}, {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if type(node).__name__ == "NIRGraph":
            inner_nodes, inner_edges = _flatten(node, full + ".")
            nodes.update(inner_nodes)
            edges.extend(inner_edges)
            entry[full] = [n for n, v in inner_nodes.items()
                           if n.count(".") == full.count(".") + 1 and type(v).__name__ == "Input"]
            exit_[full] = [n for n, v in inner_nodes.items()
                           if n.count(".") == full.count(".") + 1 and type(v).__name__ == "Output"]
        else:
            nodes[full] = node
    for source, target in graph.edges:
        sources = exit_.get(prefix + source, [prefix + source])
        targets = entry.get(prefix + target, [prefix + target])
        edges.extend((s, t) for s in sources for t in targets)
    return nodes, edges


def _remove_passthroughs(nodes: dict, edges: list, keep: set) -> tuple[dict, list]:
    """Drop inner Input/Output nodes of inlined subgraphs, wiring their neighbours directly."""
    for name in [n for n, v in nodes.items()
                 if n not in keep and type(v).__name__ in ("Input", "Output")]:
        incoming = [s for s, t in edges if t == name]
        outgoing = [t for s, t in edges if s == name]
        edges = [e for e in edges if name not in e] + [(s, t) for s in incoming for t in outgoing]
        del nodes[name]
    return nodes, edges


def nir_to_ir(nir_graph) -> ir.Graph:
    """Convert an in-memory ``nir.NIRGraph`` to the SNN IR."""
    nodes, edges = _flatten(nir_graph)
    top_level = {n for n in nodes if "." not in n or n in nir_graph.nodes}
    nodes, edges = _remove_passthroughs(nodes, edges, top_level)
    for source, target in edges:
        for end in (source, target):
            if end not in nodes:
                raise CodesignError(f"edge ({source} -> {target}) names unknown node '{end}'",
                                    "fix the graph's edge list")
    converted: dict[str, ir.Node] = {}
    pending = list(nodes)
    while pending:
        progressed = False
        for name in list(pending):
            sources = [s for s, t in edges if t == name]
            known = [converted[s].output_shape for s in sources if s in converted]
            needs_shape = type(nodes[name]).__name__ in ("SumPool2d", "AvgPool2d", "Flatten",
                                                         "Conv1d", "Conv2d")
            if needs_shape and not known and any(s not in converted for s in sources):
                continue
            converted[name] = _convert(name, nodes[name], known[0] if known else None)
            pending.remove(name)
            progressed = True
        if not progressed:
            name = pending[0]
            converted[name] = _convert(name, nodes[name], None)
            pending.remove(name)
    return ir.Graph(nodes=converted, edges=edges)


def warn_suspicious(graph: ir.Graph) -> None:
    """Warn (:func:`codesign.errors.warn`) about what is legal but almost surely a mistake: a
    threshold <= 0 and a recurrent edge that is delayed by one step without a Delay node."""
    for name, node in graph.nodes.items():
        threshold = getattr(node, "v_threshold", None)
        if threshold is not None and np.any(threshold <= 0):
            warn(f"node '{name}' has v_threshold <= 0 for {int(np.sum(threshold <= 0))} of "
                 f"{threshold.size} neurons: they spike on every step from rest",
                 "use a positive threshold")
    for source, target in sorted(graph.recurrent_edges()):
        if not any(isinstance(graph.nodes[name], ir.Delay)
                   for name in _cycle(graph, source, target)):
            warn(f"edge {source} -> {target} closes a loop without a Delay node: codesign "
                 f"reads '{source}' of the previous timestep (t-1) there",
                 "that is how recurrent exports are read; add a nir.Delay to the loop to state "
                 "a longer delay")


def _cycle(graph: ir.Graph, source: str, target: str) -> set[str]:
    """The nodes on loops closed by the edge ``source -> target``: reached from ``target``
    and reaching ``source``."""
    return graph.reachable(target) & graph.reachable(source, backwards=True)


def load(path: str | Path) -> ir.Graph:
    """Read ``path`` and return its SNN IR, or raise a one-line :class:`CodesignError`; warn
    about legal but suspicious parts (:func:`warn_suspicious`)."""
    graph = nir_to_ir(read_nir(path))
    warn_suspicious(graph)
    return graph
