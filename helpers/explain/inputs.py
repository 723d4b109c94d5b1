"""What goes in and what comes out: the input files, read lazily, and ``summary.csv`` with ``run.json``."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Iterator

from helpers.explain.core import SUMMARY_FIELDS
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


def todo_files(inputs, skip=frozenset()) -> Iterator[str]:
    """The input files (as strings, the key of summary.csv) not in ``skip``."""
    return (file for file in map(str, iter_image_paths(inputs)) if file not in skip)


class Summary:
    """``summary.csv`` appended one whole line per image (one ``os.write``), with ``run.json`` beside it.

    A killed run leaves at most a torn last line, which resuming cuts off; figures and maps
    are renamed into place, so they are whole or absent.
    """

    def __init__(self, out_dir, settings: dict, resume: bool = False):
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path, record = out_dir / "summary.csv", out_dir / "run.json"
        self.done = self._resume(record, settings) if resume and self.path.exists() else set()
        if not self.done:
            _write_atomic(record, json.dumps(settings, indent=1) + "\n")
            self.path.write_text(_csv_line(SUMMARY_FIELDS))
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def _resume(self, record: Path, settings: dict) -> set:
        recorded = json.loads(record.read_text()) if record.exists() else None
        if recorded != settings:
            different = sorted(k for k in settings if (recorded or {}).get(k) != settings[k])
            raise ValueError(f"Cannot resume in {display_path(self.path.parent)}: its summary.csv was written with other settings "
                             f"({', '.join(different) or 'run.json missing'}; recorded: {recorded}). "
                             f"Use another output folder, or run without --resume to start again.")
        _cut_torn_line(self.path)
        with open(self.path, newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != SUMMARY_FIELDS:
                raise ValueError(f"Cannot resume: {display_path(self.path)} has the columns {reader.fieldnames}, "
                                 f"this version writes {SUMMARY_FIELDS}. Use another output folder.")
            return {row["file"] for row in reader}

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


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
