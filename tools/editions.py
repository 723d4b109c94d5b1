"""Editions of the course from one source: the solution edition (the committed notebooks) and
the student edition, in which every exercise's solution is replaced by a stub.

Cell tags in the percent scripts (``# %% tags=["solution"]``) drive it:

- a ``solution`` code cell starts with ``# Exercise N (kind): <what to do>``; in the student
  edition it keeps that line, its imports, every function's signature and docstring (the body
  raises ``NotImplementedError("Exercise N: <what to do>")``) and the names it assigns (set to
  ``None``, followed by the same ``raise``), so the check that follows finds the names it needs;
- a ``debug`` exercise's solution cell holds the fixed code, each fixed line ending in
  ``# planted bug: <the broken line>``; the student edition starts from the broken lines instead;
- a ``solution`` markdown cell (a model answer) is removed;
- ``solution`` and ``check`` cells lose their outputs.

Command line: ``python -m tools.editions student [NOTEBOOK ...] [--out build/student]``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from pathlib import Path

import nbformat

from helpers.settings import display_path
from tools.notebooks import BUILD_DIR, is_check, is_solution, notebook_paths, read_notebook

KINDS = ("predict", "debug", "extend", "implement")
HEADER = re.compile(r"^#\s*Exercise\s+(\d+)\s*(?:\((%s)\)\s*)?:\s*(.+?)\s*$" % "|".join(KINDS))
PLANTED = re.compile(r"^(\s*)(.*?)\s*#\s*planted bug:\s?(.*)$")
STUDENT_DIR = BUILD_DIR / "student"



def exercise_header(source: str) -> tuple[int, str]:
    """(N, what to do) from a solution cell's first line ``# Exercise N (kind): <what to do>``.

    The kind in parentheses (predict, debug, extend or implement) is optional.
    """
    first = source.lstrip().splitlines()[0] if source.strip() else ""
    match = HEADER.match(first)
    if not match:
        raise ValueError(f"A solution code cell must start with '# Exercise N (kind): <what to do>' "
                         f"(kind one of {', '.join(KINDS)}, optional), got {first!r}.")
    return int(match.group(1)), match.group(3)


def exercise_kind(source: str) -> str | None:
    """The kind named in a solution cell's header (predict, debug, extend, implement), or None."""
    exercise_header(source)
    return HEADER.match(source.lstrip().splitlines()[0]).group(2)


def planted_source(source: str) -> str:
    """A debug exercise's starting code: every line marked ``# planted bug: <code>`` becomes that code.

    The solution cell holds the fixed code, and each fixed line carries its broken version in the
    marker; the student edition gets the broken lines (indentation kept, markers gone).
    """
    number, _ = exercise_header(source)
    lines, planted = [], 0
    for line in source.splitlines():
        match = PLANTED.match(line)
        if match:
            indent, _fixed, broken = match.groups()
            lines.append(indent + broken if broken.strip() else indent + "pass")
            planted += 1
        else:
            lines.append(line)
    if not planted:
        raise ValueError(f"Exercise {number} is a debug exercise but no line carries a '# planted bug: <code>' "
                         f"marker with the broken version.")
    broken = "\n".join(lines) + "\n"
    try:
        ast.parse(broken)
    except SyntaxError as error:
        raise ValueError(f"Exercise {number}: the code with its planted bug is not valid Python ({error}).") from None
    return broken


def stub_source(source: str) -> str:
    """The student's version of a solution cell: names and signatures kept, every solution line gone."""
    number, what = exercise_header(source)
    message = f"Exercise {number}: {what}"
    raise_line = f"raise NotImplementedError({message!r})"
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ValueError(f"Exercise {number}: the solution cell is not valid Python ({error}).") from None
    kept, names = [source.lstrip().splitlines()[0]], []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            kept.append(ast.get_source_segment(source, node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kept.append(_function_stub(node, raise_line))
        elif isinstance(node, ast.ClassDef):
            kept.append(_class_stub(node, raise_line))
        else:  # assignments, and names bound inside for/while/if/with/try blocks
            names.extend(name for name in _bound_names(node) if name not in names)
    if names:
        kept.extend([*(f"{name} = None" for name in names), raise_line])
    return "\n\n".join(kept) + "\n"


def _function_stub(node, raise_line: str) -> str:
    stub = copy.deepcopy(node)
    docstring = ast.get_docstring(node, clean=False)
    body = [ast.Expr(ast.Constant(docstring))] if docstring is not None else []
    stub.body = body + [ast.parse(raise_line).body[0]]
    return ast.unparse(stub)


def _class_stub(node, raise_line: str) -> str:
    """The class with its bases and docstring; every method a stub."""
    stub = copy.deepcopy(node)
    docstring = ast.get_docstring(node, clean=False)
    body = [ast.Expr(ast.Constant(docstring))] if docstring is not None else []
    methods = [ast.parse(_function_stub(item, raise_line)).body[0] for item in node.body
               if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))]
    stub.body = body + methods or [ast.Pass()]
    return ast.unparse(stub)


def _bound_names(node) -> list[str]:
    """Names a top-level statement binds in the cell's scope (not inside functions, classes or comprehensions)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return []
    targets = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor, ast.NamedExpr)):
        targets = [node.target]
    elif isinstance(node, ast.withitem) and node.optional_vars is not None:
        targets = [node.optional_vars]
    names = [name for target in targets for name in _assigned_names(target)]
    if isinstance(node, ast.ExceptHandler) and node.name:
        names.append(node.name)
    for child in ast.iter_child_nodes(node):
        names.extend(_bound_names(child))
    return names


def _assigned_names(target) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in _assigned_names(element)]
    if isinstance(target, ast.Starred):
        return _assigned_names(target.value)
    return []  # attributes and subscripts change existing objects: nothing to keep


def student_edition(notebook):
    """A copy of ``notebook`` with solutions stubbed, model answers removed, exercise outputs cleared."""
    student = copy.deepcopy(notebook)
    cells = []
    for cell in student.cells:
        if is_solution(cell) and cell.cell_type == "markdown":
            continue
        if is_solution(cell) and cell.cell_type == "code":
            debug = exercise_kind(cell.source) == "debug"
            cell.source = planted_source(cell.source) if debug else stub_source(cell.source)
        if cell.cell_type == "code" and (is_solution(cell) or is_check(cell)):
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    student.cells = cells
    return student


def without_solutions(notebook, drop_checks: bool = False):
    """A copy of ``notebook`` without its solution cells (and without check cells if asked): for slides."""
    shown = copy.deepcopy(notebook)
    shown.cells = [cell for cell in shown.cells if not is_solution(cell) and not (drop_checks and is_check(cell))]
    return shown



def write_student_editions(paths, out_dir=STUDENT_DIR) -> list[Path]:
    """Write the student edition of every notebook in ``paths`` into ``out_dir``; return the files."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        target = out_dir / (Path(path).stem + ".ipynb")
        try:
            student = student_edition(read_notebook(path))
        except ValueError as error:
            raise ValueError(f"{display_path(path)}: {error}") from None
        nbformat.write(student, target)
        written.append(target)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.editions", description=__doc__.split("\n\n")[0])
    parser.add_argument("edition", choices=["student"], help="which edition to build")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks (.ipynb or paired .py); default: every notebooks/NN_*.ipynb")
    parser.add_argument("--out", type=Path, default=STUDENT_DIR, help="output folder (default: build/student)")
    args = parser.parse_args(argv)
    paths = args.notebooks or notebook_paths()
    try:
        written = write_student_editions(paths, args.out)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"student edition: {len(written)} notebook(s) in {display_path(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
