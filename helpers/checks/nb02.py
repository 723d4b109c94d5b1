"""The checks of notebook 02's exercises."""

from __future__ import annotations

import numpy as np
import torch

from helpers.attribution import vanilla_gradient

from helpers.validate import prepare_inputs
from helpers.checks.common import fail, passed, resolve, as_array, _diagnose, fresh


def check_left_riemann_ig(student_fn, model, x, target, *, baseline, n_steps: int = 8, exercise: int) -> None:
    """``student_fn(model, x, target, baseline, n_steps)`` is IG with the left Riemann rule.

    Compared with ``integrated_gradients(..., method="riemann_left")``; on a mismatch the hint
    names the typical slip it matches: right-Riemann points, no (x - x') factor, a sum instead
    of an average, the opposite sign, the black baseline instead of ``baseline``.
    """
    from helpers.attribution import integrated_gradients

    answer = resolve(lambda: student_fn(*fresh((model, x, target, baseline, n_steps))), exercise,
                     f"{getattr(student_fn, '__name__', 'your function')}(...)")
    value = as_array(answer, exercise, "your attributions")
    if value.shape != tuple(x.shape):
        fail(exercise, f"expected attributions of the image's shape {tuple(x.shape)}, got {value.shape}.")
    x_, targets, baseline_ = prepare_inputs(model, x, target, baseline)
    alphas = torch.linspace(0, 1, n_steps + 1)  # left nodes: the first n_steps; right nodes: the last n_steps
    grads = torch.cat([vanilla_gradient(model, baseline_ + a * (x_ - baseline_), targets) for a in alphas])
    difference = (x_ - baseline_).double().cpu()
    grads = grads.double().cpu()
    left_mean, right_mean = grads[:-1].mean(dim=0, keepdim=True), grads[1:].mean(dim=0, keepdim=True)
    expected = (difference * left_mean).numpy()
    scale = float(np.abs(expected).max()) or 1.0

    def same(candidate):
        return np.allclose(value, np.asarray(candidate), rtol=1e-3, atol=1e-4 * scale)

    if same(expected):
        passed(exercise, f"your IG equals integrated_gradients(method='riemann_left') with n_steps={n_steps} "
                         f"(nodes alpha = 0, 1/{n_steps}, ..., {n_steps - 1}/{n_steps}).")
        return
    slips = [
        ((difference * right_mean).numpy(), f"it matches the RIGHT Riemann sum (points 1/{n_steps}, ..., 1). The left "
                                            f"rule starts at alpha = 0 and stops one step before 1."),
        (left_mean.numpy(), "it matches the average gradient along the path without the factor (x - x'): "
                            "IG multiplies the averaged gradient by how far each pixel travelled."),
        ((n_steps * difference * left_mean).numpy(), f"it is {n_steps} times too large: each of the {n_steps} "
                                                     f"gradients has the weight 1/{n_steps} (an average, not a sum)."),
        (-expected, "it has the opposite sign: the factor is (x - x'), not (x' - x)."),
    ]
    for candidate, hint in slips:
        if same(candidate):
            fail(exercise, f"your attributions differ from the left Riemann sum: {hint}")
    if not torch.equal(baseline_, torch.zeros_like(baseline_)):
        black = integrated_gradients(model, x_, targets, None, n_steps, "riemann_left").double().cpu().numpy()
        if same(black):
            fail(exercise, "your attributions differ from the left Riemann sum: they are IG from a BLACK baseline. "
                           "Use the baseline argument for x' (in the path and in the factor x - x').")
    worst = float(np.max(np.abs(value - expected)))
    fail(exercise, f"your attributions differ from the left Riemann sum by up to {worst:.3g} (largest value "
                   f"{scale:.3g}). Check the path points x' + alpha (x - x') with alpha = k / n_steps, "
                   f"k = 0, ..., n_steps - 1, the weight 1/n_steps and the final factor (x - x'). "
                   f"{_diagnose(value, expected)}".strip())
