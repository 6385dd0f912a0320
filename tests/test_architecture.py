"""The package's shape: one subpackage per concern, no import circle, and no module reaching
into another package's private modules except through that package's `__init__`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import attndsl

ROOT = Path(attndsl.__file__).resolve().parent
#: packages installed inside `attndsl` from the repository's top-level folders
TOP_LEVEL = {"compiler", "grammar", "prompts"}
CONCERNS = {"lang", "models", "synth", "rundir", "views", "pipeline", "cli", "bench", *TOP_LEVEL}


def _folders() -> dict[str, Path]:
    import importlib

    found = {"attndsl": ROOT}
    for name in TOP_LEVEL:
        module = importlib.import_module(f"attndsl.{name}")
        found[f"attndsl.{name}"] = Path(module.__file__).resolve().parent
    return found


def _modules() -> dict[str, Path]:
    """Every module of the package, by dotted name (the starter library's DSL files aside)."""
    modules = {}
    for package, folder in _folders().items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if "library" in parts or (package == "attndsl" and parts[0] in TOP_LEVEL):
                continue
            name = ".".join([package, *(p for p in parts if p != "__init__")])
            modules[name] = path
    return modules


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The package modules `name` imports anywhere in its text (function bodies and
    `TYPE_CHECKING` blocks included): `from P import x` reaches `P.x` when that is a module,
    else `P` itself."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                target = f"{source}.{alias.name}"
                found.add(target if target in MODULES else source)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _circles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return circles


def _concern(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in CONCERNS else None


def test_every_concern_is_a_package_with_a_docstring():
    for concern in CONCERNS:
        init = MODULES.get(f"attndsl.{concern}")
        assert init is not None, concern
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), concern


def test_the_graph_sees_the_package():
    assert len(MODULES) > 60 and "attndsl.compiler._kernel" in MODULES
    assert (
        "attndsl.lang._program" in GRAPH["attndsl.compiler._kernel"]
        or "attndsl.lang" in GRAPH["attndsl.compiler._kernel"]
    )


def test_no_import_circle():
    assert _circles() == []


def test_a_circle_is_found():
    """The check itself: a circle added to the graph is reported."""
    GRAPH["attndsl.lang._ast"].add("attndsl.lang._program")
    try:
        assert any("attndsl.lang._ast" in circle for circle in _circles())
    finally:
        GRAPH["attndsl.lang._ast"].discard("attndsl.lang._program")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_private_modules_are_reached_only_from_their_own_package(module):
    """`attndsl.P._m` is imported only by modules of `P`; others go through `P`'s
    `__init__`. Top-level private modules (`attndsl._io`, `attndsl._lazy`) serve everyone."""
    for target in GRAPH[module]:
        leaf = target.rpartition(".")[2]
        if leaf.startswith("_") and _concern(target) is not None:
            assert _concern(target) == _concern(module), f"{module} imports {target}"


def test_the_light_commands_do_not_import_torch():
    """`import attndsl` and the command line's program commands stay fast: torch, Numba and
    transformers are imported only when a command needs them."""
    code = (
        "import sys, attndsl, attndsl.cli, attndsl.models, attndsl.rundir; "
        "attndsl.library()['previous_token'](['a', ' b']); "
        "print(sorted({'torch', 'numba', 'transformers'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
