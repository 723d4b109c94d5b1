"""The batch pipeline at data-set scale: streaming, resumable, measured.

``explain_stream`` reads a directory tree of any size lazily, decodes and preprocesses the
images in ``torch.utils.data.DataLoader`` worker processes (so decoding overlaps with the
explanations), explains each image with ``helpers.explain.explain_input`` and appends its
row to ``summary.csv`` as one whole line. ``run.json`` beside it records what the maps
depend on (model, method, settings), so ``resume=True`` skips the files already done, and
only for the same settings. ``engine="ray"`` runs the same per-image function on Ray Data
(``helpers.ray_engine``).
"""

from __future__ import annotations

import csv
import gc
import io
import itertools
import json
import os
import random
from pathlib import Path
from typing import Iterator

import psutil
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from helpers.explain import SUMMARY_FIELDS, Options, explain_input
from helpers.images import IMAGE_SUFFIXES, load_image
from helpers.models import Classifier, load_classifier
from helpers.settings import display_path, progress as progress_bar

ENGINES = ("local", "ray")
DEFAULT_WORKERS = 2


class EngineError(RuntimeError):
    """The chosen engine cannot run (Ray missing, cluster unreachable)."""


# --------------------------------------------------------------------------- inputs


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


def decode(file: str, preprocess) -> tuple:
    """``(file, preprocessed tensor, "")``, or ``(file, None, error message)`` for a bad file."""
    try:
        return file, preprocess(load_image(file)), ""
    except (ValueError, OSError) as error:
        return file, None, str(error)


class ImageStream(IterableDataset):
    """The decoded images of ``inputs`` minus ``skip``; each DataLoader worker takes every n-th file.

    In-order DataLoader iteration then returns them in the order of ``iter_image_paths``.
    """

    def __init__(self, inputs, preprocess, skip=frozenset()):
        self.inputs, self.preprocess, self.skip = list(inputs), preprocess, skip

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for file in itertools.islice(todo_files(self.inputs, self.skip), worker, None, workers):
            yield decode(file, self.preprocess)


def todo_files(inputs, skip=frozenset()) -> Iterator[str]:
    """The input files (as strings, the key of summary.csv) not in ``skip``."""
    return (file for file in map(str, iter_image_paths(inputs)) if file not in skip)


def make_image_folder(folder, n: int, size: int = 128, per_folder: int = 100, seed: int = 0) -> Path:
    """Write ``n`` generated photos (random crops and flips of the sample photos) as PNG into a tree.

    ``folder/part000/img00000.png`` ...: ``per_folder`` files per sub-folder. For tests and
    measurements of the pipeline at scale.
    """
    from helpers.data import sample_images

    rng, photos, folder = random.Random(seed), list(sample_images().values()), Path(folder)
    for i in range(n):
        photo = photos[i % len(photos)]
        side = int(min(photo.size) * rng.uniform(0.6, 1.0))
        left, top = rng.randint(0, photo.width - side), rng.randint(0, photo.height - side)
        image = photo.crop((left, top, left + side, top + side)).resize((size, size))
        if rng.random() < 0.5:
            image = image.transpose(0)  # left-right flip
        path = folder / f"part{i // per_folder:03d}" / f"img{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
    return folder


# --------------------------------------------------------------------------- summary.csv and run.json


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


# --------------------------------------------------------------------------- the engines


def explain_stream(inputs, out_dir, model: str | Classifier = "mobilenet_v3_large", options: Options = Options(),
                   *, resume: bool = False, workers: int | None = None, engine: str = "local",
                   address: str | None = None, progress: bool = True) -> Iterator[dict]:
    """Explain every image of ``inputs`` (files, folders walked recursively); yield each summary row.

    Rows are appended to ``out_dir/summary.csv`` as they come, nothing is kept: memory does
    not depend on the number of images. ``resume`` skips the files already in the summary
    (same settings only). ``workers``: DataLoader processes that decode (local engine).
    ``engine="ray"`` explains on Ray Data actors, locally or on the cluster at ``address``.
    """
    if engine not in ENGINES:
        raise ValueError(f"Unknown engine {engine!r}: choose one of {', '.join(ENGINES)}.")
    if engine == "ray":
        from helpers import ray_engine

        ray_engine.connect(address)  # fails fast, before the model is loaded
    classifier = model if isinstance(model, Classifier) else load_classifier(model)
    with Summary(out_dir, options.settings(classifier), resume) as summary:
        total = sum(1 for _ in todo_files(inputs, summary.done)) if progress else None
        if engine == "ray":
            rows = ray_engine.ray_rows(todo_files(inputs, summary.done), out_dir, classifier.name, options,
                                       progress)
        else:
            rows = local_rows(inputs, summary.done, out_dir, classifier, options, workers)
        for row in progress_bar(rows, total=total, desc="explaining", unit="image", disable=not progress):
            summary.append(row)
            yield row


def local_rows(inputs, skip, out_dir, classifier: Classifier, options: Options, workers=None) -> Iterator[dict]:
    """Decode in DataLoader workers, explain here, one image at a time."""
    workers = DEFAULT_WORKERS if workers is None else workers
    loader = DataLoader(ImageStream(inputs, classifier.preprocess, frozenset(skip)), batch_size=None,
                        num_workers=workers, prefetch_factor=2 if workers else None)
    for item in loader:
        yield explain_input(classifier, item, out_dir, options)


# --------------------------------------------------------------------------- measuring


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (default: this one), in MB."""
    return psutil.Process(pid).memory_info().rss / 2**20


def rss_profile(rows, every: int = 50) -> list[tuple[int, float]]:
    """Consume a row stream; after every ``every`` rows, ``gc.collect()`` and read RSS: [(rows done, MB)]."""
    readings, count = [], 0
    for count, _ in enumerate(rows, start=1):
        if count % every == 0:
            gc.collect()
            readings.append((count, rss_mb()))
    return readings


def rss_growth(readings, warm_up: float = 0.2) -> float:
    """MB the RSS grew after warm-up: max of the last half minus max of the first half.

    The first ``warm_up`` fraction of the readings (allocator pools filling up) is left out.
    A pipeline that keeps something per image grows by that amount times the images per half.
    """
    values = [mb for _, mb in readings][int(len(readings) * warm_up):]
    half = len(values) // 2
    if half < 1:
        raise ValueError(f"Need at least 2 readings after warm-up, got {len(values)}.")
    return max(values[half:]) - max(values[:half])
