"""Browser check of the instructor edition (issue 9): every deck and site page, network blocked.

Builds the decks and the site (tools.publish, committed outputs, no execution), then opens
each one in headless Chromium (Debian's package, driven by Playwright) with every request
outside file:// refused, and asserts: no console error, no failed request, every image
loaded, math typeset, the expected slides, no slide overflowing 1280x720, links resolve.
One screenshot per page and deck goes to build/screenshots/ for a person to look at.
The browser tests skip only when no Chromium is installed and CI is not set (.ci/run installs it).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tools import colab, decks, notebooks, website

SCREENSHOTS = notebooks.BUILD_DIR / "screenshots"
WIDTH, HEIGHT = decks.SLIDE_WIDTH, decks.SLIDE_HEIGHT
NAMES = [path.stem for path in notebooks.notebook_paths()]


@pytest.fixture(scope="session")
def built():
    """Decks and site, built once from the committed notebooks."""
    counts = decks.build_slides()
    website.build_site()
    return counts


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if decks.find_chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Chromium for the browser check: .ci/run installs it (apt-get install -y chromium)")
        pytest.skip("no Chromium here (apt-get install chromium); CI never skips this")

    with sync_playwright() as playwright:
        browser = decks.launch_chromium(playwright)
        yield browser
        browser.close()


class Visit:
    """A page opened offline, with everything that went wrong while loading it."""

    def __init__(self, browser, path: Path):
        self.context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        self.problems: list[str] = []
        self.context.route("**/*", self._only_local)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed request: {r.url} ({r.failure})"))
        self.page.goto(path.as_uri(), wait_until="load")
        self.page.evaluate("() => (window.MathJax && MathJax.startup && MathJax.startup.promise) || null")

    def _only_local(self, route):
        if route.request.url.split(":", 1)[0] in ("file", "data", "blob"):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    def images_not_loaded(self) -> list[str]:
        return self.page.evaluate("""async () => {
            const images = Array.from(document.images);
            images.forEach(img => { img.loading = 'eager'; });
            await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
                img.addEventListener('load', done); img.addEventListener('error', done); })));
            return images.filter(img => img.naturalWidth === 0).map(img => img.src.slice(0, 80));
        }""")

    def raw_math(self) -> list[str]:
        """TeX delimiters left in the visible text (code blocks excepted)."""
        text = self.page.evaluate("""() => {
            const body = document.body.cloneNode(true);
            body.querySelectorAll('pre, code, script, style, mjx-container, .highlight, aside.notes')
                .forEach(el => el.remove());
            return body.textContent;
        }""")
        return [m.group(0) for m in re.finditer(r".{0,30}(\$\$|\\\(|\\\[|\\begin\{).{0,30}", text)]

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(target))
        return target

    def close(self):
        self.context.close()


def local_links(html_path: Path) -> list[tuple[str, Path, str]]:
    """(href, target file, fragment) of every relative link of a page."""
    links = []
    for href in re.findall(r'<a\s[^>]*?href="([^"]*)"', html_path.read_text(encoding="utf-8")):
        parts = urlsplit(href)
        if parts.scheme or href.startswith(("mailto:", "//")):
            continue
        target = html_path if not parts.path else (html_path.parent / unquote(parts.path)).resolve()
        links.append((href, target, unquote(parts.fragment)))
    return links


def site_pages() -> list[Path]:
    site = website.SITE_DIR
    return [path for path in sorted(site.glob("*.html"))]


# ------------------------------------------------------------------------------------ decks
@pytest.mark.parametrize("name", NAMES)
def test_notebook_has_slide_metadata(name):
    notebook = notebooks.read_notebook(notebooks.NOTEBOOK_DIR / f"{name}.ipynb")
    if not decks.has_slide_metadata(notebook):
        pytest.fail(f"{name}: no slideshow metadata yet; mark cells in notebooks/{name}.py, e.g. "
                    '# %% [markdown] slideshow={"slide_type": "slide"}')


@pytest.mark.parametrize("name", NAMES)
def test_deck_offline(built, browser, name):
    deck = decks.SLIDES_DIR / f"{name}.slides.html"
    notebook = notebooks.read_notebook(notebooks.NOTEBOOK_DIR / f"{name}.ipynb")
    visit = Visit(browser, deck)
    page = visit.page
    try:
        sizes = decks.measure_slides(page)
        assert len(sizes) == built[deck.name], "unexpected number of slides"
        assert page.evaluate("!!Reveal.getPlugin('notes')"), "the speaker view (key s) is not loaded"
        notes = sum(notebooks.slide_type(cell) == "notes" for cell in notebook.cells)
        assert page.evaluate("document.querySelectorAll('aside.notes').length") == notes, "speaker notes missing"
        overflowing = [f"slide {s['h'] + 1}.{s['v'] + 1} {s['title']!r}: {s['height']:.0f}px high"
                       + (", code/table too wide" if s["wide"] else "")
                       for s in sizes if s["height"] > HEIGHT + 1 or s["wide"]]
        page.evaluate("Reveal.slide(0, 0)")
        page.wait_for_timeout(400)
        visit.screenshot(f"deck-{name}")
        assert not visit.problems, visit.problems
        assert not visit.images_not_loaded(), "images not loaded"
        assert not visit.raw_math(), f"math not typeset: {visit.raw_math()}"
        text = page.evaluate("document.querySelector('.slides').textContent")
        lecture = "\n".join(  # what the lecture itself shows: its code and its printed outputs
            cell.source + "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                                  for o in cell.get("outputs", []))
            for cell in notebook.cells if "solution" not in notebooks.tags(cell))
        for cell in notebook.cells:
            if "solution" in notebooks.tags(cell):
                for line in cell.source.splitlines()[1:]:
                    line = line.strip()
                    if (len(line) > 20 and line not in lecture
                            and not line.startswith(("def ", "import ", "from ", "#", '"""'))):
                        assert line not in text, f"a solution line is on a slide: {line!r}"
        assert not overflowing, f"{name}: slides overflow {WIDTH}x{HEIGHT}:\n" + "\n".join(overflowing)
    finally:
        visit.close()


