"""Cycles and delays (docs/compiler.md, "Cycles and delays"): where a cycle reads the previous
step, biases inside cycles and ahead of delay lines, and the same answer from the float reference,
`fuse` and the golden model. Expected values are worked out by hand in the comments."""

import nir
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from codesign.compiler import float_reference, frontend, golden, ir
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.pipeline import CompileOptions, discretized, quantized
from codesign.errors import CodesignError

DT = 1e-4


def _rleaky(beta: float, threshold: float, w_in: np.ndarray, w_rec: np.ndarray,
            b_rec: np.ndarray) -> nir.NIRGraph:
    """The graph snnTorch's ``export_to_nir`` writes for ``Linear -> RLeaky(all_to_all)``: the
    recurrent layer is a subgraph lif -> w_rec -> lif, with r = tau/dt and tau = dt/(1 - beta)."""
    size = len(b_rec)
    tau = np.full(size, DT / (1 - beta))
    block = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([size])),
        "lif": nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros(size),
                       v_threshold=np.full(size, threshold), v_reset=np.zeros(size)),
        "w_rec": nir.Affine(weight=w_rec, bias=b_rec),
        "output": nir.Output(output_type=np.array([size]))},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        type_check=False)
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([w_in.shape[1]])),
        "fc": nir.Linear(weight=w_in), "rleaky": block,
        "output": nir.Output(output_type=np.array([size]))},
        edges=[("input", "fc"), ("fc", "rleaky"), ("rleaky", "output")], type_check=False)


def _spike_steps(output: np.ndarray) -> list[int]:
    return np.nonzero(output.reshape(len(output), -1)[:, 0])[0].tolist()


def test_rleaky_cycle_breaks_at_the_spike_output_so_the_recurrent_bias_acts_from_step_0():
    # One neuron, beta 0.5, threshold 1, no input, no recurrent weight, b_rec = 0.6:
    # v0 = 0.6, v1 = 0.3 + 0.6 = 0.9, v2 = 0.45 + 0.6 = 1.05 > 1: spike, reset to 0; then again
    # 0.6, 0.9, 1.05 -> spikes at 2, 5, 8. (Without b_rec at step 0 they would be at 3, 6, 9.)
    graph = frontend.nir_to_ir(_rleaky(0.5, 1.0, np.ones((1, 1)), np.zeros((1, 1)),
                                       np.array([0.6])))
    assert graph.recurrent_edges() == {("rleaky.lif", "rleaky.w_rec")}
    discrete = discretized(graph, CompileOptions(dt=DT))
    zeros = np.zeros((10, 1, 1))
    reference = float_reference.simulate(discrete, zeros, record=True)
    assert _spike_steps(reference.output) == [2, 5, 8]
    np.testing.assert_allclose(reference.records["rleaky.lif"]["v"].ravel()[:3], [0.6, 0.9, 0.0])
    layers = Fuse().apply(discrete)
    assert layers.population("rleaky.lif").bias.tolist() == pytest.approx([0.6])
    fixed = golden.simulate(quantized(graph, CompileOptions(dt=DT)), zeros)
    assert _spike_steps(fixed.output) == [2, 5, 8]


def test_rleaky_spike_trains_follow_the_recurrence_with_s_minus_1_zero():
    """Several neurons with recurrent weights and biases, against the recurrence written out:
    v_t = beta v_{t-1} + W_in x_t + W_rec s_{t-1} + b_rec, s_{-1} = 0, spike if v_t > 1, then
    v_t = 0 (codesign's default reset)."""
    rng = np.random.default_rng(3)
    size, inputs, steps, beta = 6, 4, 60, 0.8
    w_in = rng.normal(0.4, 0.3, (size, inputs))
    w_rec = rng.normal(0.0, 0.5, (size, size))
    b_rec = rng.normal(0.1, 0.1, size)
    x = (rng.random((steps, inputs)) < 0.3).astype(np.float64)
    v, s, expected = np.zeros(size), np.zeros(size), []
    for t in range(steps):
        v = beta * v + w_in @ x[t] + w_rec @ s + b_rec
        s = (v > 1.0).astype(np.float64)
        v = np.where(s > 0, 0.0, v)
        expected.append(s)
    graph = frontend.nir_to_ir(_rleaky(beta, 1.0, w_in, w_rec, b_rec))
    reference = float_reference.simulate(discretized(graph, CompileOptions(dt=DT)),
                                         x[:, None, :])
    np.testing.assert_array_equal(reference.output[:, 0], np.array(expected))
    assert np.sum(expected) > 20


