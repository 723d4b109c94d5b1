"""Timing two pieces of code fairly: alternately, after a warm-up, with medians.

Notebook 04 times the hand-written SmoothGrad against Captum's with it; ``make bench`` too.
"""

from __future__ import annotations

import statistics
import time

PAIRED_REPEATS = 7


class Seconds(float):
    """What a function timed by ``paired_seconds`` may return: the seconds to count instead of its wall time."""


def paired_seconds(first, second, repeats: int = PAIRED_REPEATS) -> tuple[float, float, float]:
    """Time two functions alternately (after a warm-up of each): medians and the median of the ratios.

    Alternating makes slow drifts of the machine's speed hit both sides alike. A function
    may return ``Seconds(...)``: the seconds to count instead (e.g. a steady state without its
    start-up); any other return value is ignored.
    """
    first(), second()
    a, b = [], []
    for _ in range(repeats):
        for function, times in ((first, a), (second, b)):
            start = time.perf_counter()
            counted = function()
            times.append(counted if isinstance(counted, Seconds) else time.perf_counter() - start)
    return statistics.median(a), statistics.median(b), statistics.median(x / y for x, y in zip(a, b))
