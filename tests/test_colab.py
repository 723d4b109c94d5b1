"""The Colab bootstrap (issue 9), run in a simulated Colab since Colab cannot be reached here.

Every notebook's first code cell starts with tools.colab.COLAB_LINES: on Colab (detected
by the `google.colab` module its kernel imports) they clone the course and install its
pinned requirements, once; anywhere else they do nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types

import jupytext
import pytest

from tools import colab, notebooks

SCRIPTS = notebooks.script_paths()


class FakeColab:
    """Records what the bootstrap would do instead of doing it."""

    def __init__(self, monkeypatch, on_colab: bool, course_present: bool):
        self.commands, self.chdirs = [], []
        if on_colab:
            monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
        else:
            monkeypatch.delitem(sys.modules, "google.colab", raising=False)
        monkeypatch.setattr(subprocess, "run", lambda command, **kw: self.commands.append((command, kw)))
        monkeypatch.setattr(os, "chdir", self.chdirs.append)
        real_isdir = os.path.isdir
        monkeypatch.setattr(os.path, "isdir", lambda p: course_present if str(p).startswith("/content/") else real_isdir(p))
        monkeypatch.setattr(sys, "path", list(sys.path))

    def run(self, source: str) -> dict:
        namespace: dict = {}
        exec(compile(source, "<first cell>", "exec"), namespace)
        return namespace


def bootstrap_only() -> str:
    return colab.COLAB_LINES


def test_off_colab_nothing_happens(monkeypatch):
    fake = FakeColab(monkeypatch, on_colab=False, course_present=False)
    fake.run(bootstrap_only())
    assert fake.commands == [] and fake.chdirs == []


def test_on_colab_the_course_and_its_requirements_are_installed(monkeypatch):
    fake = FakeColab(monkeypatch, on_colab=True, course_present=False)
    fake.run(bootstrap_only())
    (clone, clone_kw), (pip, pip_kw) = fake.commands
    assert clone[:2] == ["git", "clone"] and clone[-2] == f"https://github.com/{colab.GITHUB_REPOSITORY}.git"
    course = clone[-1]
    assert pip[:4] == [sys.executable, "-m", "pip", "install"] and pip[-2:] == ["-r", f"{course}/requirements.txt"]
    assert clone_kw.get("check") and pip_kw.get("check"), "a failed install must stop the notebook"
    assert fake.chdirs == [f"{course}/notebooks"], "the notebook runs from notebooks/, as locally"
    assert sys.path[0] == course, "helpers must import from the cloned course"


def test_on_colab_a_second_run_installs_nothing_again(monkeypatch):
    fake = FakeColab(monkeypatch, on_colab=True, course_present=True)
    fake.run(bootstrap_only())
    assert fake.commands == []
    assert len(fake.chdirs) == 1


def test_colab_installs_only_exact_pins():
    """What the bootstrap installs (requirements.txt) pins every package to one version."""
    lines = [line.split("#")[0].strip() for line in (notebooks.ROOT / "requirements.txt").read_text().splitlines()]
    requirements = [line for line in lines if line]
    assert len(requirements) > 10
    loose = [line for line in requirements if not re.fullmatch(r"[A-Za-z0-9_.\[\]-]+===?[0-9][0-9A-Za-z.]*", line)]
    assert not loose, f"requirements.txt lines without an exact pin: {loose}"


def test_add_colab_lines_is_idempotent(tmp_path):
    script = tmp_path / "00_demo.py"
    script.write_text("# %% [markdown]\n# # Demo\n# Text.\n\n# %%\nimport numpy as np\nprint(1)\n\n# %%\nx = 1\n")
    assert colab.add_colab_lines(script)
    once = script.read_text()
    assert not colab.add_colab_lines(script)
    assert script.read_text() == once
    cells = jupytext.read(script).cells
    assert cells[1].source.startswith(colab.COLAB_MARKER) and cells[1].source.endswith("print(1)")
    assert cells[2].source == "x = 1"
    assert cells[0].source == f"# Demo\n\n{colab.colab_link('00_demo')}\nText."


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_first_code_cell_of_every_notebook_bootstraps_colab(script, monkeypatch):
    notebook = jupytext.read(script)
    first_code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    if not first_code.source.startswith(colab.COLAB_LINES.rstrip("\n")):
        pytest.fail(f"{script.name}: the first code cell does not start with the Colab lines: "
                    f"run `python -m tools.publish colab notebooks/{script.name}`")
    fake = FakeColab(monkeypatch, on_colab=False, course_present=False)
    fake.run(colab.COLAB_LINES)
    assert fake.commands == []
    first_markdown = notebook.cells[0].source
    assert colab.colab_url(script.stem) in first_markdown, f"{script.name}: no Open in Colab link atop the notebook"