def _chain(nodes: dict, edges: list) -> ir.Graph:
    return ir.Graph(nodes=nodes, edges=edges)


def _if(name: str, threshold: float = 0.5) -> ir.IF:
    return ir.IF(name, r=np.ones(1), v_threshold=np.full(1, threshold), v_reset=np.zeros(1))


def _weight(name: str, value: float, bias: float = 0.0) -> ir.Affine:
    return ir.Affine(name, weight=np.array([[value]]), bias=np.array([bias]))


def test_two_neuron_cycle_delays_the_edge_leaving_the_later_neuron():
    nodes = {"input": ir.Input("input", shape=(1,)), "a": _if("a"), "w_ab": _weight("w_ab", 1.0),
             "b": _if("b"), "w_ba": _weight("w_ba", 1.0), "output": ir.Output("output", shape=(1,))}
    edges = [("input", "a"), ("a", "w_ab"), ("w_ab", "b"), ("b", "w_ba"), ("w_ba", "a"),
             ("b", "output")]
    graph = _chain(nodes, edges)
    assert graph.recurrent_edges() == {("b", "w_ba")}
    order = graph.topological_order()  # w_ba reads b's previous step, so it may come first
    assert [name for name in order if name != "w_ba"] == ["input", "a", "w_ab", "b", "output"]
    assert order.index("w_ba") < order.index("a")


def test_a_cycle_without_a_neuron_is_refused_naming_it():
    nodes = {"input": ir.Input("input", shape=(1,)), "n": _if("n"), "p": _weight("p", 1.0),
             "q": _weight("q", 0.5), "output": ir.Output("output", shape=(1,))}
    edges = [("input", "p"), ("p", "q"), ("q", "p"), ("q", "n"), ("n", "output")]
    with pytest.raises(CodesignError, match=r"the cycle p -> q -> p contains no neuron; every "
                                            r"recurrent loop must pass through a neuron layer"):
        _chain(nodes, edges)


def test_bias_ahead_of_a_delay_line_acts_from_step_0_in_the_reference_and_in_fuse():
    # input -w=2, b=0.25-> delay of 2 steps -> integrator (r = 1, dt = 1): the network is at rest
    # before t = 0, so the delay line already holds the bias; the input pulse at t = 0 arrives
    # at t = 2. v_t = 0.25 (t + 1) + 2 [t >= 2] = 0.25, 0.5, 2.75, 3.0, 3.25.
    nodes = {"input": ir.Input("input", shape=(1,)), "w": _weight("w", 2.0, bias=0.25),
             "delay": ir.Delay("delay", delay=np.array([2.0])), "n": ir.Integrator("n", r=np.ones(1)),
             "output": ir.Output("output", shape=(1,))}
    graph = _chain(nodes, [("input", "w"), ("w", "delay"), ("delay", "n"), ("n", "output")])
    discrete = discretized(graph, CompileOptions(dt=1.0))
    pulse = np.array([1.0, 0, 0, 0, 0]).reshape(5, 1, 1)
    reference = float_reference.simulate(discrete, pulse)
    np.testing.assert_allclose(reference.output.ravel(), [0.25, 0.5, 2.75, 3.0, 3.25])
    layers = Fuse().apply(discrete)
    assert layers.population("n").bias.tolist() == [0.25]
    assert [(p.source, p.delay) for p in layers.projections] == [("input", 2)]


