"""snnTorch round trips: each model exported by snnTorch's own ``export_to_nir`` gives, in
``codesign simulate --mode float``, exactly snnTorch's spike trains on every test sample, layer
by layer; at 8-bit weights the golden model keeps snnTorch's predictions."""

import numpy as np
import pytest

from roundtrip import Case, assert_active, compare, export, predictions

pytestmark = pytest.mark.xdist_group("interop-snntorch-norse")

MODELS = ["leaky_mlp", "per_neuron_beta", "rleaky", "synaptic", "conv_pool"]


@pytest.fixture(scope="module")
def exported(digits, tmp_path_factory):
    return export("snntorch-norse", "snntorch_models.py", digits,
                  tmp_path_factory.mktemp("snntorch"))


@pytest.mark.parametrize("model", MODELS)
def test_float_spike_trains_are_snntorchs(exported, model):
    case = Case(exported, model)
    layers = compare(case, case.simulate("--mode", "float"))
    assert_active(layers)
    differing = [layer.describe() for layer in layers if layer.differing]
    assert not differing, "\n".join(differing)


@pytest.mark.parametrize("model", MODELS)
def test_fixed_point_keeps_snntorchs_predictions(exported, model):
    case = Case(exported, model)
    fixed = case.simulate("--mode", "golden", "--weight-bits", "8", tag="golden")
    theirs = predictions(case.framework_spikes()[case.output_node()])
    agreement = float(np.mean(predictions(fixed["output"]) == theirs))
    accuracy = float(np.mean(theirs == case.labels()))
    assert accuracy > 0.8, f"snnTorch's own accuracy {accuracy:.1%}: the task is not learnt"
    assert agreement >= 0.9, f"fixed point keeps {agreement:.1%} of snnTorch's predictions"
