"""One place that reads the environment: quick mode, offline mode, folders, device.

Environment variables (all optional):

- ``COURSE_QUICK=1``   small ``n_steps``, few samples, short training (CI sets it).
- ``COURSE_OFFLINE=1`` never touch the network; use caches and offline fallbacks.
- ``COURSE_DATA_DIR``  where downloads and checkpoints go (default: ``<project>/data``).
- ``COURSE_MIRROR_DIR`` an offline mirror of datasets (default: ``<project>/../shared/offline/data``).
- ``COURSE_DEVICE``    force ``cpu``, ``cuda`` or ``mps`` instead of the automatic choice.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

import torch

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def quick_mode() -> bool:
    """True when ``COURSE_QUICK`` asks for a fast, small run (CI)."""
    return _flag("COURSE_QUICK")


def offline_mode() -> bool:
    """True when ``COURSE_OFFLINE`` forbids any network access."""
    return _flag("COURSE_OFFLINE")


def knob(full, quick):
    """Return ``quick`` in quick mode, ``full`` otherwise (for the knobs atop each notebook)."""
    return quick if quick_mode() else full


def data_dir() -> Path:
    """Folder for downloads, datasets and checkpoints (created if missing)."""
    path = Path(os.environ.get("COURSE_DATA_DIR", PROJECT_ROOT / "data")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def mirror_dir() -> Path:
    """Offline mirror of datasets in torchvision's layout (may not exist)."""
    default = PROJECT_ROOT.parent / "shared" / "offline" / "data"
    return Path(os.environ.get("COURSE_MIRROR_DIR", default)).expanduser()


def pick_device(preferred: str | None = None) -> torch.device:
    """Choose CUDA > MPS > CPU, or the device named by ``preferred`` / ``COURSE_DEVICE``."""
    name = (preferred or os.environ.get("COURSE_DEVICE", "")).strip().lower()
    if name:
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": _mps_available(),
        }
        if name not in available:
            raise ValueError(f"Unknown device {name!r}: choose one of cpu, cuda, mps.")
        if not available[name]:
            raise ValueError(f"Device {name!r} was requested but is not available on this machine.")
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def display_path(path) -> str:
    """``path`` as a reader should see it: relative to the project, or with the home folder as ``~``.

    Printed outputs are committed and read on other machines, so they never show this
    machine's absolute paths.
    """
    path = Path(path).expanduser().resolve()
    for root, shown in ((PROJECT_ROOT, None), (Path.home().resolve(), "~")):
        if path == root or root in path.parents:
            relative = path.relative_to(root)
            return str(relative) if shown is None else str(Path(shown) / relative)
    return str(path)


def path_from_display(text) -> Path:
    """The file a ``display_path`` string names (e.g. a ``file`` of summary.csv), wherever the reader runs."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


DOWNLOAD_HOST = ("download.pytorch.org", 443)  # where torchvision's weights come from


@functools.cache
def network_reachable(host: tuple[str, int] = DOWNLOAD_HOST, timeout: float = 3.0) -> bool:
    """Whether a connection to ``host`` opens (asked once per session; False in offline mode)."""
    if offline_mode():
        return False
    try:
        socket.create_connection(host, timeout=timeout).close()
        return True
    except OSError:
        return False


def network_status() -> str:
    """What the course does about downloads, in words: offline by choice, unreachable, or reachable."""
    if offline_mode():
        return "network: not used (COURSE_OFFLINE=1), offline fallbacks in use"
    if network_reachable():
        return "network: reachable, real weights and data sets are downloaded when missing"
    return "network: unreachable, offline fallbacks in use"


def describe() -> str:
    """One line that says how the course is running (printed atop each notebook)."""
    return (
        f"quick mode: {'on' if quick_mode() else 'off'} | {network_status()} | "
        f"device: {pick_device()} | data: {display_path(data_dir())}"
    )


def progress(iterable=None, **kwargs):
    """A tqdm progress bar: a widget in interactive Jupyter, plain text in batch runs.

    ``make run`` / ``make publish`` set ``COURSE_TEXT_PROGRESS=1``: a widget's saved output is
    its state when it was created (0%), while a text bar's saved output (once nbconvert has
    applied its carriage returns) is its final state: 100%, time and rate.
    """
    if _flag("COURSE_TEXT_PROGRESS"):
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm(iterable, **kwargs)
