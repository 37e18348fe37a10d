"""NIR front end: read a ``.nir`` file (nir 1.0) into the SNN IR, flattening nested graphs."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from codesign.compiler import ir
from codesign.errors import CodesignError, warn

#: NIR primitives the front end imports (all of nir 1.0).
SUPPORTED = ("Input", "Output", "Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d",
             "AvgPool2d", "Flatten", "Delay", "Threshold", "I", "IF", "LI", "LIF", "CubaLI",
             "CubaLIF", "NIRGraph")


#: Keys that nir added to a node type after it first appeared (from the nir release history):
#: a file that lacks one may come from an earlier release.
KEYS_SINCE = {("Conv1d", "input_shape"): "1.0", ("Conv2d", "input_shape"): "1.0",
              ("Flatten", "input_type"): "0.2"}
#: nir releases that introduced a node type after nir 0.1.
TYPES_SINCE = {"SumPool2d": "1.0", "AvgPool2d": "1.0.2", "CubaLI": "1.0.5"}


def _reader() -> str:
    """``nir X``, the nir release that reads the files here."""
    import nir

    return f"nir {nir.__version__}"


def _re_export() -> str:
    """The fix for a file that nir cannot read."""
    return f"re-export the model with {_reader()} (the version codesign reads)"


def _written_by(handle) -> str:
    """``written by nir X`` from the file's ``version`` entry (every ``nir.write`` stores it)."""
    try:
        version = handle["version"][()]
    except (KeyError, TypeError, ValueError):
        return "written by an unknown nir version (the file has no 'version' entry)"
    return f"written by nir {version.decode() if isinstance(version, bytes) else version}"


def _node_groups(group, prefix: str = ""):
    """``(path, group)`` of every node under a stored NIRGraph, depth first."""
    nodes = group.get("nodes")
    if nodes is None or not hasattr(nodes, "keys"):
        return
    for name in nodes:
        child = nodes[name]
        if not hasattr(child, "keys"):
            continue
        yield prefix + name, child
        if "type" in child and child["type"][()] in (b"NIRGraph", "NIRGraph"):
            yield from _node_groups(child, prefix + name + ".")


def _check_structure(path: Path) -> str:
    """Refuse a file without a graph or with a node of no or unknown type; return
    ``written by nir X`` for later messages."""
    import h5py
    import nir

    try:
        with h5py.File(path, "r") as handle:
            written = _written_by(handle)
            top = handle.get("node")
            if top is None or not hasattr(top, "keys") or not len(top) or "nodes" in top and \
                    not len(top["nodes"]):
                raise CodesignError(
                    f"{path} holds no graph (its 'node' group is {'missing' if top is None else 'empty'}"
                    f"; {written}): an export that crashed while writing leaves such a file",
                    "run the export again and check that it finishes without an error")
            nodes = list(_node_groups(top))
            for name, group in nodes:
                if "type" not in group:
                    raise CodesignError(
                        f"node '{name}' of {path} has no key 'type' ({written}), so the file was "
                        "not written completely by nir.write", _re_export())
                kind = group["type"][()]
                kind = kind.decode() if isinstance(kind, bytes) else str(kind)
                if not hasattr(nir, kind):
                    since = f"; nir {TYPES_SINCE[kind]} or later writes it" \
                        if kind in TYPES_SINCE else ""
                    raise CodesignError(
                        f"node '{name}' has unknown type '{kind}' ({written}{since})",
                        f"codesign imports the nir 1.0 primitives {', '.join(SUPPORTED)}")
            if not any(g["type"][()] in (b"Input", "Input") for n, g in nodes if "." not in n):
                # nir 1.0.8 would invent an Input for every node without predecessors.
                raise CodesignError(f"{path} has no Input node",
                                    "add a nir.Input feeding the network")
            return written
    except OSError as error:
        message = " ".join(str(error).split())[:200]
        raise CodesignError(f"{path} is not a readable NIR (HDF5) file ({message})",
                            "the file is truncated or not NIR; re-export it with nir.write") \
            from None


def _node_failure(path: Path, written: str) -> CodesignError | None:
    """The first node that nir cannot build on its own, as a one-line error naming the node
    and the key (None if every node builds, so the failure is in the graph's structure)."""
    import h5py
    import nir
    from nir.serialization import hdf2dict

    with h5py.File(path, "r") as handle:
        stored = hdf2dict(handle["node"])

    def walk(graph: dict, prefix: str):
        for name, node in (graph.get("nodes") or {}).items():
            if node.get("type") == "NIRGraph":
                yield from walk(node, prefix + name + ".")
            else:
                yield prefix + name, node

    for name, node in walk(stored, ""):
        kind = node.get("type")
        try:
            nir.dict2NIRNode(dict(node))
            continue
        except KeyError as error:
            missing = str(error.args[0]) if error.args else "?"
        except TypeError as error:
            text = str(error)
            found = re.search(r"required (?:positional |keyword-only )?arguments?: '(\w+)'", text)
            unexpected = re.search(r"unexpected keyword argument '(\w+)'", text)
            if unexpected:
                known = sorted(f.name for f in dataclasses.fields(getattr(nir, kind))
                               if f.init and f.name != "metadata")
                return CodesignError(
                    f"node '{name}' ({kind}) has a key '{unexpected.group(1)}' that {_reader()} "
                    f"does not know ({written}; {_reader()}'s {kind} has {', '.join(known)}): "
                    "the file comes from another nir version", _re_export())
            if not found:
                return CodesignError(f"{_reader()} cannot build node '{name}' ({kind}, {written}): "
                                     f"{' '.join(text.split())[:160]}", _re_export())
            missing = found.group(1)
        except (ValueError, AssertionError, AttributeError, IndexError) as error:
            text = " ".join(str(error).split())[:160] or type(error).__name__
            return CodesignError(f"{_reader()} cannot build node '{name}' ({kind}, {written}): "
                                 f"{text}", _re_export())
        since = KEYS_SINCE.get((kind, missing))
        origin = f"; nir before {since} wrote {kind} without it" if since else \
            "; the file comes from another nir version or an exporter that wrote it by hand"
        return CodesignError(f"node '{name}' ({kind}) has no key '{missing}', which "
                             f"{_reader()} needs ({written}{origin})", _re_export())
    return None


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
    Rockpool write port types that nir 1.0.8's checker rejects but the graph is sound). A file
    nir cannot read is refused naming the node and the key at fault and the nir version that
    wrote it."""
    import nir

    path = Path(path)
    if path.is_dir():
        raise CodesignError(f"{path} is a directory, not a NIR file", "pass the path of a .nir file")
    if not path.is_file():
        raise CodesignError(f"{path} does not exist", "pass the path of a .nir file")
    written = _check_structure(path)
    stored = _stored_types(path)
    failure = None
    for type_check in (True, False):
        try:
            graph = nir.read(path, type_check=type_check)
            _check_invented(graph, stored)
            return graph
        except (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError,
                AssertionError, ArithmeticError) as error:
            failure = failure or error
    node_error = _node_failure(path, written)
    if node_error is not None:
        raise node_error
    message = " ".join(str(failure).split())[:200] or type(failure).__name__
    raise CodesignError(f"{_reader()} rejects {path} ({written}): {message}", _re_export())


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
    return ir.Graph(nodes=converted, edges=edges, metadata=dict(nir_graph.metadata or {}))


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
