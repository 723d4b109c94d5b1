"""Offline slide decks: reveal.js and MathJax from npm, one deck per notebook, measured in Chromium.

Everything is built from the committed notebooks (their stored outputs; nothing is executed)
and from front-end files installed from npm at pinned versions (``docs/package-lock.json``),
so a deck opened without internet needs nothing from a CDN.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from helpers.settings import display_path
from tools.editions import without_solutions
from tools.notebooks import BUILD_DIR, DOCS_DIR, notebook_paths, read_notebook, slide_type, strip_widgets, tags

ASSETS_DIR = BUILD_DIR / "assets"
NODE_MODULES = ASSETS_DIR / "node_modules"
SLIDES_DIR = BUILD_DIR / "slides"
SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720
SLIDE_STARTS = {"slide", "subslide"}
HIDDEN_SLIDE_TYPES = {"skip", "notes"}


def _run(command: list[str], cwd: Path | None = None) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    subprocess.run(command, cwd=cwd, check=True)


def _copy_tree(source: Path, target: Path) -> None:
    """Copy a folder, hard-linking files when possible (the assets are large, never edited)."""
    def link_or_copy(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, copy_function=link_or_copy)


# ------------------------------------------------------------------------- front-end assets
def install_assets() -> Path:
    """``npm ci`` the pinned reveal.js and MathJax into build/assets (skipped when up to date)."""
    lock = DOCS_DIR / "package-lock.json"
    stamp = NODE_MODULES / ".package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return NODE_MODULES
    if shutil.which("npm") is None:
        raise RuntimeError("npm is needed to install reveal.js and MathJax: apt-get install npm "
                           "(Debian/Ubuntu), brew install node (macOS), or nodejs.org")
    ASSETS_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(DOCS_DIR / name, ASSETS_DIR / name)
    _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ASSETS_DIR)
    return NODE_MODULES


def copy_assets(target: Path) -> Path:
    """Put reveal.js and MathJax into ``target``/assets (next to the decks or the site)."""
    install_assets()
    assets = target / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    _copy_tree(NODE_MODULES / "reveal.js" / "dist", assets / "reveal.js" / "dist")
    _copy_tree(NODE_MODULES / "reveal.js" / "plugin", assets / "reveal.js" / "plugin")
    _copy_tree(NODE_MODULES / "mathjax" / "es5", assets / "mathjax")
    return assets


def has_slide_metadata(notebook: nbformat.NotebookNode) -> bool:
    """True when the notebook's author marked slides (more than one slide start)."""
    return sum(slide_type(cell) in SLIDE_STARTS for cell in notebook.cells) > 1


