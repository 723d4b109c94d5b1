"""``--engine ray``: the per-image explanation of ``helpers.explain.core`` as a Ray Data pipeline.

The input files are read lazily, ``CHUNK_FILES`` at a time; each chunk is one Ray Data
dataset: ``from_items`` (its file names) -> ``map_batches(Explainer)``, a stateful callable
class that loads the model once per actor -> rows streamed back to the driver, which appends
them to ``summary.csv`` exactly as the local engine does. Start-up and the driver's memory so
depend on the chunk, not on the number of files; each chunk starts its actors (and loads the
model) afresh, a cost that 1000 images make small (``CHUNK_FILES``). Ray is an optional extra:
``pip install -e ".[scale]"`` (or ``make setup-scale``).

On a cluster, the input files and the output folder must be on storage every node sees
(the actors read the images and write figures and maps themselves).
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from helpers.explain.core import SUMMARY_FIELDS, EngineError, Options, decode, explain_input
from helpers.models import load_classifier
from helpers.settings import pick_device

INSTALL_HINT = 'pip install -e ".[scale]"  (or: make setup-scale)'
GB = 2**30
MEMORY_PER_ACTOR = 2 * GB  # IG with the default internal batch 8 peaks near 1.5 GB (docs/benchmarks.md)
CHUNK_FILES = 1000  # files per Ray Data dataset; each one costs an actor start-up and a model load


def require_ray():
    """The ``ray`` module, or an ``EngineError`` that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as error:
        raise EngineError(f"--engine ray needs Ray Data, which is not installed ({error}). "
                          f"Install the optional extra: {INSTALL_HINT}") from None
    return ray


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """An ``EngineError`` unless ``host:port`` (or ``ray://host:port``) accepts a TCP connection."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise EngineError(f"--address must look like HOST:PORT (e.g. 10.0.0.5:6379) or ray://HOST:PORT or auto, "
                          f"got {address!r}.")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise EngineError(f"Cannot reach a Ray cluster at {address} ({error}). Start one with `ray start --head` "
                          f"on that machine, check the address, or leave out --address for a local Ray "
                          f"instance.") from None


def connect(address: str | None = None):
    """Ray, initialised once: on the cluster at ``address``, or a new local instance (``None``)."""
    ray = require_ray()
    if address not in (None, "auto", "local"):
        check_reachable(address)
    if ray.is_initialized():
        return ray
    local = {"object_store_memory": 256 * 2**20} if address is None else {}
    # A busy machine starts Ray's node agent slowly; the default 30 s wait kills the local raylet.
    os.environ.setdefault("RAY_agent_register_timeout_ms", "180000")
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "180")
    ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR, **local)
    return ray


def plan_actors(resources: dict) -> dict:
    """How many actors, and what each reserves, for the cluster's ``resources`` (``ray.cluster_resources()``).

    - GPUs: one actor per GPU (``num_gpus=1``, one CPU each).
    - CPUs only: one CPU (half of a single one) stays free for Ray Data's own tasks and the
      driver; without it, two 1-CPU actors on 2 CPUs starve the input tasks and the run
      deadlocks. One actor per remaining whole CPU, at most one per 2 GB of memory; the
      free CPUs are shared equally, and each actor's torch uses CPUs // actors threads.
    """
    cpus, gpus = resources.get("CPU", 1.0), int(resources.get("GPU", 0))
    if gpus:
        return {"actors": gpus, "num_cpus": min(1.0, cpus / gpus), "num_gpus": 1, "threads": 1}
    usable = cpus - (1.0 if cpus >= 2 else cpus / 2)
    by_memory = int(resources.get("memory", MEMORY_PER_ACTOR) // MEMORY_PER_ACTOR)
    actors = max(1, min(int(usable), by_memory))
    return {"actors": actors, "num_cpus": usable / actors, "num_gpus": 0, "threads": max(1, int(cpus // actors))}


class Explainer:
    """Ray Data's stateful callable: the model is loaded once per actor, then every batch of files is explained."""

    def __init__(self, model_name: str, out_dir: str, options: Options, threads: int):
        torch.set_num_threads(threads)
        self.classifier = load_classifier(model_name, allow_fallback=False).to(pick_device())
        self.out_dir, self.options = out_dir, options

    def __call__(self, batch: dict) -> dict:
        rows = [explain_input(self.classifier, decode(str(path), str(file), self.classifier.preprocess),
                              self.out_dir, self.options) for path, file in zip(batch["path"], batch["file"])]
        return {field: np.array([str(row[field]) for row in rows], dtype=object) for field in SUMMARY_FIELDS}


def ray_rows(items, out_dir, model_name: str, options: Options, progress: bool = False) -> Iterator[dict]:
    """Explain ``items`` (``(path, key)``, read lazily) on Ray Data actors, one dataset per ``CHUNK_FILES``;
    yield the rows in input order (Ray must be connected)."""
    ray = connect()
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    logging.getLogger("ray.data").setLevel(logging.INFO if progress else logging.ERROR)
    context.enable_progress_bars = progress
    items, plan = iter(items), None
    while chunk := [{"path": path, "file": file} for path, file in itertools.islice(items, CHUNK_FILES)]:
        plan = plan or plan_actors(ray.cluster_resources())
        for row in _chunk_dataset(ray, chunk, out_dir, model_name, options, plan).iter_rows():
            yield {field: str(row[field]) for field in SUMMARY_FIELDS}


def _chunk_dataset(ray, chunk: list, out_dir, model_name: str, options: Options, plan: dict):
    with warnings.catch_warnings():  # Ray 2.60 flags max_restarts as a deprecated remote arg; it still applies
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*is deprecated")
        return ray.data.from_items(chunk).map_batches(
            Explainer, batch_size=1, compute=ray.data.ActorPoolStrategy(size=min(plan["actors"], len(chunk))),
            fn_constructor_kwargs={"model_name": model_name, "out_dir": str(Path(out_dir).resolve()),
                                   "options": options, "threads": plan["threads"]},
            num_cpus=plan["num_cpus"], num_gpus=plan["num_gpus"], max_restarts=0)  # a failing actor fails the run
