"""The course as a static website: Sphinx + myst-nb over the committed notebooks (offline, no execution)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat

from helpers.settings import display_path
from tools.colab import colab_link, colab_url
from tools.decks import SLIDES_DIR, _copy_tree, _run, build_slides, install_assets
from tools.notebooks import BUILD_DIR, DOCS_DIR, ROOT, notebook_paths, read_notebook, strip_widgets, tags

SITE_DIR = BUILD_DIR / "site"
SITE_SOURCE_DIR = BUILD_DIR / "site-source"
SITE_STATIC_DIR = BUILD_DIR / "site-static"  # MathJax and course.css, copied into _static/


def _details(summary: str, body: str) -> str:
    return f"<details class=\"solution\">\n<summary>{summary}</summary>\n\n{body.strip()}\n\n</details>"


def site_notebook(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """A chapter page: links to the deck, the .ipynb and Colab; solutions collapsed."""
    page = strip_widgets(notebook)
    # A notebook not executed yet has no language_info: myst-nb then cannot highlight its code.
    page.metadata.setdefault("language_info", {"name": "python", "pygments_lexer": "ipython3"})
    for cell in page.cells:
        if "solution" not in tags(cell):
            continue
        if cell.cell_type == "code":
            cell.metadata["tags"] = tags(cell) + ["hide-cell"]
            cell.metadata["mystnb"] = {"code_prompt_show": "Show the solution",
                                       "code_prompt_hide": "Hide the solution"}
        elif cell.cell_type == "markdown":
            cell.source = _details("Show the model answer", cell.source)
    links = ('<p class="chapter-links">'
             f'<a class="reference external" href="slides/{name}.slides.html">Slides</a> · '
             f'<a class="reference external" href="notebooks/{name}.ipynb" download>Notebook (.ipynb)</a> · '
             f'<a class="reference external" href="{colab_url(name)}">Open in Colab</a></p>')
    first = page.cells[0]
    first.source = first.source.replace(f"\n{colab_link(name)}\n", "\n")  # in the links below
    title, _, rest = first.source.partition("\n")
    if first.cell_type == "markdown" and title.startswith("# "):  # right below the chapter's title
        first.source = f"{title}\n\n{links}\n\n{rest.lstrip()}"
    else:
        page.cells.insert(0, nbformat.v4.new_markdown_cell(links))
    return page


def landing_page(readme: str, names: list[str]) -> str:
    """The README as the site's index: links fixed for the site, chapters in the toctree."""
    text = readme.replace("](docs/benchmarks.md)", "](benchmarks.md)")
    for name in names:  # the notebook table: each name links to its chapter
        text = text.replace(f"| `{name}` |", f"| [`{name}`]({name}.ipynb) |")
    toctree = "\n".join(names)
    return (f"{text.rstrip()}\n\n```{{toctree}}\n:hidden:\n:caption: Chapters\n\n{toctree}\n```\n\n"
            "```{toctree}\n:hidden:\n:caption: Reference\n\nbenchmarks\n```\n")


def build_site(out_dir: Path = SITE_DIR, with_slides: bool = True) -> Path:
    """Build the static website with Sphinx + myst-nb (no execution, no network)."""
    paths = notebook_paths()
    names = [path.stem for path in paths]
    if SITE_SOURCE_DIR.exists():
        shutil.rmtree(SITE_SOURCE_DIR)
    SITE_SOURCE_DIR.mkdir(parents=True)
    (SITE_SOURCE_DIR / "index.md").write_text(landing_page((ROOT / "README.md").read_text(), names))
    shutil.copy2(DOCS_DIR / "benchmarks.md", SITE_SOURCE_DIR / "benchmarks.md")
    for path in paths:
        nbformat.write(site_notebook(read_notebook(path), path.stem), SITE_SOURCE_DIR / path.name)
    _copy_tree(install_assets() / "mathjax" / "es5", SITE_STATIC_DIR / "mathjax")
    shutil.copy2(DOCS_DIR / "course.css", SITE_STATIC_DIR / "course.css")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    _run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going", "-n",
          "-c", str(DOCS_DIR), "-d", str(BUILD_DIR / "site-doctrees"), str(SITE_SOURCE_DIR), str(out_dir)])
    (out_dir / "notebooks").mkdir()
    for path in paths:
        shutil.copy2(path, out_dir / "notebooks" / path.name)
    if with_slides:
        if not all((SLIDES_DIR / f"{name}.slides.html").exists() for name in names):
            build_slides()
        _copy_tree(SLIDES_DIR, out_dir / "slides")
    print(f"site: {display_path((out_dir / 'index.html'))}", flush=True)
    return out_dir / "index.html"