def test_a_cycle_through_a_delay_is_broken_by_the_delay_with_no_implied_step():
    # n (IF, threshold 0.5) -> delay of 2 steps -> w (1.0) -> n. A pulse at t = 0 fires n at 0;
    # the spike comes back 2 steps later, and again: spikes at 0, 2, 4, 6, 8.
    nodes = {"input": ir.Input("input", shape=(1,)), "n": _if("n"),
             "delay": ir.Delay("delay", delay=np.array([2.0])), "w": _weight("w", 1.0),
             "output": ir.Output("output", shape=(1,))}
    edges = [("input", "n"), ("n", "delay"), ("delay", "w"), ("w", "n"), ("n", "output")]
    discrete = discretized(_chain(nodes, edges), CompileOptions(dt=1.0))
    assert discrete.recurrent_edges() == set() and discrete.held_edges() == {("n", "delay")}
    pulse = np.zeros((9, 1, 1))
    pulse[0] = 1.0
    assert _spike_steps(float_reference.simulate(discrete, pulse).output) == [0, 2, 4, 6, 8]
    layers = Fuse().apply(discrete)
    assert [(p.source, p.target, p.delay) for p in layers.projections] == [
        ("input", "n", 0), ("n", "n", 2)]
    network = quantized(_chain(nodes, edges), CompileOptions(dt=1.0))
    assert _spike_steps(golden.simulate(network, pulse.astype(np.int64)).output) == [0, 2, 4, 6, 8]


def test_a_delay_with_a_zero_step_element_does_not_break_a_cycle():
    # Element delays of 0 and 1 step: the 0-step element would be instantaneous, so the cycle
    # reads the previous step at n's output and the 1-step element adds to it (2 steps in all).
    nodes = {"input": ir.Input("input", shape=(2,)),
             "n": ir.IF("n", r=np.ones(2), v_threshold=np.full(2, 0.5), v_reset=np.zeros(2)),
             "delay": ir.Delay("delay", delay=np.array([0.0, 1.0])),
             "w": ir.Affine("w", weight=np.eye(2), bias=np.zeros(2)),
             "output": ir.Output("output", shape=(2,))}
    edges = [("input", "n"), ("n", "delay"), ("delay", "w"), ("w", "n"), ("n", "output")]
    discrete = discretized(_chain(nodes, edges), CompileOptions(dt=1.0))
    assert discrete.recurrent_edges() == {("n", "delay")} and discrete.held_edges() == set()
    pulse = np.zeros((7, 1, 2))
    pulse[0] = 1.0
    output = float_reference.simulate(discrete, pulse).output[:, 0]
    assert np.nonzero(output[:, 0])[0].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert np.nonzero(output[:, 1])[0].tolist() == [0, 2, 4, 6]


KINDS = ("neuron", "linear", "delay", "zero-delay")


@settings(max_examples=200, deadline=None)
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=7),
       extra=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=12))
def test_cycle_breaking_leaves_an_acyclic_forward_graph_for_any_graph(kinds, extra):
    """Random graphs of one-element nodes, cycles anywhere: either refused (a cycle without a
    neuron) or every node is ordered, every recurrent edge leaves a neuron, every held edge
    enters a Delay of >= 1 step, and the float reference runs."""
    make = {"neuron": lambda n: _if(n), "linear": lambda n: _weight(n, 0.5, 0.1),
            "delay": lambda n: ir.DiscreteDelay(n, steps=np.array([2])),
            "zero-delay": lambda n: ir.DiscreteDelay(n, steps=np.array([0]))}
    names = [f"{kind}{index}" for index, kind in enumerate(kinds)]
    nodes = {"input": ir.Input("input", shape=(1,)), "output": ir.Output("output", shape=(1,))}
    nodes.update({name: make[kind](name) for name, kind in zip(names, kinds)})
    edges = [("input", names[0])] + list(zip(names, names[1:])) + [(names[-1], "output")]
    edges += [(names[a % len(names)], names[b % len(names)]) for a, b in extra]
    try:
        graph = ir.Graph(nodes=nodes, edges=edges)
    except CodesignError as error:
        assert "contains no neuron" in str(error)
        return
    order = graph.topological_order()
    assert sorted(order) == sorted(nodes)
    recurrent, held = graph.recurrent_edges(), graph.held_edges()
    position = {name: index for index, name in enumerate(order)}
    for source, target in set(edges) - recurrent - held:
        assert position[source] < position[target]
    assert all(nodes[source].is_neuron for source, _ in recurrent)
    assert all(isinstance(nodes[target], ir.DiscreteDelay) and nodes[target].steps.min() >= 1
               for _, target in held)
    pulse = np.ones((4, 1, 1))
    discrete = discretized(graph, CompileOptions(dt=1.0))
    assert float_reference.simulate(discrete, pulse).output.shape == (4, 1, 1)
