"""Colab: the bootstrap lines atop every notebook's first code cell and the "Open in Colab" links.

``python -m tools.publish colab notebooks/NN_x.py`` writes them into a script.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# The course's GitHub repository, for the "Open in Colab" links and the Colab bootstrap.
GITHUB_REPOSITORY = os.environ.get("COURSE_GITHUB_REPOSITORY", "explaining-vision-models/explaining-vision-models")
GITHUB_BRANCH = os.environ.get("COURSE_GITHUB_BRANCH", "main")

# The first lines of every notebook's first code cell. On Colab (detected by the module its
# kernel has imported, never assumed) they fetch the course and install its pinned
# requirements; anywhere else they do nothing. tests/test_colab.py runs them in a simulated
# Colab. `python -m tools.publish colab notebooks/NN_x.py` writes them into a script.
COLAB_MARKER = "# Google Colab only"
COLAB_LINES = f'''\
{COLAB_MARKER} (detected, not assumed): fetch the course and install its requirements.
import os, subprocess, sys  # noqa: E401

if "google.colab" in sys.modules:
    COURSE = "/content/explaining-vision-models"
    if not os.path.isdir(COURSE):
        subprocess.run(["git", "clone", "--depth=1", "https://github.com/{GITHUB_REPOSITORY}.git", COURSE], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", f"{{COURSE}}/requirements.txt"], check=True)
    os.chdir(f"{{COURSE}}/notebooks")
    sys.path.insert(0, COURSE)
'''


def colab_url(name: str) -> str:
    """The "Open in Colab" address of notebook ``name`` (e.g. ``01_cifar_cnn_captum``)."""
    return (f"https://colab.research.google.com/github/{GITHUB_REPOSITORY}/blob/"
            f"{GITHUB_BRANCH}/notebooks/{name}.ipynb")


def colab_link(name: str) -> str:
    """The markdown line below each notebook's title."""
    return f"[Open in Colab]({colab_url(name)})"


def add_colab_lines(script: Path) -> bool:
    """Put COLAB_LINES atop the first code cell of a percent script, and the "Open in Colab"
    link below its title (idempotent). Returns True when the file changed."""
    script = Path(script)
    text = script.read_text()
    cells = re.split(r"(?m)^(?=# %%)", text)
    code = [i for i, cell in enumerate(cells) if cell.startswith("# %%")
            and "[markdown]" not in cell.partition("\n")[0] and "[raw]" not in cell.partition("\n")[0]]
    if not code:
        raise ValueError(f"{script}: no code cell found")
    header, _, body = cells[code[0]].partition("\n")
    if body.startswith(COLAB_MARKER):  # refresh: drop the old lines
        body = body.split("\n    sys.path.insert(0, COURSE)\n", 1)[-1].lstrip("\n")
    cells[code[0]] = f"{header}\n{COLAB_LINES}\n{body}"
    link = colab_link(script.stem)
    for index, cell in enumerate(cells):
        if cell.startswith("# %% [markdown]"):
            if link not in cell:
                cell = re.sub(r"(?m)^(# # .*\n)", lambda m: f"{m.group(1)}#\n# {link}\n", cell, count=1)
                if link not in cell:
                    raise ValueError(f"{script}: the first markdown cell has no '# # title' line")
            cells[index] = cell
            break
    new = "".join(cells)
    if new == text:
        return False
    script.write_text(new)
    return True
