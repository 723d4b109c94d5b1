"""The student edition runs: the lecture without errors, every check failing with its exercise's hint.

Slow (it executes every notebook in quick mode): `make student-test` runs it, as part of `make test`;
`make unit` leaves it out (marker `student_run`).
"""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tools import editions
from tools.notebooks import ROOT, notebook_paths

NOTEBOOKS = notebook_paths()
EXERCISES = "## Exercises"


def errors(cell):
    return [output for output in cell.get("outputs", []) if output.output_type == "error"]


def run_student_edition(notebook: Path, out_dir: Path):
    """Build the student edition of ``notebook`` and execute it in quick mode, errors allowed."""
    (path,) = editions.write_student_editions([notebook], out_dir)
    student = nbformat.read(path, as_version=4)
    env = {"COURSE_QUICK": "1", "MPLBACKEND": "Agg"}
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        NotebookClient(student, timeout=600, allow_errors=True, kernel_name="python3",
                       resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    finally:
        for key, value in old.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    nbformat.write(student, path)
    return student


@pytest.mark.student_run
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_edition_fails_only_in_the_exercises_and_with_hints(notebook):
    student = run_student_edition(notebook, ROOT / "build" / "student")
    cells = student.cells
    start = next(i for i, cell in enumerate(cells)
                 if cell.cell_type == "markdown" and cell.source.lstrip().startswith(EXERCISES))
    for index, cell in enumerate(cells[:start]):
        assert not errors(cell), f"lecture cell {index} fails in the student edition: {errors(cell)[0].evalue}"
    exercise = None
    for index, cell in enumerate(cells[start:], start=start):
        if cell.cell_type != "code":
            continue
        failures = errors(cell)
        if editions.is_solution(cell):
            exercise = editions.exercise_header(cell.source)[0]
            assert all(f.ename == "NotImplementedError" for f in failures), (
                f"stub of exercise {exercise} (cell {index}) fails for another reason: {failures[0].evalue}")
        elif editions.is_check(cell):
            assert failures, f"check cell {index} passes in the student edition: it cannot fail"
            (failure,) = failures
            assert failure.ename in ("AssertionError", "ExerciseFailed"), (
                f"check cell {index} fails with {failure.ename}: {failure.evalue}")
            assert failure.evalue.startswith(f"Exercise {exercise}" if exercise else "Exercise"), (
                f"check cell {index}: the hint should name its exercise: {failure.evalue}")
        else:
            assert not failures, f"cell {index} (neither stub nor check) fails: {failures[0].evalue}"
