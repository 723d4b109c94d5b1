"""The student edition: stubs keep what the checks need, no line of a solution survives."""


import jupytext
import nbformat
import pytest

from tools import editions
from tools.notebooks import notebook_paths

SOLUTION = '''# Exercise 2: compute IG from a gray baseline
import torch
from helpers.attribution import integrated_gradients


def ig_from_gray(model, x, target, n_steps=32):
    """IG of `target` at `x` from a mid-gray baseline."""
    gray = torch.full_like(x, 0.5)
    return integrated_gradients(model, x, target, baseline=gray, n_steps=n_steps)


answer, (low, high) = ig_from_gray(None, None, 0), (1, 2)
print(answer)
'''


def notebook_with_exercise():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Title\nWhat you will learn"),
        nbformat.v4.new_code_cell("x = 1", execution_count=1,
                                  outputs=[nbformat.v4.new_output("stream", text="lecture output")]),
        nbformat.v4.new_markdown_cell("### Exercise 2: IG from gray"),
        nbformat.v4.new_code_cell(SOLUTION, metadata={"tags": ["solution"]}, execution_count=2,
                                  outputs=[nbformat.v4.new_output("stream", text="solution output")]),
        nbformat.v4.new_code_cell("check(ig_from_gray, exercise=2)", metadata={"tags": ["check"]}, execution_count=3,
                                  outputs=[nbformat.v4.new_output("stream", text="Exercise 2 passed")]),
        nbformat.v4.new_markdown_cell("**Model answer.** Because gray is not black.", metadata={"tags": ["solution"]}),
    ]
    return notebook


def test_stub_keeps_signature_docstring_imports_and_names_and_raises():
    stub = editions.stub_source(SOLUTION)
    assert stub.startswith("# Exercise 2: compute IG from a gray baseline")
    assert "def ig_from_gray(model, x, target, n_steps=32):" in stub
    assert "IG of `target` at `x` from a mid-gray baseline." in stub
    assert "from helpers.attribution import integrated_gradients" in stub
    assert "answer = None" in stub and "low = None" in stub and "high = None" in stub
    for solution_line in ("torch.full_like(x, 0.5)", "baseline=gray", "print(answer)", "(1, 2)"):
        assert solution_line not in stub
    namespace = {}
    with pytest.raises(NotImplementedError, match="^Exercise 2: compute IG from a gray baseline$"):
        exec(stub, namespace)
    assert namespace["answer"] is None
    with pytest.raises(NotImplementedError, match="Exercise 2"):
        namespace["ig_from_gray"](None, None, 0)


def test_a_solution_cell_without_its_header_is_a_clear_error():
    with pytest.raises(ValueError, match=r"must start with '# Exercise N \(kind\): <what to do>'"):
        editions.stub_source("def f():\n    return 1\n")
    with pytest.raises(ValueError, match="kind one of predict, debug, extend, implement"):
        editions.stub_source("# Exercise 2 (guess): a kind the course does not have\nx = 1\n")


def test_the_exercise_kind_is_read_and_kept_out_of_the_message():
    stub = editions.stub_source("# Exercise 3 (predict): which map passes?\nprediction = 'A'\n")
    assert "prediction = None" in stub and "'A'" not in stub
    assert "NotImplementedError('Exercise 3: which map passes?')" in stub


def test_student_edition_removes_answers_and_clears_exercise_outputs():
    student = editions.student_edition(notebook_with_exercise())
    sources = [cell.source for cell in student.cells]
    assert not any("Model answer" in source for source in sources)
    lecture, stub, check = student.cells[1], student.cells[3], student.cells[4]
    assert lecture.outputs and lecture.execution_count == 1
    assert stub.outputs == [] and check.outputs == [] and check.execution_count is None
    assert check.source == "check(ig_from_gray, exercise=2)"


def test_write_student_editions_is_idempotent_and_writes_only_there(tmp_path):
    source = tmp_path / "src" / "09_demo.ipynb"
    source.parent.mkdir()
    nbformat.write(notebook_with_exercise(), source)
    out = tmp_path / "student"
    first = editions.write_student_editions([source], out)
    content = first[0].read_bytes()
    second = editions.write_student_editions([source], out)
    assert first == second == [out / "09_demo.ipynb"] and second[0].read_bytes() == content
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["09_demo.ipynb", "09_demo.ipynb"]


def test_command_line_reports_a_missing_notebook(tmp_path, capsys):
    assert editions.main(["student", str(tmp_path / "nope.ipynb"), "--out", str(tmp_path)]) == 2
    assert "Notebook not found" in capsys.readouterr().err


# --------------------------------------------------------------------------- the course's own notebooks

NOTEBOOKS = notebook_paths()


