"""``python -m helpers.explain``: the command line (``helpers.explain.cli``)."""

import sys

import matplotlib

matplotlib.use("Agg")  # the command line only writes files

from helpers.explain.cli import main  # noqa: E402

sys.exit(main())
