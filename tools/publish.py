"""The instructor edition: offline slide decks and the course website .

Everything is built from the committed notebooks (their stored outputs; nothing is executed)
and from front-end files installed from npm at pinned versions (``docs/package-lock.json``),
so a deck or a page opened without internet needs nothing from a CDN.

Command line (the Makefile calls it)::

    python -m tools.publish assets      # npm ci: reveal.js and MathJax into build/assets/
    python -m tools.publish slides      # build/slides/NN_topic.slides.html
    python -m tools.publish site        # build/site/index.html (Sphinx + myst-nb)
    python -m tools.publish colab notebooks/NN_topic.py   # add/refresh the Colab lines
    python -m tools.publish layout notebooks/NN_topic.py  # first slide metadata, measured
"""

from __future__ import annotations

import argparse
from pathlib import Path

from helpers.settings import display_path
from tools.colab import add_colab_lines
from tools.decks import apply_layout, build_slides, install_assets
from tools.website import build_site


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.publish", description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["assets", "slides", "site", "colab", "layout"])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (slides) or scripts (colab)")
    args = parser.parse_args(argv)
    if args.what == "assets":
        print(f"assets: {display_path(install_assets())}")
    elif args.what == "slides":
        build_slides([p.with_suffix(".ipynb") for p in args.paths] or None)
    elif args.what == "site":
        build_site()
    elif args.what == "layout":  # a first slide layout, measured in Chromium; then look at it
        for script in args.paths:
            problems = apply_layout(script)
            print(f"{script}: slide metadata written; too high for one slide:" if problems else
                  f"{script}: slide metadata written, every cell fits", *problems, sep="\n  ")
    else:
        for script in args.paths:
            print(f"{script}: {'Colab lines added' if add_colab_lines(script) else 'already up to date'}")


if __name__ == "__main__":
    main()
