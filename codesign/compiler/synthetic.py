"""Small random NIR graphs built in code: the tests' networks and the workload a
profile-guided RTL build is trained on (``codesign.flows.rtl_training``)."""

from __future__ import annotations

import nir
import numpy as np


def lif(size: int, rng: np.random.Generator, threshold: float = 1.0) -> nir.LIF:
    """LIF neurons with one random time constant in 2..20 ms, leaking to and reset to 0."""
    return nir.LIF(tau=np.full(size, rng.uniform(2e-3, 2e-2)), r=np.ones(size),
                   v_leak=np.zeros(size), v_threshold=np.full(size, threshold),
                   v_reset=np.zeros(size))


def chain_graph(sizes: list[int], seed: int = 0, recurrent: bool = False,
                density: float = 0.6) -> nir.NIRGraph:
    """input -> Affine -> LIF -> ... (``sizes[0]`` inputs, then one LIF layer per further size)
    with random weights, each kept with probability ``density``; ``recurrent`` adds a Linear
    edge from the first hidden layer back to its own input."""
    rng = np.random.default_rng(seed)
    nodes = {"input": nir.Input(input_type={"input": np.array([sizes[0]])})}
    edges = []
    previous = "input"
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        weight = rng.normal(0.5, 10.0 / np.sqrt(fan_in), (fan_out, fan_in))
        weight *= rng.random(weight.shape) < density
        nodes[f"w{index}"] = nir.Affine(weight=weight, bias=np.zeros(fan_out))
        nodes[f"lif{index}"] = lif(fan_out, rng, threshold=0.5)
        edges += [(previous, f"w{index}"), (f"w{index}", f"lif{index}")]
        if recurrent and index == 0:
            nodes["rec"] = nir.Linear(weight=rng.normal(0.0, 0.5 / np.sqrt(fan_out),
                                                         (fan_out, fan_out)))
            edges += [("lif0", "rec"), ("rec", "lif0")]
        previous = f"lif{index}"
    nodes["output"] = nir.Output(output_type={"output": np.array([sizes[-1]])})
    edges.append((previous, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges)
