"""Measuring memory while a stream of rows is consumed: is it bounded?"""

from __future__ import annotations

import gc

import psutil


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
