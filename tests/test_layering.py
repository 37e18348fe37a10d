"""The package's import layering (docs/architecture.md), checked on the source with ``ast``:
imports inside functions count as much as those at the top of a module.

Layers, lowest first; a module imports only from its own layer or lower ones:

1. ``arithmetic``, ``errors``, ``inputs``, ``outputs``, ``events``, ``cache``
2. ``arch/``: the hardware contract (config, derived widths and word layouts, host protocol)
3. ``compiler/`` and ``hw/`` side by side: neither imports the other
4. ``flows/``: tool flows (Verilog, synthesis, Verilator, bitstreams, the RTL target)
5. ``dse/`` and ``examples/``
6. the command line: ``codesign/cli.py``, ``__main__`` and every ``*/cli.py``

The compiler reaches the RTL only through a runner handed in from above (``codesign run
--target rtl`` passes :func:`codesign.flows.rtl_target.chunk_runner`). One named exception: the
cycle model reads the neuron unit's pipeline depth from the unit itself (``neuron_latency``),
inside a function, so importing the compiler still loads no Amaranth.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import codesign

ROOT = Path(codesign.__file__).parent

#: (importer, imported): the only import across the rules below, and only inside a function.
EXCEPTIONS = {("codesign.compiler.analysis.cycle_model", "codesign.hw.rtl.neuron_unit")}
#: Third-party packages of the hardware side: the compiler and the contract never import them.
HARDWARE_PACKAGES = ("amaranth", "cocotb", "cocotb_tools")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, dict[str, bool]]:
    """``{module: {imported module or name: imported at the top level}}`` for every module of
    the package; ``from a import b`` records ``a`` and ``a.b``."""
    graph = {}
    for path in sorted(ROOT.rglob("*.py")):
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        found: dict[str, bool] = {}

        def add(target: str, node: ast.AST) -> None:
            found[target] = found.get(target, False) or id(node) in top_level

        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, node)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                add(base, node)
                for alias in node.names:
                    add(f"{base}.{alias.name}", node)
        graph[name] = found
    return graph


def internal_edges(graph: dict[str, dict[str, bool]]) -> dict[str, set[str]]:
    """Module -> the package modules it imports (names that are not modules dropped)."""
    return {module: {target for target in targets if target in graph and target != module
                     and not module.startswith(target + ".")}   # a package's own __init__
            for module, targets in graph.items()}


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def excepted(module: str, target: str) -> bool:
    return any(module == importer and within(target, (imported,))
               for importer, imported in EXCEPTIONS)


def is_cli(module: str) -> bool:
    return module in ("codesign.cli", "codesign.__main__") or module.endswith(".cli")


def layer(module: str) -> int:
    if is_cli(module):
        return 6
    area = module.split(".")[1] if "." in module else ""
    return {"": 1, "arithmetic": 1, "errors": 1, "inputs": 1, "outputs": 1, "events": 1, "cache": 1,
            "arch": 2, "compiler": 3, "hw": 3, "flows": 4, "dse": 5, "examples": 5}[area]


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module (the import cycles)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in edges[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return result


def test_no_import_cycles():
    cycles = strongly_connected(internal_edges(imports()))
    assert not cycles, f"modules on an import cycle: {cycles}"


def test_modules_import_only_their_own_layer_or_lower_ones():
    graph = imports()
    wrong = []
    for module, targets in internal_edges(graph).items():
        for target in targets:
            sideways = {module.split(".")[1], target.split(".")[1]} == {"compiler", "hw"}
            if (layer(target) > layer(module) or sideways) and not excepted(module, target):
                wrong.append(f"{module} (layer {layer(module)}) imports {target} "
                             f"(layer {layer(target)})")
    assert not wrong, "\n".join(sorted(wrong))


def test_compiler_and_contract_import_no_rtl_flow_or_amaranth():
    """The compiler and the hardware contract know the hardware only through ``arch``
    (``compiler/cli.py`` is the command line, layer 6, which hands the RTL target in)."""
    forbidden = ("codesign.hw", "codesign.flows", "codesign.dse", *HARDWARE_PACKAGES)
    graph = imports()
    wrong = sorted((module, target) for module, targets in graph.items()
                   if within(module, ("codesign.compiler", "codesign.arch")) and not is_cli(module)
                   for target in targets
                   if within(target, forbidden) and not excepted(module, target))
    assert not wrong, wrong
    for module, target in EXCEPTIONS:
        assert graph[module].get(target) is False, \
            f"the named exception {module} -> {target} must stay inside a function"


def test_only_the_command_line_imports_argparse():
    users = sorted(module for module, targets in imports().items() if "argparse" in targets)
    assert users and all(is_cli(module) for module in users), users


def test_importing_the_compiler_and_the_contract_loads_no_amaranth():
    """At run time as well: every compiler and ``arch`` module imported, no Amaranth module
    loaded (the cycle model's one exception is inside a function)."""
    modules = sorted(name for name in imports()
                     if within(name, ("codesign.compiler", "codesign.arch")) and not is_cli(name))
    script = ("import sys\n" + "".join(f"import {name}\n" for name in modules)
              + "print([m for m in sys.modules if m.split('.')[0] in "
              f"{HARDWARE_PACKAGES!r}])")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]", result.stdout