# ------------------------------------------------------------------------------------- site
def test_site_has_every_page(built):
    pages = {path.name for path in site_pages()}
    assert {"index.html", "benchmarks.html"} | {f"{name}.html" for name in NAMES} <= pages
    for name in NAMES:
        html = (website.SITE_DIR / f"{name}.html").read_text(encoding="utf-8")
        assert f'href="slides/{name}.slides.html"' in html, f"{name}: no link to the deck"
        assert f'href="notebooks/{name}.ipynb"' in html, f"{name}: no link to the .ipynb"
        assert f'href="{colab.colab_url(name)}"' in html, f"{name}: no Open in Colab link"
    chapters = (website.SITE_DIR / "index.html").read_text(encoding="utf-8")
    for name in NAMES:
        assert f'href="{name}.html"' in chapters, f"the landing page does not link to {name}"


@pytest.mark.parametrize("page_name", ["index", "benchmarks", "search", "genindex", *NAMES])
def test_site_page_offline(built, browser, page_name):
    path = website.SITE_DIR / f"{page_name}.html"
    broken = [href for href, target, fragment in local_links(path) if not target.exists()
              or (fragment and target.suffix == ".html"
                  and f'id="{fragment}"' not in target.read_text(encoding="utf-8"))]
    assert not broken, f"{path.name}: links that do not resolve: {broken}"
    visit = Visit(browser, path)
    try:
        page = visit.page
        page.wait_for_timeout(300)
        if page.evaluate("document.querySelectorAll('.math').length"):
            assert page.evaluate("document.querySelectorAll('mjx-container').length"), "MathJax did not run"
        # Solutions are collapsed, and open on a click.
        for summary in page.locator("details.solution > summary, details.hide > summary").all():
            details = summary.locator("xpath=..")
            assert details.get_attribute("open") is None, "a solution is open before any click"
            summary.click()
            assert details.get_attribute("open") is not None, "a solution did not open on click"
        page.evaluate("window.scrollTo(0, 0)")
        visit.screenshot(f"site-{page_name}")
        assert not visit.problems, visit.problems
        assert not visit.images_not_loaded(), f"images not loaded: {visit.images_not_loaded()}"
        assert not visit.raw_math(), f"math not typeset: {visit.raw_math()}"
    finally:
        visit.close()