def solution_lines(notebook) -> set[str]:
    """Lines that only solution cells contain (not stub-kept lines, not lines found elsewhere)."""
    elsewhere = {line.strip() for cell in notebook.cells if not editions.is_solution(cell)
                 for line in cell.source.splitlines()}
    lines = set()
    for cell in notebook.cells:
        if not editions.is_solution(cell):
            continue
        kept, source = set(), cell.source
        if cell.cell_type == "code" and editions.exercise_kind(source) == "debug":  # the fixes are the solution
            source = "\n".join(m.group(2) for m in map(editions.PLANTED.match, source.splitlines()) if m)
            kept = {line.strip() for line in editions.planted_source(cell.source).splitlines()}
        elif cell.cell_type == "code":
            kept = {line.strip() for line in editions.stub_source(source).splitlines()}
        lines |= {line.strip() for line in source.splitlines()} - kept - elsewhere
    return {line for line in lines if len(line) >= 8 and not line.startswith(('"""', "#"))}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_solution_line_survives_in_the_student_edition(notebook):
    original = jupytext.read(notebook)
    student_text = "\n".join(cell.source for cell in editions.student_edition(original).cells)
    student_lines = {line.strip() for line in student_text.splitlines()}
    leaked = solution_lines(original) & student_lines
    assert not leaked, f"solution lines left in the student edition: {sorted(leaked)[:5]}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_checked_exercises_after_the_lecture(notebook):
    cells = jupytext.read(notebook).cells
    headings = [i for i, cell in enumerate(cells) if cell.cell_type == "markdown"
                and cell.source.lstrip().startswith("## Exercises")]
    assert headings, "no '## Exercises' section"
    start = headings[0]
    assert any(cell.source.lstrip().startswith("## Summary") for cell in cells[:start]), "no summary before it"
    tagged = [i for i, cell in enumerate(cells) if editions.is_solution(cell) or editions.is_check(cell)]
    assert tagged and min(tagged) > start, "exercise cells must come after '## Exercises'"
    checks = [cell for cell in cells if editions.is_check(cell)]
    numbers = {editions.exercise_header(cell.source)[0] for cell in cells
               if editions.is_solution(cell) and cell.cell_type == "code"}
    exercises = [cell for cell in cells[start:] if cell.cell_type == "markdown"
                 and cell.source.lstrip().startswith("### Exercise")]
    assert len(exercises) >= 3, "at least 3 exercises"
    assert len(checks) >= 2 and len(numbers) >= 2, "at least 2 programming exercises with a check"
    assert all("exercise=" in cell.source for cell in checks), "every check names its exercise"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_two_kinds_of_thinking_exercise(notebook):
    """Issue 17: at least two of predict, debug, extend in every notebook, each followed by a check."""
    cells = jupytext.read(notebook).cells
    kinds = set()
    for index, cell in enumerate(cells):
        if cell.cell_type == "code" and editions.is_solution(cell):
            kind = editions.exercise_kind(cell.source)
            following = next((c for c in cells[index + 1:] if c.cell_type == "code"), None)
            assert following is not None and editions.is_check(following), f"exercise without a check: {cell.source[:60]!r}"
            kinds.add(kind)
    assert len(kinds & {"predict", "debug", "extend"}) >= 2, f"only {sorted(kinds)}"


def test_names_bound_in_blocks_and_classes_survive_as_stubs():
    """A solution with a class, a loop, an if and a with keeps every name the check needs."""
    source = ("# Exercise 4 (extend): build it\n"
              "import math\n"
              "class Rollout:\n    \"\"\"Attention rollout.\"\"\"\n    def __call__(self, maps):\n        return maps\n"
              "total = 0\n"
              "for step in range(3):\n    total += step\n"
              "if total > 1:\n    verdict = 'big'\nelse:\n    verdict = 'small'\n"
              "with open(__file__) as handle:\n    first = handle.readline()\n"
              "squares = [k * k for k in range(3)]\n")
    stub = editions.stub_source(source)
    namespace = {"__file__": __file__}
    with pytest.raises(NotImplementedError, match="Exercise 4: build it"):
        exec(stub, namespace)
    assert {"total", "step", "verdict", "handle", "first", "squares", "Rollout"} <= set(namespace)
    assert "k" not in namespace and "total += step" not in stub and "'big'" not in stub
    with pytest.raises(NotImplementedError):
        namespace["Rollout"]()([1])
    assert namespace["Rollout"].__doc__ == "Attention rollout."


DEBUG = '''# Exercise 3 (debug): find and fix the bug in ig_by_hand
import torch


def ig_by_hand(grads, x, baseline):
    """IG from the path gradients (one per row)."""
    average = grads.mean(dim=0)
    return (x - baseline) * average  # planted bug: return average
    if False:
        print("never")  # planted bug:
'''


def test_a_debug_exercise_starts_from_its_planted_bug():
    broken = editions.planted_source(DEBUG)
    assert "    return average\n" in broken and "(x - baseline) * average" not in broken
    assert "planted bug" not in broken and "        pass\n" in broken  # an empty planted line becomes pass
    assert "    average = grads.mean(dim=0)\n" in broken  # unmarked lines are the student's too
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(DEBUG, metadata={"tags": ["solution"]})]
    assert editions.student_edition(notebook).cells[0].source == broken


def test_a_debug_exercise_without_a_planted_bug_is_a_clear_error():
    with pytest.raises(ValueError, match="Exercise 4 is a debug exercise but no line carries"):
        editions.planted_source("# Exercise 4 (debug): fix it\nx = 1\n")
    with pytest.raises(ValueError, match="Exercise 5: the code with its planted bug is not valid Python"):
        editions.planted_source("# Exercise 5 (debug): fix it\nx = 1  # planted bug: x = (\n")
