"""Many images in, rows out: ``explain_stream`` over either engine, ``explain_files`` for a notebook.

``explain_stream`` reads a directory tree of any size once, lazily, explains each image (local
engine: decoded in ``DataLoader`` workers; Ray engine: on Ray Data actors, a chunk of files at
a time) and appends its row to ``summary.csv`` as one whole line. ``run.json`` beside it
records what the maps depend on (model, method, settings), so ``resume=True`` skips the files
already done, and only for the same settings; files whose row has an error are tried again.
"""

from __future__ import annotations

from typing import Iterator

from helpers.explain import ray_engine
from helpers.explain.core import Options
from helpers.explain.inputs import BackgroundCount, Summary, todo_items
from helpers.explain.local import local_rows
from helpers.models import Classifier, load_classifier
from helpers.settings import pick_device
from helpers.settings import progress as progress_bar

ENGINES = ("local", "ray")


def explain_stream(inputs, out_dir, model: str | Classifier = "mobilenet_v3_large", options: Options = Options(),
                   *, resume: bool = False, workers: int | None = None, engine: str = "local",
                   address: str | None = None, progress: bool = True) -> Iterator[dict]:
    """Explain every image of ``inputs`` (files, folders walked recursively); yield each summary row.

    ``inputs`` is read once, lazily (it may be an iterator); rows are appended to
    ``out_dir/summary.csv`` as they come, nothing is kept: start-up and memory do not depend on
    the number of images. A file is keyed by its resolved path, shown as ``display_path`` shows
    it (column ``file``). ``resume`` skips the files already in the summary (same settings
    only) and tries again those whose row has an error. ``model``: a name (loaded, and moved to
    ``pick_device()``) or a ``Classifier`` (used where it is). ``workers``: DataLoader processes
    that decode (local engine). ``engine="ray"`` explains on Ray Data actors, locally or on the
    cluster at ``address``. When ``inputs`` is a list or tuple, the progress bar's total is
    counted in a background thread, from the first row on, and shown once known.
    """
    if engine not in ENGINES:
        raise ValueError(f"Unknown engine {engine!r}: choose one of {', '.join(ENGINES)}.")
    if engine == "ray":
        ray_engine.connect(address)  # fails fast, before the model is loaded
    classifier = model if isinstance(model, Classifier) else load_classifier(model)
    if engine == "local" and not isinstance(model, Classifier):
        classifier.to(pick_device())  # the Ray actors load and move their own copy
    with Summary(out_dir, options.settings(classifier), resume) as summary:
        items = todo_items(inputs, summary.done)
        if engine == "ray":
            rows = ray_engine.ray_rows(items, out_dir, classifier.name, options, progress)
        else:
            rows = local_rows(items, out_dir, classifier, options, workers)
        countable = progress and isinstance(inputs, (list, tuple))
        bar, total = progress_bar(rows, desc="explaining", unit="image", disable=not progress), None
        try:
            for row in bar:
                if countable and total is None:  # after the first row: the DataLoader workers are forked
                    total = BackgroundCount(inputs, summary.done)
                elif total is not None and total.value is not None and bar.total is None:
                    bar.total = total.value
                    bar.refresh()
                summary.append(row)
                yield row
        finally:
            bar.close()
            if total is not None:
                total.stop()


def explain_files(inputs, out_dir, model: str | Classifier = "mobilenet_v3_large", method: str = "ig",
                  n_steps: int | None = None, internal_batch_size: int | None = None, progress: bool = True,
                  target_gap: float = 0.01, max_steps: int = 4096, **pipeline) -> list[dict]:
    """Explain every image in ``inputs`` (files and folders, recursively); write figures and ``summary.csv``.

    IG is adaptive (gap under ``target_gap``, at most ``max_steps`` gradients per image) unless
    ``n_steps`` is given (a fixed grid). A bad file is recorded in the summary with its error and the batch goes on. The
    summary rows are returned (for a very large data set, iterate
    ``explain_stream`` instead: it keeps nothing). ``pipeline`` takes the
    keywords of ``explain_stream``: ``figures``, ``save_maps``, ``resume``, ``workers``,
    ``engine``, ``address``.
    """
    options = Options(method, n_steps, internal_batch_size, pipeline.pop("figures", "all"),
                      pipeline.pop("save_maps", False), target_gap, max_steps)
    return list(explain_stream(inputs, out_dir, model, options, progress=progress, **pipeline))
