"""The checks of notebook 04's exercises: VarGrad (extend), a batched SmoothGrad (debug), the knobs (predict).

The two code checks run the student's function on tiny models whose SmoothGrad is known in
closed form. On a **linear** model every noisy copy has the same gradient ``w``. On a separable
**quadratic** model, score = 1/2 sum_i c_i x_i^2, the gradient at ``x + eps`` is
``c * (x + eps)``: SmoothGrad over n copies is ``c * (x + mean(eps))``, whose deviation from
``c * x`` has standard deviation ``|c| * sigma / sqrt(n)`` per pixel, and VarGrad (the variance of
the gradients over the copies) is ``c^2 * sigma^2``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from helpers.checks.common import as_array, fail, fresh, passed, resolve

SHAPE = (1, 3, 16, 16)  # the tiny models' input: 768 pixels, enough for a variance measured over pixels


class _Linear(nn.Module):
    """Two class scores, each a fixed linear function w_c . x of the pixels."""

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(4)
        self.weight = nn.Parameter(torch.randn((2, int(np.prod(SHAPE[1:]))), generator=generator),
                                   requires_grad=False)

    def forward(self, x):
        return x.flatten(1) @ self.weight.T


class _Quadratic(nn.Module):
    """Two class scores, score_c = 1/2 sum_i c_i x_i^2 (c = 1, 2, 3 by channel for class 0, its reverse for 1)."""

    def __init__(self):
        super().__init__()
        c = torch.arange(1.0, 4.0).view(3, 1, 1).expand(SHAPE[1:])
        self.register_buffer("c", torch.stack([c, c.flip(0)]))

    def forward(self, x):
        return 0.5 * (self.c.unsqueeze(0) * x.unsqueeze(1) ** 2).flatten(2).sum(dim=2)


def _image() -> torch.Tensor:
    """A test image with the value range of a normalised photo (about -2 to 2.5, range 4.5)."""
    generator = torch.Generator().manual_seed(7)
    return torch.rand(SHAPE, generator=generator) * 4.5 - 2.0


def _call(student_fn, exercise, *args):
    name = f"{getattr(student_fn, '__name__', 'your function')}(...)"
    value = resolve(lambda: student_fn(*fresh(args)), exercise, name)
    array = as_array(value, exercise, name)
    if array.shape != SHAPE:
        fail(exercise, f"expected a map of the image's shape {SHAPE}, got {array.shape}: keep the batch "
                       f"dimension, and average over the noisy copies only (not over pixels or channels).")
    return array


# --------------------------------------------------------------------------- Exercise: VarGrad (extend)


def check_vargrad(student_fn, *, exercise: int, n_samples: int = 200) -> None:
    """``student_fn(model, x, target, n_samples, noise_level)`` is VarGrad: the per-pixel variance of the gradient.

    Verified on tiny models: 0 on a linear model (all copies share one gradient), 0 without noise,
    and ``c^2 sigma^2`` on the quadratic model (within 15% on average over the pixels, which a
    right answer meets with n = 200 copies; either 1/n or 1/(n-1) is accepted).
    """
    x = _image()
    sigma_level = 0.2
    sigma = sigma_level * float(x.max() - x.min())
    linear = _Linear().eval()
    w2 = float((linear.weight[1] ** 2).max())
    flat = _call(student_fn, exercise, linear, x, 1, 8, sigma_level)
    if np.abs(flat).max() > 1e-4 * w2:
        fail(exercise, f"on a linear model every noisy copy has the same gradient w, so the variance over the "
                       f"copies is 0 everywhere, but your map reaches {np.abs(flat).max():.3g} (the largest w^2 is "
                       f"{w2:.3g}). Subtract the mean gradient before squaring: the variance is the mean of "
                       f"(g - mean g)^2, not the mean of g^2.")
    quadratic = _Quadratic().eval()
    still = _call(student_fn, exercise, quadratic, x, 0, 4, 0.0)
    if np.abs(still).max() > 1e-6:
        fail(exercise, f"with noise_level=0 every copy is the image itself, so the variance is 0, but your map "
                       f"reaches {np.abs(still).max():.3g}.")
    varied = _call(student_fn, exercise, quadratic, x, 0, n_samples, sigma_level)
    c2 = as_array(quadratic.c[0] ** 2, exercise)[None]
    ratio = float(np.mean(varied / (c2 * sigma ** 2)))
    if not 0.85 < ratio < 1.15:
        if abs(ratio * (x.max() - x.min()).item() ** 2 - 1) < 0.2:
            why = "as if sigma were noise_level alone: scale the noise by noise_level times the image's value range."
        elif abs(float(np.mean(varied / (np.sqrt(c2) * sigma))) - 1) < 0.15:
            why = "it grows like sigma, not sigma^2: return the variance, not the standard deviation."
        elif ratio < 0:
            why = "a variance is never negative: average the squared deviations from the mean gradient."
        else:
            why = ("check that the noise (sigma = noise_level times the value range) is drawn afresh for each copy, "
                   "and that you average the squared deviations over the copies.")
        fail(exercise, f"on the quadratic model score = 1/2 sum c_i x_i^2 the gradient at x + eps is c*(x + eps), "
                     f"so its variance over the copies is c^2 sigma^2; your map is {ratio:.3g} times that on "
                     f"average: {why}")
    passed(exercise, f"VarGrad is 0 on a linear model and without noise, and {ratio:.2f} x c^2 sigma^2 on the "
                     f"quadratic model (closed form: 1).")


# --------------------------------------------------------------------------- Exercise: batched SmoothGrad (debug)


def check_batched_smoothgrad(student_fn, *, exercise: int, n_samples: int = 20, batch_size: int = 8) -> None:
    """``student_fn(model, x, target, n_samples, noise_level, batch_size, seed)`` is SmoothGrad, batched.

    Verified on the quadratic model: without noise it is the gradient ``c * x``; with noise its
    deviation from ``c * x`` is that of an average of ``n_samples`` independent noisy copies
    (the effective number of copies, ``sigma^2 / var((map - c x) / c)`` over the pixels, within
    0.6-1.6 times ``n_samples``).
    """
    x = _image()
    model = _Quadratic().eval()
    c = as_array(model.c[0], exercise)[None]
    plain = c * as_array(x, exercise)
    still = _call(student_fn, exercise, model, x, 0, n_samples, 0.0, batch_size, 0)
    scale = float(np.sum(still * plain) / np.sum(plain * plain))
    if not np.allclose(still, plain, rtol=1e-4, atol=1e-5 * np.abs(plain).max()):
        fail(exercise, f"with noise_level=0 every copy is the image, so the map must equal the gradient at the "
                       f"image, but it is {scale:.3g} times it: every copy's gradient should count once and the "
                       f"total be divided by n_samples ({n_samples}, in batches of {batch_size}).")
    sigma_level = 0.2
    sigma = sigma_level * float(x.max() - x.min())
    noisy = _call(student_fn, exercise, model, x, 0, n_samples, sigma_level, batch_size, 0)
    spread = float(np.var((noisy - plain) / c))
    effective = sigma ** 2 / spread if spread > 0 else float("inf")
    if not 0.6 * n_samples < effective < 1.6 * n_samples:
        if effective < n_samples:
            why = ("it varies more than an average of that many independent copies should: do all the copies of a "
                   "batch get their own noise?")
        else:
            why = "it varies less than it should: is the noise scaled by noise_level times the image's value range?"
        fail(exercise, f"on a model whose SmoothGrad is known (score = 1/2 sum c_i x_i^2), your map deviates from "
                       f"the gradient at the image like an average of {effective:.1f} independent noisy copies, "
                       f"not of n_samples = {n_samples}: {why}")
    again = _call(student_fn, exercise, model, x, 0, n_samples, sigma_level, batch_size, 0)
    if not np.allclose(again, noisy):
        fail(exercise, "the same seed gave two different maps: draw the noise from the seeded generator.")
    passed(exercise, f"SmoothGrad in batches of {batch_size}: noise 0 gives the gradient; with noise the map varies "
                     f"like an average of {effective:.1f} independent copies (n_samples = {n_samples}).")


# --------------------------------------------------------------------------- Exercise: SmoothGrad-Squared (predict)

SQUARED_CHOICES = ("signed", "magnitude")


def check_squared_prediction(prediction, squared: float, measured: dict, *, exercise: int,
                             measure: str = "stability") -> None:
    """``prediction`` ("signed" or "magnitude") names the SmoothGrad whose ``measure`` SmoothGrad-Squared's is closer to.

    ``squared`` is SmoothGrad-Squared's measured value and ``measured`` maps "signed" and
    "magnitude" to the two SmoothGrads' values (same photo, noise draws and settings). The check
    prints the three numbers and fails, with them and the reason, on the wrong prediction.
    """
    prediction = resolve(prediction, exercise, "prediction")
    if prediction not in SQUARED_CHOICES:
        fail(exercise, f"prediction should be one of {', '.join(map(repr, SQUARED_CHOICES))}, got {prediction!r}.")
    if set(measured) != set(SQUARED_CHOICES):
        raise ValueError(f"measured must have the keys {SQUARED_CHOICES}, got {sorted(measured)}.")
    closer = min(SQUARED_CHOICES, key=lambda key: abs(measured[key] - squared))
    report = (f"{measure} of SmoothGrad-Squared {squared:.2f}; signed SmoothGrad {measured['signed']:.2f}, "
              f"SmoothGrad of magnitudes {measured['magnitude']:.2f}")
    reason = ("a square, like a magnitude, is never negative, so the copies' values add up instead of cancelling"
              if closer == "magnitude" else
              "here the squares' few largest values dominate the average as much as the cancelling signs do")
    if prediction != closer:
        fail(exercise, f"measured: {report}: closer to the {closer} one ({reason}).")
    passed(exercise, f"measured: {report}: closer to the {closer} one ({reason}).")