def test_slides_json_lists_every_deck(built):
    counts = json.loads((decks.SLIDES_DIR / "slides.json").read_text())
    assert sorted(counts) == [f"{name}.slides.html" for name in NAMES]
    assert (website.SITE_DIR / "slides" / "slides.json").exists(), "the site carries the decks"


# ------------------------------------------------------------ the editions, without a browser
def _notebook(*cells):
    import nbformat

    nb = nbformat.v4.new_notebook()
    for kind, source, metadata in cells:
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(make(source, metadata=metadata))
    return nb


def test_deck_drops_solutions_and_checks_and_counts_slides():
    nb = _notebook(
        ("markdown", "# Title", {"slideshow": {"slide_type": "slide"}}),
        ("code", "import os", {"slideshow": {"slide_type": "skip"}}),
        ("markdown", "## Part", {"slideshow": {"slide_type": "slide"}}),
        ("code", "plot()", {"slideshow": {"slide_type": "subslide", "hide_input": True}}),
        ("markdown", "Say this.", {"slideshow": {"slide_type": "notes"}}),
        ("markdown", "### Exercise 1: do it", {"slideshow": {"slide_type": "subslide"}}),
        ("code", "# Exercise 1: do it\ndef f():\n    return SECRET", {"tags": ["solution"]}),
        ("code", "check(f, exercise=1)", {"tags": ["check"]}),
        ("markdown", "**Model answer.** SECRET", {"tags": ["solution"]}),
    )
    deck = decks.deck_notebook(nb)
    assert "SECRET" not in str(deck.cells) and "check(f" not in str(deck.cells)
    assert decks.expected_slide_count(deck) == 4
    assert deck.cells[3].metadata["transient"]["remove_source"] is True
    html, _ = decks.slides_exporter().from_notebook_node(deck)
    assert html.count('<aside class="notes">') == 1 and "plot()" not in html
    assert "cdn" not in html.lower() and "unpkg" not in html


def test_site_page_collapses_solutions_and_links_deck_notebook_colab():
    nb = _notebook(
        ("markdown", "# 09 · Title\n\nText.", {}),
        ("code", "# Exercise 1: do it\ndef f():\n    return 1", {"tags": ["solution"]}),
        ("markdown", "**Model answer.** Because.", {"tags": ["solution"]}),
    )
    page = website.site_notebook(nb, "09_demo")
    title, links = page.cells[0].source.split("\n\n")[:2]
    assert title == "# 09 · Title"
    for href in ("slides/09_demo.slides.html", "notebooks/09_demo.ipynb", colab.colab_url("09_demo")):
        assert f'href="{href}"' in links
    assert "hide-cell" in page.cells[1].metadata["tags"]
    assert page.cells[2].source.startswith('<details class="solution">')


def test_landing_page_links_chapters_and_benchmarks():
    readme = "# Course\n\n| `01_a` | first |\n\nSee [docs/benchmarks.md](docs/benchmarks.md).\n"
    page = website.landing_page(readme, ["01_a"])
    assert "[`01_a`](01_a.ipynb)" in page and "](benchmarks.md)" in page
    assert "```{toctree}" in page and "\n01_a\n" in page and "\nbenchmarks\n" in page
