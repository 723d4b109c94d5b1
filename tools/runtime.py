"""How long the notebooks take: seconds per notebook and its slowest cell, from executed notebooks.

nbclient stores each cell's start and end times in ``cell.metadata.execution``; ``make run``
prints this table at the end: ``python -m tools.runtime build/*.ipynb``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

import nbformat

from helpers.settings import display_path


def cell_seconds(cell) -> float | None:
    """Wall-clock seconds of one executed code cell, or None when it carries no timing."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda stamp: datetime.fromisoformat(stamp.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def notebook_times(path) -> dict:
    """{"notebook", "seconds", "slowest cell", "slowest seconds", "cells"} for an executed notebook."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Executed notebook not found: {display_path(path)}")
    notebook = nbformat.read(path, as_version=4)
    times = [(index, cell_seconds(cell)) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    times = [(index, seconds) for index, seconds in times if seconds is not None]
    if not times:
        raise ValueError(f"{display_path(path)} has no cell timings: was it executed with nbconvert/nbclient?")
    slowest_index, slowest = max(times, key=lambda item: item[1])
    return {"notebook": path.stem, "seconds": sum(s for _, s in times), "slowest cell": slowest_index,
            "slowest seconds": slowest, "cells": len(times)}


def table(paths) -> str:
    """A Markdown table: one row per notebook, then the total."""
    rows = [notebook_times(path) for path in paths]
    lines = ["| notebook | seconds | slowest cell (index) | its seconds |", "|---|---:|---:|---:|"]
    lines += [f"| {r['notebook']} | {r['seconds']:.0f} | {r['slowest cell']} | {r['slowest seconds']:.1f} |"
              for r in rows]
    total, slowest = sum(r["seconds"] for r in rows), max(r["slowest seconds"] for r in rows)
    lines.append(f"| **all {len(rows)}** | **{total:.0f}** ({total / 60:.1f} min) | | **{slowest:.1f}** |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.runtime", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="executed notebooks (e.g. build/*.ipynb)")
    args = parser.parse_args(argv)
    try:
        print(table(args.notebooks))
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
