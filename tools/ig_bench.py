"""`make bench`'s IG row: gradient evaluations to converged IG, adaptive against Captum's five fixed rules.

Converged, for one photo: relative completeness gap <= 1% and the map within 2% (relative L2) of
a 4096-point reference (trapezoid rule, cached with ``helpers.cache.cached``). For each fixed rule
the smallest ``n_steps`` that converges on ALL course photos is searched by doubling, then by
bisection (which assumes that more steps never hurt; the gap is not monotone, so the answer is
the smallest passing ``n_steps`` the search visits).
"""

from __future__ import annotations

import time

import torch

from helpers.attribution import IG_METHODS, adaptive_integrated_gradients, integrated_gradients
from helpers.cache import cached
from helpers.data import SAMPLE_PHOTOS, sample_images
from helpers.models import load_classifier

REFERENCE_STEPS = 4096
GAP_BAR, MAP_BAR = 0.01, 0.02


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
    low, high = None, start
    while not passes_at(high):
        low, high = high, high * 2
        if high > limit:
            return None
    if low is None:
        return high
    while high - low > max(1, resolution * low):
        middle = (low + high) // 2
        if passes_at(middle):
            high = middle
        else:
            low = middle
    return high
