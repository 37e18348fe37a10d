"""A network that does not fit: the error names the first limit and every HWConfig change that
makes it fit, found by mapping again (codesign/compiler/analysis/sizing.py)."""

from __future__ import annotations

import re
from pathlib import Path

import nir
import pytest
import yaml

from codesign.arch.config import HWConfig
from codesign.cli import main
from codesign.compiler.analysis.sizing import fitting_config
from codesign.compiler.pipeline import map_network
from codesign.errors import CodesignError, DoesNotFit
from networks import chain, chain_graph

DEFAULT = Path(__file__).resolve().parents[2] / "configs" / "default.yaml"
#: Too small in three limits at once: neurons, source-table entries and synapse words.
CRAMPED = HWConfig(cores=1, neurons_per_core=16, synapse_memory_depth=8, source_table_depth=4)


def _maps(network, config: HWConfig) -> bool:
    try:
        map_network(network, config)
    except DoesNotFit:
        return False
    return True


def _suggestion(message: str) -> dict[str, int]:
    """The ``knob: value`` pairs of the error's fix ("...; use CFG with knob: value, ... (")."""
    fix = message.split("; use ", 1)[1].split(" (", 1)[0]
    return {knob: int(value) for knob, value in re.findall(r"(\w+): (\d+)", fix)}


def test_fitting_config_lifts_every_limit_and_each_change_is_needed():
    network = chain([20, 30, 10], recurrent=True)
    with pytest.raises(DoesNotFit, match="neurons"):
        map_network(network, CRAMPED)
    config, changes = fitting_config(network, CRAMPED)
    assert set(changes) == {"neurons_per_core", "source_table_depth", "synapse_memory_depth"}
    assert _maps(network, config)
    for knob, value in changes.items():
        smaller = value // 2 if value % 2 == 0 else value - 1
        lowered = HWConfig.from_dict({**config.to_dict(),
                                      knob: max(smaller, getattr(CRAMPED, knob))})
        assert not _maps(network, lowered), f"{knob}: {value} is more than needed"


def test_a_network_beyond_every_config_says_so():
    network = chain([4, 70000])
    with pytest.raises(CodesignError) as error:
        map_network(network, CRAMPED)
    assert not isinstance(error.value, DoesNotFit)
    assert "more than the 65536 16-bit spike-source ids of any HWConfig" in str(error.value)


def test_compile_names_a_config_that_fits_and_it_does(tmp_path, capsys):
    nir.write(tmp_path / "model.nir", chain_graph([20, 30, 10], recurrent=True))
    (tmp_path / "cramped.yaml").write_text(CRAMPED.to_yaml())
    argv = ["compile", str(tmp_path / "model.nir"), "--dt", "1e-3", "-o", str(tmp_path / "out")]
    assert main([*argv, "--hw", str(tmp_path / "cramped.yaml")]) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "more than cores x neurons_per_core = 1 x 16" in message
    changes = _suggestion(message)
    assert set(changes) == {"neurons_per_core", "source_table_depth", "synapse_memory_depth"}
    assert "use cramped.yaml with" in message
    fitting = {**yaml.safe_load((tmp_path / "cramped.yaml").read_text()), **changes}
    (tmp_path / "fitting.yaml").write_text(yaml.safe_dump(fitting))
    assert main([*argv, "--hw", str(tmp_path / "fitting.yaml")]) == 0


@pytest.mark.slow
def test_scnn_on_the_default_config_names_a_config_that_holds_it(tmp_path, capsys):
    from nir_cases import shared_case

    model = shared_case("NIR_paper/02_cnn/cnn_sinabs.nir")
    argv = ["compile", str(model), "--dt", "1", "-o", str(tmp_path / "out")]
    assert main([*argv, "--hw", str(DEFAULT)]) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "the network has 8970 neurons" in message
    changes = _suggestion(message)
    assert {"neurons_per_core", "source_table_depth", "synapse_memory_depth"} <= set(changes)
    fitting = {**yaml.safe_load(DEFAULT.read_text()), **changes}
    (tmp_path / "fitting.yaml").write_text(yaml.safe_dump(fitting))
    assert main([*argv, "--hw", str(tmp_path / "fitting.yaml")]) == 0
    assert "core 3: neurons" in capsys.readouterr().out
