"""Hypothesis: random NIR graphs (layer sizes, neuron models, recurrence, delays, sparsity, biases,
per-neuron or shared parameters, dead-end branches, weight and state widths, reset modes)
compiled to C agree bit for bit with the golden model. The C is built with the strict warning
flags at -O0."""

import os

import nir
import numpy as np
from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from codesign.compiler import float_reference, frontend, golden
from codesign.compiler.backends.c_backend import generate_fixed, generate_float
from codesign.compiler.backends.c_runner import STRICT_FLAGS
from codesign.compiler.passes.fuse import Fuse
from codesign.compiler.pipeline import CompileOptions, discretized, quantized
from c_helpers import assert_bit_exact, run_sources

DT = 1e-3
HIDDEN_MODELS = ("LIF", "CubaLIF", "IF", "Threshold")


def _neuron(model: str, size: int, rng: np.random.Generator, shared: bool):
    def values(low, high):
        return np.full(size, rng.uniform(low, high)) if shared else rng.uniform(low, high, size)

    if model == "LIF":
        return nir.LIF(tau=values(2e-3, 1e-2), r=values(0.5, 2.0), v_leak=values(-0.1, 0.1),
                       v_threshold=values(0.2, 1.0), v_reset=values(-0.3, 0.1))
    if model == "CubaLIF":
        return nir.CubaLIF(tau_syn=values(2e-3, 1e-2), tau_mem=values(2e-3, 1e-2),
                           r=values(0.5, 2.0), v_leak=values(-0.1, 0.1),
                           v_threshold=values(0.2, 1.0), v_reset=values(-0.2, 0.1),
                           w_in=values(0.5, 2.0))
    if model == "IF":
        return nir.IF(r=values(0.5, 2.0), v_threshold=values(0.5, 3.0),
                      v_reset=values(-0.5, 0.0))
    if model == "Threshold":
        return nir.Threshold(threshold=values(0.0, 1.0))
    return nir.LI(tau=values(2e-3, 5e-2), r=values(0.5, 2.0), v_leak=values(-0.1, 0.1))


@st.composite
def random_networks(draw):
    """``(nir graph, options, inputs)``."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    input_size = draw(st.integers(1, 10))
    depth = draw(st.integers(1, 3))
    models = [draw(st.sampled_from(HIDDEN_MODELS)) for _ in range(depth)]
    if draw(st.booleans()):
        models[-1] = "LI"  # non-spiking read-out
    nodes = {"input": nir.Input(input_type={"input": np.array([input_size])})}
    edges, previous, previous_size = [], "input", input_size
    for layer, model in enumerate(models):
        size = draw(st.integers(1, 12))
        density = draw(st.sampled_from([1.0, 0.6, 0.25]))
        weight = rng.normal(0.5, 1.0, (size, previous_size)) * (rng.random((size, previous_size))
                                                                 < density)
        delayed = draw(st.booleans())
        if draw(st.booleans()):
            nodes[f"affine{layer}"] = nir.Affine(weight=weight, bias=rng.normal(0.0, 0.2, size))
        else:
            nodes[f"affine{layer}"] = nir.Linear(weight=weight)
        nodes[f"neuron{layer}"] = _neuron(model, size, rng, draw(st.booleans()))
        edges.append((previous, f"affine{layer}"))
        if delayed:  # a delay line of 1..3 steps per neuron
            nodes[f"delay{layer}"] = nir.Delay(delay=rng.integers(1, 4, size) * DT)
            edges += [(f"affine{layer}", f"delay{layer}"), (f"delay{layer}", f"neuron{layer}")]
        else:
            edges.append((f"affine{layer}", f"neuron{layer}"))
        if model != "LI" and draw(st.booleans()):  # recurrence: reads the previous step
            recurrent = rng.normal(0.0, 0.7, (size, size)) * (rng.random((size, size)) < density)
            nodes[f"recurrent{layer}"] = nir.Affine(weight=recurrent,
                                                    bias=rng.normal(0.0, 0.2, size)) \
                if draw(st.booleans()) else nir.Linear(weight=recurrent)
            edges += [(f"neuron{layer}", f"recurrent{layer}"),
                      (f"recurrent{layer}", f"neuron{layer}")]
        previous, previous_size = f"neuron{layer}", size
    nodes["output"] = nir.Output(output_type={"output": np.array([previous_size])})
    edges.append((previous, "output"))
    if draw(st.booleans()):  # a dead-end branch: simulated, but read by nobody
        nodes["side_weight"] = nir.Linear(weight=rng.normal(0.5, 1.0, (3, input_size)))
        nodes["side"] = _neuron(draw(st.sampled_from(HIDDEN_MODELS + ("LI",))), 3, rng, False)
        edges += [("input", "side_weight"), ("side_weight", "side")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    options = CompileOptions(dt=DT, reset=draw(st.sampled_from(["zero", "subtract"])),
                             weight_bits=draw(st.integers(2, 16)),
                             state_bits=draw(st.integers(8, 32)))
    steps, batch = draw(st.integers(1, 40)), draw(st.integers(1, 3))
    inputs = rng.integers(1, 4, (steps, batch, input_size)) * (rng.random((steps, batch,
                                                                           input_size)) < 0.5)
    return graph, options, inputs.astype(np.float64)


EXAMPLES = int(os.environ.get("CODESIGN_HYPOTHESIS_EXAMPLES", 50))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=random_networks())
def test_random_graphs_are_bit_exact(case, tmp_path_factory):
    graph, options, inputs = case
    network = quantized(frontend.nir_to_ir(graph), options)
    expected = golden.simulate(network, inputs, record=True)
    spikes = sum(int(record["spikes"].sum()) for record in expected.records.values())
    target(float(spikes), label="spikes")  # steer the search towards active networks
    event("spiking" if spikes else "silent")
    result = run_sources(generate_fixed(network, "random graph"),
                         tmp_path_factory.mktemp("random"), inputs,
                         flags=(*STRICT_FLAGS, "-O0"))
    assert_bit_exact(result, expected)


@settings(max_examples=max(EXAMPLES // 2, 1), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=random_networks(), real_valued=st.booleans())
def test_random_graphs_in_float_mode_match_the_float_reference(case, real_valued,
                                                               tmp_path_factory):
    """Same graphs in double precision: voltages within 1e-5, spikes exact (the C sums a
    neuron's inputs in another order than the reference, so only the last bits may differ)."""
    graph, options, inputs = case
    if real_valued:
        inputs = inputs * np.random.default_rng(0).random(inputs.shape)
    discrete = discretized(frontend.nir_to_ir(graph), options)
    reference = float_reference.simulate(discrete, inputs, record=True)
    result = run_sources(generate_float(Fuse().apply(discrete), "random graph"),
                         tmp_path_factory.mktemp("random_float"), inputs,
                         flags=(*STRICT_FLAGS, "-O0"))
    np.testing.assert_allclose(result.output, reference.output, rtol=0, atol=1e-5)
    for name, record in reference.records.items():
        voltage = result.records[name]["voltage"].reshape(record["v"].shape)
        np.testing.assert_allclose(voltage, record["v"], rtol=0, atol=1e-5, err_msg=name)
