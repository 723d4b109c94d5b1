"""Sphinx configuration of the course website (`make site`, built by tools/website.py).

The sources are generated at build time into build/site-source/ (README as the landing page,
the committed notebooks with their outputs, docs/benchmarks.md); nothing is executed and
nothing is fetched: MathJax is a local copy from npm (docs/package-lock.json).
"""

from tools.colab import GITHUB_BRANCH, GITHUB_REPOSITORY
from tools.website import SITE_STATIC_DIR

project = "Explaining Vision Models"
author = "the course's authors"
copyright = "the course's authors"

extensions = ["myst_nb"]
nb_execution_mode = "off"            # committed outputs only
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["mystnb.unknown_mime_type"]

html_theme = "sphinx_book_theme"
html_title = "Explaining Vision Models"
html_static_path = [str(SITE_STATIC_DIR)]   # mathjax/ and course.css
html_css_files = ["course.css"]
html_context = {"default_mode": "light"}   # an explicit mode: the theme logs an error without one
html_show_sourcelink = False
html_copy_source = False
mathjax_path = "mathjax/tex-chtml-full.js"   # relative to _static: served locally
html_theme_options = {
    "repository_url": f"https://github.com/{GITHUB_REPOSITORY}",
    "repository_branch": GITHUB_BRANCH,
    "path_to_docs": "notebooks",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "show_toc_level": 2,
}
