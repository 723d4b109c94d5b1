"""Every notebook is paired with its percent script, in sync, and reads as a lecture."""

import jupytext
import pytest

from tools.notebooks import notebook_paths, script_paths

NOTEBOOKS = notebook_paths()


def cells(path):
    notebook = jupytext.read(path)
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_there_are_notebooks_and_every_one_is_paired():
    scripts = script_paths()
    assert NOTEBOOKS, "no notebooks found"
    assert [p.stem for p in NOTEBOOKS] == [p.stem for p in scripts]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_ipynb_and_py_are_in_sync(notebook):
    assert cells(notebook) == cells(notebook.with_suffix(".py")), (
        f"{notebook.name} and its .py differ: run `make sync`"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_reads_as_a_lecture(notebook):
    content = cells(notebook)
    first = content[0]
    assert first[0] == "markdown" and "learn" in first[1].lower(), "open with what the student will learn"
    # It ends with a summary and checked exercises: tests/test_editions.py checks that structure.
    assert any("NBVAL_CHECK_OUTPUT" in source for kind, source in content if kind == "code"), (
        "at least one cell must have its output checked by nbval"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_outputs_from_a_full_run(notebook):
    notebook_json = jupytext.read(notebook)
    code = [cell for cell in notebook_json.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code), f"{notebook.name}: run `make publish`"
    text = "".join(str(output) for cell in code for output in cell.get("outputs", []))
    assert "quick mode: off" in text, f"{notebook.name} was not executed at full quality"