def deck_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What a deck shows: no solutions, no checks (the exercises' statements stay), no widgets."""
    deck = strip_widgets(without_solutions(notebook, drop_checks=True))
    for cell in deck.cells:
        if cell.metadata.get("slideshow", {}).get("hide_input"):  # the deck shows the output only
            cell.metadata.setdefault("transient", {})["remove_source"] = True
        figures = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        for output in figures if len(figures) > 1 else []:  # several figures share one slide
            output.setdefault("metadata", {}).setdefault("image/png", {})["height"] = (SLIDE_HEIGHT - 80) // len(figures)
    if not has_slide_metadata(deck):  # not annotated yet: one slide per heading
        for cell in deck.cells:
            if cell.cell_type == "markdown" and cell.source.lstrip().startswith("#"):
                cell.metadata.setdefault("slideshow", {}).setdefault("slide_type", "slide")
    return deck


def expected_slide_count(deck: nbformat.NotebookNode) -> int:
    """Number of reveal.js slides (horizontal and vertical) nbconvert makes of ``deck``."""
    visible = [slide_type(cell) for cell in deck.cells if slide_type(cell) not in HIDDEN_SLIDE_TYPES]
    if not visible:
        raise ValueError("every cell is skipped: the deck would be empty")
    return sum(kind in SLIDE_STARTS for kind in visible) + (visible[0] not in SLIDE_STARTS)


# ---------------------------------------------------------------------------------- slides
def slides_exporter():
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    config = Config()
    config.SlidesExporter.extra_template_basedirs = [str(DOCS_DIR / "templates")]
    config.SlidesExporter.template_name = "course_reveal"
    config.SlidesExporter.template_file = "deck.html.j2"
    config.SlidesExporter.reveal_url_prefix = "assets/reveal.js"
    config.SlidesExporter.reveal_theme = "white"
    config.SlidesExporter.reveal_number = "c/t"
    config.SlidesExporter.reveal_width = str(SLIDE_WIDTH)
    config.SlidesExporter.reveal_height = str(SLIDE_HEIGHT)
    config.SlidesExporter.mathjax_url = "assets/mathjax/tex-chtml-full.js"
    config.SlidesExporter.exclude_input_prompt = True
    config.SlidesExporter.exclude_output_prompt = True
    return SlidesExporter(config=config)


def build_slides(paths: list[Path] | None = None, out_dir: Path = SLIDES_DIR) -> dict[str, int]:
    """Write one offline deck per notebook; return {deck file name: expected slide count}."""
    paths = notebook_paths() if paths is None else [Path(p) for p in paths]
    out_dir.mkdir(parents=True, exist_ok=True)
    copy_assets(out_dir)
    exporter = slides_exporter()
    counts = {}
    for path in paths:
        deck = deck_notebook(read_notebook(path))
        html, _ = exporter.from_notebook_node(deck, resources={"metadata": {"name": path.stem}})
        target = out_dir / f"{path.stem}.slides.html"
        target.write_text(html, encoding="utf-8")
        counts[target.name] = expected_slide_count(deck)
        print(f"slides: {display_path(target)} ({counts[target.name]} slides)", flush=True)
    (out_dir / "slides.json").write_text(json.dumps(counts, indent=1) + "\n")
    return counts


# -------------------------------------------------------------- measuring decks in Chromium
# Run in a deck, on its current slide: content height in slide pixels (1280x720 is the
# screen), code or tables wider than the slide, and the slide's title. tests/test_site.py uses it.
MEASURE_SLIDE_JS = """() => {
    const slide = Reveal.getCurrentSlide(), scale = Reveal.getScale();
    const box = slide.getBoundingClientRect();
    let bottom = box.top;
    for (const el of slide.querySelectorAll('*')) {
        if (el.closest('aside.notes')) continue;
        const r = el.getBoundingClientRect();
        if (r.height > 0) bottom = Math.max(bottom, r.bottom);
    }
    const wide = Array.from(slide.querySelectorAll('pre, table'))
        .filter(el => el.scrollWidth > el.clientWidth + 2).length;
    const title = (slide.querySelector('h1, h2, h3') || {}).textContent || '';
    return {height: (bottom - box.top) / scale, wide: wide, title: title.replace('\u00b6', '').trim().slice(0, 60)};
}"""


def find_chromium() -> str | None:
    """Debian's Chromium (or $CHROMIUM): Playwright drives it, it downloads no browser."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def launch_chromium(playwright):
    """Headless Chromium that cannot resolve any host name (the network is blocked)."""
    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("Chromium not found: apt-get install chromium (or set CHROMIUM)")
    return playwright.chromium.launch(
        executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND"])


def measure_slides(page) -> list[dict]:
    """Every slide of the deck open in ``page``: its index (h, v) and MEASURE_SLIDE_JS's numbers."""
    page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=15000)
    page.evaluate("() => (window.MathJax && MathJax.startup && MathJax.startup.promise) || null")
    sizes = []
    for index in page.evaluate("Reveal.getSlides().map(s => Reveal.getIndices(s))"):
        h, v = index["h"], index["v"] or 0
        page.evaluate("([h, v]) => Reveal.slide(h, v)", [h, v])
        sizes.append({"h": h, "v": v, **page.evaluate(MEASURE_SLIDE_JS)})
    return sizes


def _probe_heights(notebook, hide_inputs: bool) -> list[float | None]:
    """Height of every cell of ``notebook`` shown alone on a slide (None: not shown)."""
    from playwright.sync_api import sync_playwright

    probe = copy.deepcopy(notebook)
    shown = []
    for index, cell in enumerate(probe.cells):
        kind = slide_type(cell)
        if kind in HIDDEN_SLIDE_TYPES:
            continue
        cell.metadata.setdefault("slideshow", {})["slide_type"] = "slide"
        if hide_inputs and cell.cell_type == "code":
            cell.metadata.setdefault("transient", {})["remove_source"] = True
        shown.append(index)
    html, _ = slides_exporter().from_notebook_node(probe, resources={"metadata": {"name": "probe"}})
    target = SLIDES_DIR / "_probe.slides.html"
    target.write_text(html, encoding="utf-8")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": SLIDE_WIDTH, "height": SLIDE_HEIGHT})
        page.goto(target.as_uri())
        sizes = measure_slides(page)
        browser.close()
    target.unlink()
    heights: list[float | None] = [None] * len(notebook.cells)
    for index, size in zip(shown, sizes):
        heights[index] = size["height"]
    return heights


