"""What goes in and what comes out: the input files, read lazily, and ``summary.csv`` with ``run.json``.

A file's key in the summary (column ``file``) is its resolved path as ``display_path`` shows it
(relative to the project, or ``~/...``): ``photos/``, ``./photos/`` and ``/abs/photos/`` name the
same files, and committed outputs never show this machine's folders.
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from pathlib import Path
from typing import Iterator

from helpers.explain.core import SUMMARY_FIELDS, write_atomic
from helpers.images import IMAGE_SUFFIXES
from helpers.settings import display_path


def iter_image_paths(inputs) -> Iterator[Path]:
    """Files as given; folders walked recursively, lazily, in sorted order (image suffixes only)."""
    for item in inputs:
        item = Path(item).expanduser()
        yield from _walk(item) if item.is_dir() else [item]


def _walk(folder: Path) -> Iterator[Path]:
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir():
            yield from _walk(Path(entry.path))
        elif entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
            yield Path(entry.path)


def todo_items(inputs, skip=frozenset()) -> Iterator[tuple[str, str]]:
    """``(resolved path, key)`` of each input file whose key (``display_path``) is not in ``skip``; lazily."""
    for path in iter_image_paths(inputs):
        resolved = path.resolve()
        key = display_path(resolved)
        if key not in skip:
            yield str(resolved), key


class BackgroundCount:
    """The number of files to do, counted in a daemon thread: ``value`` is ``None`` until it is known.

    The progress bar starts at once and gets its total when the count ends; ``stop()`` ends
    the count early (the run is over). ``inputs`` must be re-iterable (a list of paths).
    """

    def __init__(self, inputs, skip=frozenset()):
        self.value, self._stop = None, threading.Event()
        self._thread = threading.Thread(target=self._count, args=(list(inputs), skip), daemon=True)
        self._thread.start()

    def _count(self, inputs, skip) -> None:
        count = 0
        for _ in todo_items(inputs, skip):
            if self._stop.is_set():
                return
            count += 1
        self.value = count

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def stop(self) -> None:
        self._stop.set()


class Summary:
    """``summary.csv`` appended one whole line per image (one ``os.write``), with ``run.json`` beside it.

    A killed run leaves at most a torn last line, which resuming cuts off; figures and maps
    are renamed into place, so they are whole or absent. Resuming also retries the files whose
    row has an error: their rows are dropped first (the file is rewritten atomically), so every
    file is in the summary once. ``done``: the keys of the rows kept; ``retried``: rows dropped.
    """

    def __init__(self, out_dir, settings: dict, resume: bool = False):
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path, record = out_dir / "summary.csv", out_dir / "run.json"
        self.done, self.retried = set(), 0
        if resume and self.path.exists():
            self._resume(record, settings)
        else:
            write_atomic(record, lambda temporary: temporary.write_text(json.dumps(settings, indent=1) + "\n"))
            write_atomic(self.path, lambda temporary: temporary.write_text(_csv_line(SUMMARY_FIELDS)))
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def _resume(self, record: Path, settings: dict) -> None:
        recorded = json.loads(record.read_text()) if record.exists() else None
        if recorded != settings:
            different = sorted(k for k in settings if (recorded or {}).get(k) != settings[k])
            raise ValueError(f"Cannot resume in {display_path(self.path.parent)}: its summary.csv was written with other settings "
                             f"({', '.join(different) or 'run.json missing'}; recorded: {recorded}). "
                             f"Use another output folder, or run without --resume to start again.")
        _cut_torn_line(self.path)
        for row in self._rows():
            if row["error"]:
                self.retried += 1
            else:
                self.done.add(row["file"])
        if self.retried:
            write_atomic(self.path, self._write_without_errors)

    def _rows(self) -> Iterator[dict]:
        with open(self.path, newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != SUMMARY_FIELDS:
                raise ValueError(f"Cannot resume: {display_path(self.path)} has the columns {reader.fieldnames}, "
                                 f"this version writes {SUMMARY_FIELDS}. Use another output folder.")
            yield from reader

    def _write_without_errors(self, temporary: Path) -> None:
        with open(temporary, "w", newline="") as out:
            out.write(_csv_line(SUMMARY_FIELDS))
            for row in self._rows():
                if not row["error"]:
                    out.write(_csv_line([row[field] for field in SUMMARY_FIELDS]))

    def append(self, row: dict) -> None:
        os.write(self._fd, _csv_line([row[field] for field in SUMMARY_FIELDS]).encode())

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _csv_line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def _cut_torn_line(path: Path) -> None:
    """Drop a last line without its newline (the row a kill interrupted)."""
    with open(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - 65536))
        tail = handle.read()
        if tail and not tail.endswith(b"\n"):
            handle.truncate(size - len(tail) + tail.rfind(b"\n") + 1)
