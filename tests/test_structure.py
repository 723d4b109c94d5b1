"""The code's structure: no import cycles (function-level imports included), modules of a readable size,
and the teaching package never depends on the course tooling."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("helpers", "tools")
MAX_LINES = 400
REASON = "longer than 400 lines because"  # what a longer module's docstring must say


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules that ``path`` imports anywhere (top level or inside functions)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from pkg import module` imports the module pkg.module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {module for module in found if module in modules and module != name}


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_modules(path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path, monkeypatch):
    """The check itself can fail: a function-level import that closes a circle is found."""
    package = tmp_path / "helpers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from helpers.b import g\n")
    (package / "b.py").write_text("def g():\n    from helpers import a\n")
    (package / "c.py").write_text("from . import a\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    monkeypatch.setattr(__import__(__name__), "PACKAGES", ("helpers",))
    graph = import_graph()
    assert graph["helpers.c"] == {"helpers.a"}
    assert cycles(graph) == [["helpers.a", "helpers.b"]]


def test_no_module_imports_one_that_imports_it_back():
    found = cycles(import_graph())
    assert not found, f"import cycles (function-level imports included): {found}"


def test_the_teaching_package_never_imports_the_tooling():
    graph = import_graph()
    leaks = {name: sorted(m for m in imports if m.startswith("tools")) for name, imports in graph.items()
             if name.startswith("helpers")}
    assert not {name: m for name, m in leaks.items() if m}


def test_notebooks_never_import_the_tooling():
    for script in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        assert not re.search(r"(?m)^\s*(from|import)\s+tools\b", script.read_text()), script.name


@pytest.mark.parametrize("name", sorted(project_modules()))
def test_modules_stay_readable_or_say_why_not(name):
    path = project_modules()[name]
    lines = len(path.read_text().splitlines())
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert lines <= MAX_LINES or REASON in docstring.lower(), (
        f"{path.relative_to(ROOT)} has {lines} lines: split it by concern, or give the reason in its docstring "
        f"('{REASON} ...')")