def suggest_layout(notebook, limit: float = SLIDE_HEIGHT - 30) -> tuple[list[dict], list[str]]:
    """Slide metadata for every cell of ``notebook`` (with outputs), and what needs a person.

    Title and ``##`` headings start slides, ``###`` subslides; the imports cell and the Knobs
    section are skipped; a cell that does not fit below the previous ones starts a subslide;
    a code cell too high with its code shows its output only. Cells still higher than a slide
    are reported (split them, or move prose to notes)."""
    meta = [dict(cell.metadata.get("slideshow", {})) for cell in notebook.cells]
    first_code = next((i for i, c in enumerate(notebook.cells) if c.cell_type == "code"), None)
    in_knobs = False
    for index, cell in enumerate(notebook.cells):
        head = cell.source.lstrip() if cell.cell_type == "markdown" else ""
        if head.startswith(("# ", "## ")):
            in_knobs = head.lower().startswith("## knobs")
        if {"solution", "check"} & set(tags(cell)) or meta[index].get("slide_type") in HIDDEN_SLIDE_TYPES:
            continue
        if index == first_code or in_knobs:
            meta[index] = {"slide_type": "skip"}
        elif head.startswith(("# ", "## ")):
            meta[index] = {"slide_type": "slide"}
        elif head.startswith("### "):
            meta[index] = {"slide_type": "subslide"}
        else:
            meta[index] = {}
    laid = copy.deepcopy(notebook)
    for cell, m in zip(laid.cells, meta):
        cell.metadata["slideshow"] = m or {"slide_type": "-"}
    deck = strip_widgets(without_solutions(laid, drop_checks=True))
    kept = [i for i, cell in enumerate(laid.cells) if not {"solution", "check"} & set(tags(cell))]
    full, bare = _probe_heights(deck, False), _probe_heights(deck, True)
    problems, used = [], 0.0
    for position, index in enumerate(kept):
        height = full[position]
        if height is None:
            continue
        cell = notebook.cells[index]
        if height > limit and cell.cell_type == "code" and cell.get("outputs"):
            meta[index]["hide_input"] = True
            height = bare[position]
        starts = meta[index].get("slide_type") in SLIDE_STARTS
        if not starts and used + height > limit:
            meta[index]["slide_type"] = "subslide"
            starts = True
        used = height if starts else used + height
        if height > limit:
            title = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else "(empty)"
            problems.append(f"cell {index} ({cell.cell_type}, {height:.0f}px): {title}")
    return meta, problems


def split_markdown(source: str) -> tuple[str, str] | None:
    """Split markdown at the paragraph break nearest its middle (never inside code or $$ math)."""
    breaks = [m.start() for m in re.finditer(r"\n\n(?=\S)", source)
              if source[:m.start()].count("```") % 2 == 0 and source[:m.start()].count("$$") % 2 == 0]
    if not breaks:
        return None
    cut = min(breaks, key=lambda at: abs(at - len(source) / 2))
    return source[:cut].rstrip(), source[cut:].strip()


def apply_layout(script: Path, rounds: int = 3) -> list[str]:
    """Write suggest_layout's metadata into a percent script and its .ipynb (jupytext --sync).

    A markdown cell higher than a slide is split in two at a paragraph break (up to ``rounds``
    times); what still does not fit is returned for a person to decide."""
    import jupytext

    script = Path(script)
    source = jupytext.read(script)
    cells = []
    for cell in source.cells:  # a heading inside a markdown cell starts a cell of its own
        splittable = cell.cell_type == "markdown" and "```" not in cell.source
        parts = re.split(r"\n+(?=#{1,3} )", cell.source) if splittable else [cell.source]
        for number, part in enumerate(parts):
            piece = copy.deepcopy(cell) if number == 0 else nbformat.v4.new_markdown_cell()
            piece.source = part.strip() if len(parts) > 1 else part
            cells.append(piece)
    if len(cells) != len(source.cells):
        source.cells = cells
        jupytext.write(source, script, fmt="py:percent")
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(script)], check=True)
    for _ in range(rounds):
        source = jupytext.read(script)
        executed = read_notebook(script)
        kept = source.metadata.get("jupytext", {}).get("cell_metadata_filter")
        if kept and "slideshow" not in kept.split(","):  # the script must keep the slide metadata
            source.metadata["jupytext"]["cell_metadata_filter"] = f"slideshow,{kept}"
        if [c.source for c in source.cells] != [c.source for c in executed.cells]:
            raise ValueError(f"{script} and its .ipynb differ: run jupytext --sync first")
        meta, problems = suggest_layout(executed)
        tall = [p for p in problems if "(markdown," in p]
        cells, split = [], False
        for index, (cell, m) in enumerate(zip(source.cells, meta)):
            if m and m != {"slide_type": "-"}:
                cell.metadata["slideshow"] = m
            else:
                cell.metadata.pop("slideshow", None)
            parts = split_markdown(cell.source) if any(p.startswith(f"cell {index} (markdown,") for p in tall) else None
            if parts:
                cell.source = parts[0]
                rest = copy.deepcopy(cell)
                rest.source, rest.metadata = parts[1], {}
                cells += [cell, rest]
                split = True
            else:
                cells.append(cell)
        source.cells = cells
        jupytext.write(source, script, fmt="py:percent")
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(script)], check=True)
        if not split:
            return problems
    return suggest_layout(read_notebook(script))[1]
