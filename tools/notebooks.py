"""The course's notebooks as files: where they are, how to read them, their cell tags and slide types.

Every tool (student edition, decks, website, run-time table) reads notebooks through here.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jupytext
import nbformat

from helpers.settings import display_path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
DOCS_DIR = ROOT / "docs"
BUILD_DIR = ROOT / "build"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
SOLUTION, CHECK = "solution", "check"


def notebook_paths() -> list[Path]:
    """The course's notebooks (.ipynb), in order."""
    return sorted(NOTEBOOK_DIR.glob(NOTEBOOK_GLOB))


def script_paths() -> list[Path]:
    """The percent scripts paired with the notebooks, in order."""
    return sorted(NOTEBOOK_DIR.glob(NOTEBOOK_GLOB.replace(".ipynb", ".py")))


def read_notebook(path) -> nbformat.NotebookNode:
    """A course notebook with its outputs: the .ipynb itself or, given a .py script, its paired .ipynb."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Notebook not found: {display_path(path)}")
    paired = path.with_suffix(".ipynb")
    return jupytext.read(paired if paired.exists() else path)


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def is_solution(cell) -> bool:
    return SOLUTION in tags(cell)


def is_check(cell) -> bool:
    return CHECK in tags(cell)


def slide_type(cell) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def strip_widgets(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop ipywidgets views (tqdm bars) and their state; their text version stays.

    Rendering a widget needs require.js and the widget manager from a CDN."""
    notebook = copy.deepcopy(notebook)
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_MIME, None)
        if cell.get("outputs"):
            cell.outputs = [o for o in cell.outputs if o.output_type not in ("display_data", "execute_result")
                            or o.get("data")]
    return notebook
