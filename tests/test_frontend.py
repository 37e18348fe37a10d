"""NIR front end: every nir 1.0 primitive, subgraph flattening, graph rules."""

import nir
import numpy as np

from codesign.compiler import frontend, ir
from codesign.compiler.pipeline import CompileOptions, discretized
from codesign.compiler.float_reference import simulate
from nir_cases import shared_case


def _graph(nodes, edges):
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def test_every_nir_primitive_imports():
    one = np.ones(4)
    nodes = {
        "input": nir.Input(input_type=np.array([1, 4, 4])),
        "conv": nir.Conv2d(input_shape=(4, 4), weight=np.ones((2, 1, 3, 3)), stride=1, padding=1,
                           dilation=1, groups=1, bias=np.zeros(2)),
        "sum": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                             padding=np.array([0, 0])),
        "avg": nir.AvgPool2d(kernel_size=np.array([1, 1]), stride=np.array([1, 1]),
                             padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([2, 2, 2])}, start_dim=0, end_dim=-1),
        "affine": nir.Affine(weight=np.ones((4, 8)), bias=np.zeros(4)),
        "scale": nir.Scale(scale=one),
        "delay": nir.Delay(delay=np.full(4, 2e-4)),
        "if": nir.IF(r=one, v_threshold=one, v_reset=0 * one),
        "linear": nir.Linear(weight=np.eye(4)),
        "lif": nir.LIF(tau=one * 1e-3, r=one, v_leak=0 * one, v_threshold=one, v_reset=0 * one),
        "cubalif": nir.CubaLIF(tau_syn=one * 1e-3, tau_mem=one * 1e-3, r=one, v_leak=0 * one,
                               v_threshold=one, v_reset=0 * one, w_in=one),
        "threshold": nir.Threshold(threshold=one),
        "li": nir.LI(tau=one * 1e-3, r=one, v_leak=0 * one),
        "cubali": nir.CubaLI(tau_syn=one * 1e-3, tau_mem=one * 1e-3, r=one, v_leak=0 * one,
                             w_in=one),
        "integrator": nir.I(r=one),
        "conv1": nir.Conv1d(input_shape=4, weight=np.ones((1, 1, 1)), stride=1, padding=0,
                            dilation=1, groups=1, bias=np.zeros(1)),
        "output": nir.Output(output_type=np.array([4])),
    }
    chain = ["input", "conv", "sum", "avg", "flat", "affine", "scale", "delay", "if", "linear",
             "lif", "cubalif", "threshold"]
    edges = list(zip(chain, chain[1:])) + [("threshold", "li"), ("li", "cubali"),
                                           ("cubali", "integrator"), ("threshold", "output"),
                                           ("threshold", "conv1"), ("conv1", "output"),
                                           ("integrator", "output")]
    graph = frontend.nir_to_ir(_graph(nodes, edges))
    kinds = {type(node).__name__ for node in graph.nodes.values()}
    assert {"Input", "Conv", "Pool2d", "Flatten", "Affine", "Scale", "Delay", "IF", "LIF",
            "CubaLIF", "Threshold", "LI", "CubaLI", "Integrator", "Output"} <= kinds
    assert graph.nodes["sum"].output_shape == (2, 2, 2)
    assert graph.nodes["conv"].output_shape == (2, 4, 4)
    assert graph.neuron_count() == 7 * 4  # if, lif, cubalif, threshold, li, cubali, integrator


def test_nested_subgraph_is_flattened():
    one = np.ones(3)
    inner = _graph({"in": nir.Input(input_type=np.array([3])),
                    "lif": nir.LIF(tau=one * 1e-3, r=one, v_leak=0 * one, v_threshold=one,
                                   v_reset=0 * one),
                    "out": nir.Output(output_type=np.array([3]))},
                   [("in", "lif"), ("lif", "out")])
    outer = _graph({"input": nir.Input(input_type=np.array([3])),
                    "lin": nir.Linear(weight=np.eye(3)), "block": inner,
                    "output": nir.Output(output_type=np.array([3]))},
                   [("input", "lin"), ("lin", "block"), ("block", "output")])
    graph = frontend.nir_to_ir(outer)
    assert "block.lif" in graph.nodes
    assert ("lin", "block.lif") in graph.edges and ("block.lif", "output") in graph.edges


def test_edges_into_one_port_are_summed_and_recurrent_edges_read_previous_step():
    one = np.ones(1)
    nodes = {"input": nir.Input(input_type=np.array([1])),
             "a": nir.Linear(weight=np.array([[2.0]])), "b": nir.Linear(weight=np.array([[3.0]])),
             "n": nir.I(r=one), "rec": nir.Linear(weight=np.array([[10.0]])),
             "output": nir.Output(output_type=np.array([1]))}
    edges = [("input", "a"), ("input", "b"), ("a", "n"), ("b", "n"), ("n", "rec"), ("rec", "n"),
             ("n", "output")]
    graph = discretized(frontend.nir_to_ir(_graph(nodes, edges)), CompileOptions(dt=1.0))
    assert graph.recurrent_edges() == {("rec", "n")}
    result = simulate(graph, np.array([1.0, 0.0, 0.0]).reshape(3, 1, 1))
    # v1 = 2+3 = 5; v2 = 5 + 10*v1 = 55; v3 = 55 + 10*55 = 605 (recurrence reads t-1)
    assert result.output.ravel().tolist() == [5.0, 55.0, 605.0]


def test_lif_rockpool_loads_without_type_check():
    graph = frontend.load(shared_case("NIR_paper/01_lif/lif_rockpool.nir"))
    assert graph.neuron_count() == 1
    assert any(isinstance(node, ir.LIF) for node in graph.nodes.values())


def test_dump_names_every_node():
    graph = frontend.load(shared_case("NIR_paper/03_rnn/braille_noDelay_bias_zero.nir"))
    text = graph.dump()
    for name in graph.nodes:
        assert name in text
    assert "lif1.w_rec (t-1)" in text and "45 neurons" in text
