"""`make bench`'s IG row: gradient evaluations to converged IG, adaptive against Captum's five fixed rules.

Converged, for one photo: relative completeness gap <= 1% and the map within 2% (relative L2) of
a 4096-point reference (trapezoid rule, cached with ``helpers.cache.cached``). For each fixed rule
the smallest ``n_steps`` that converges on ALL course photos is searched by doubling, then by
bisection (which assumes that more steps never hurt; the gap is not monotone, so the answer is
the smallest passing ``n_steps`` the search visits). The rules are searched in ``SEARCH_ORDER``, each
only up to the best ``n_steps`` found so far.
"""

from __future__ import annotations

import time

import torch

from helpers.attribution import adaptive_integrated_gradients, integrated_gradients
from helpers.cache import cached
from helpers.data import SAMPLE_PHOTOS, sample_images
from helpers.models import load_classifier

REFERENCE_STEPS = 4096
GAP_BAR, MAP_BAR = 0.01, 0.02
# The rules in the order searched: the higher-order ones first, so that the best n_steps found so far
# bounds the search of the others (a rule that does not pass below it cannot be the best).
SEARCH_ORDER = ("gausslegendre", "riemann_trapezoid", "riemann_middle", "riemann_left", "riemann_right")


@cached
def ig_reference(model, x, target, n_steps: int = REFERENCE_STEPS):
    """The reference IG map of one image (trapezoid rule, ``n_steps`` points) and F(x) - F(x')."""
    reference = integrated_gradients(model, x, target, n_steps=n_steps)
    with torch.no_grad():
        outputs = model(torch.cat([x, torch.zeros_like(x)]))[:, target]
    return reference, float(outputs[0] - outputs[1])


def course_photos(classifier=None):
    """The model and, per course photo, (x, top-1 class): the photos of ``helpers.data.SAMPLE_PHOTOS``."""
    classifier = classifier or load_classifier("efficientnet_lite0")
    photos = {}
    for name, image in sample_images(list(SAMPLE_PHOTOS)).items():
        x = classifier.input_batch(image)
        photos[name] = (x, classifier.top_k(x, k=1)[0][2])
    return classifier.model, photos


def scores(attribution, reference, change):
    """(relative completeness gap, relative L2 distance to the reference map)."""
    gap = abs(float(attribution.sum()) - change) / abs(change)
    return gap, float((attribution - reference).norm() / reference.norm())


def passes(attribution, reference, change) -> bool:
    gap, distance = scores(attribution, reference, change)
    return gap <= GAP_BAR and distance <= MAP_BAR


def smallest_passing(passes_at, start: int = 16, limit: int = 8192, resolution: float = 0.125):
    """Smallest n (within ``resolution`` * n) with ``passes_at(n)`` True: doubling from ``start``, then
    bisection between the last failing and the first passing n. None if ``limit`` fails too."""
    low, high = None, min(start, limit)
    while not passes_at(high):
        if high >= limit:
            return None
        low, high = high, min(high * 2, limit)  # the last doubling stops at limit: limit itself is tried
    if low is None:
        return high
    while high - low > max(1, resolution * low):
        middle = (low + high) // 2
        if passes_at(middle):
            high = middle
        else:
            low = middle
    return high


def adaptive_runs(model, photos, references, **kwargs) -> dict:
    """Per photo: (steps, gap, distance to the reference, seconds) of ``adaptive_integrated_gradients``."""
    runs = {}
    for name, (x, target) in photos.items():
        start = time.perf_counter()
        attribution, info = adaptive_integrated_gradients(model, x, target, **kwargs)
        seconds = time.perf_counter() - start
        runs[name] = (int(info["steps"][0]), *scores(attribution, *references[name]), seconds)
    return runs


def smallest_fixed(model, photos, references, method: str, start: int = 16, limit: int = REFERENCE_STEPS):
    """Smallest ``n_steps`` of the fixed ``method`` that passes on every photo (None: not up to ``limit``), and
    the seconds of that run summed over the photos. The photo that failed last is tried first."""
    order, seconds = list(photos), {}

    def passes_at(n):
        total = 0.0
        for name in list(order):
            x, target = photos[name]
            begin = time.perf_counter()
            attribution = integrated_gradients(model, x, target, n_steps=n, method=method)
            total += time.perf_counter() - begin
            if not passes(attribution, *references[name]):
                order.remove(name)
                order.insert(0, name)
                return False
        seconds[n] = total
        return True

    found = smallest_passing(passes_at, start, limit)
    return found, seconds.get(found)


def measure_ig(classifier=None) -> list[tuple[str, str, str, str]]:
    """The rows of ``make bench`` for converged IG: adaptive against each fixed rule, on every course photo."""
    model, photos = course_photos(classifier)
    references = {name: ig_reference(model, x, target) for name, (x, target) in photos.items()}
    runs = adaptive_runs(model, photos, references)
    adaptive_total = sum(run[0] for run in runs.values())
    adaptive_ok = all(gap <= GAP_BAR and distance <= MAP_BAR for _, gap, distance, _ in runs.values())
    details = ", ".join(f"{name} {steps} ({gap:.2%}, {distance:.1%})" for name, (steps, gap, distance, _) in runs.items())
    rows = [(f"IG adaptive (target_gap 0.01): gradients per photo (gap, distance to the {REFERENCE_STEPS}-point map)",
             details, f"gap <= {GAP_BAR:.0%}, map <= {MAP_BAR:.0%}", _verdict(adaptive_ok)),
            (f"IG adaptive: gradients on all {len(photos)} photos",
             f"{adaptive_total} ({sum(run[3] for run in runs.values()):.1f} s)", "", "")]
    best_n = None  # the smallest n_steps of any rule so far: a rule that needs more is not the best
    for method in SEARCH_ORDER:
        limit = best_n or REFERENCE_STEPS
        n, seconds = smallest_fixed(model, photos, references, method, limit=limit)
        if n is None:
            rows.append((f"IG {method}: smallest n_steps that passes on all photos",
                         f"none up to {limit}" + (" (the best rule's n_steps)" if best_n else ""), "", ""))
            continue
        best_n = min(best_n or n, n)
        rows.append((f"IG {method}: smallest n_steps that passes on all photos",
                     f"{n} x {len(photos)} photos = {n * len(photos)} ({seconds:.1f} s)", "", ""))
    if best_n:
        best = best_n * len(photos)
        ratio = adaptive_total / best
        rows.append(("IG gradients, adaptive / best fixed rule", f"{adaptive_total} / {best} = {ratio:.2f}", "<= 0.5",
                     _verdict(ratio <= 0.5 and adaptive_ok)))
    return rows


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"
