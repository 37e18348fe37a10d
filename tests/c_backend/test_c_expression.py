"""The tracer: constant folding, shared sub-expressions, and the C ``asr`` helper against Python's
floor shift (which the golden model's numpy ``>>`` matches)."""

import re
import shutil
import subprocess

import numpy as np
import pytest
import scipy.sparse as sparse

from codesign import arithmetic
from codesign.compiler.backends.c_backend import generate_fixed
from codesign.compiler.backends.c_expression import Block, Expression, select, variable
from codesign.compiler.layer_ir import QuantizedNetwork, QuantizedPopulation, QuantizedProjection

GCC = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc on PATH")


def test_constants_fold_and_identities_vanish():
    x = variable("x")
    assert 0 * x == 0 and (1 * x) is x and (x + 0) is x and (x - 0) is x
    assert select(1, x, 5) is x and select(0, x, 5) == 5
    assert select(x > 3, 7, 7) == 7
    assert (x >> 0) is x
    assert isinstance(x << 3, Expression)


def test_traced_saturation_shares_its_operand():
    value = variable("a") * 3 + variable("b")
    block = Block("int64_t", {"result": arithmetic.saturate(value, 8, select)})
    # The sum is used three times (two comparisons, one branch): computed once.
    assert block.lines == [
        "const int64_t t0 = ((a * 3) + b);",
        "const int64_t result = ((t0 > 127) ? 127 : ((t0 < -128) ? -128 : t0));"]
    assert block.variables == {"a", "b"}


def test_truth_value_of_a_traced_expression_is_an_error():
    try:
        bool(variable("x") > 1)
    except TypeError:
        return
    raise AssertionError("branching on a traced value must fail")


def _tiny_network() -> QuantizedNetwork:
    ones = lambda value: np.array([value], dtype=np.int64)
    parameters = arithmetic.NeuronParameters(
        current_decay=ones(0), input_gain=ones(1 << 16), bias=ones(0), voltage_decay=ones(1 << 16),
        current_gain=ones(1 << 16), leak=ones(0), threshold=ones(100), reset_voltage=ones(0),
        reset_subtract=ones(0), adaptation_decay=ones(0), adaptation_step=ones(0))
    population = QuantizedPopulation("n", (1,), "IF", parameters, True, 1.0, 1.0, 1.0)
    projection = QuantizedProjection("in", "n", sparse.csr_matrix(np.ones((1, 1), np.int64)))
    return QuantizedNetwork("in", (1,), [population], [projection], "n", (1,), 8, 16, 1.0, "zero")


@GCC
def test_asr_is_a_floor_shift(tmp_path):
    source = generate_fixed(_tiny_network()).model_c
    helper = re.search(r"static inline int64_t asr\(.*?\n}\n", source, re.S).group(0)
    rng = np.random.default_rng(0)
    values = [0, 1, -1, 2, -2, (1 << 62), -(1 << 62), (1 << 62) - 1, -(1 << 62) + 1]
    values += [int(v) for v in rng.integers(-(1 << 62), 1 << 62, 200)]
    values += [int(v) for v in rng.integers(-5000, 5000, 200)]
    program = tmp_path / "asr.c"
    program.write_text("#include <stdint.h>\n#include <stdio.h>\n" + helper + """
int main(void) {
    long long value; int shift;
    while (scanf("%lld %d", &value, &shift) == 2) printf("%lld\\n", (long long)asr(value, shift));
    return 0;
}
""")
    subprocess.run(["gcc", "-std=c11", "-O2", "-fsanitize=undefined", "-fno-sanitize-recover=all",
                    "-o", "asr", "asr.c"], cwd=tmp_path, check=True)
    pairs = [(v, s) for v in values for s in (1, 4, 16, 17, 31, 40, 62)]
    stdin = "".join(f"{v} {s}\n" for v, s in pairs)
    result = subprocess.run([tmp_path / "asr"], input=stdin, capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == [str(v >> s) for v, s in pairs]


@GCC
def test_population_names_are_escaped_into_c_strings(tmp_path):
    network = _tiny_network()
    name = 'odd "name" \\ ??= é'
    network.populations[0].name = name
    network.projections[0].target = network.output = name
    generate_fixed(network).write(tmp_path, with_main=False)
    (tmp_path / "names.c").write_text('#include <stdio.h>\n#include "model.h"\n'
                                      'int main(void) { fputs(snn_population_name(0), stdout); '
                                      'return 0; }\n')
    subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o", "names",
                    "model.c", "names.c"], cwd=tmp_path, check=True)
    result = subprocess.run([tmp_path / "names"], capture_output=True, check=True)
    assert result.stdout.decode() == name
