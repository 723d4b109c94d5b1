"""The checks of notebook 04's exercises."""

from __future__ import annotations

import numpy as np

from helpers.checks.common import fail, passed, resolve, as_array, _diagnose, fresh


def check_smooth_ig(student_fn, model, x, target, *, n_samples: int = 2, n_steps: int = 8, exercise: int) -> None:
    """``student_fn(model, x, target, n_samples, noise_level, n_steps)`` averages IG maps over noisy copies.

    Verified: with ``noise_level=0`` it equals ``integrated_gradients(model, x, target,
    n_steps=n_steps)`` (black baseline, trapezoid rule), so it averages rather than sums; with
    noise the map changes but keeps the size of one IG map.
    """
    from helpers.attribution import integrated_gradients

    name = f"{getattr(student_fn, '__name__', 'your function')}(...)"
    reference = integrated_gradients(model, x, target, None, n_steps)
    still = resolve(lambda: student_fn(*fresh((model, x, target, n_samples, 0.0, n_steps))), exercise, name)
    scale = float(reference.abs().max()) or 1.0
    still, plain = as_array(still, exercise), as_array(reference, exercise)
    if still.shape != plain.shape:
        fail(exercise, f"expected a map of the image's shape {plain.shape}, got {still.shape}.")
    if not np.allclose(still, plain, rtol=1e-3, atol=1e-4 * scale):
        fail(exercise, f"with noise_level=0 your map should equal integrated_gradients(model, x, target, "
                       f"n_steps={n_steps}) but differs by up to {np.max(np.abs(still - plain)):.3g}. "
                       f"{_diagnose(still, plain)} With no noise every copy is the image itself, so the average "
                       f"of the IG maps is one IG map (black baseline, the default trapezoid rule).")
    noisy = as_array(resolve(lambda: student_fn(*fresh((model, x, target, n_samples, 0.2, n_steps))), exercise, name), exercise)
    if np.allclose(noisy, plain, rtol=1e-6, atol=1e-7 * scale):
        fail(exercise, "with noise_level=0.2 your map equals plain IG: add the noise to the image before IG "
                       "(sigma = noise_level times the image's value range).")
    ratio = np.linalg.norm(noisy) / max(np.linalg.norm(plain), 1e-12)
    if not 0.25 < ratio < 1.5 * n_samples ** 0.5 + 0.5:
        fail(exercise, f"with noise your map is {ratio:.3g} times the size of one IG map: average the IG maps "
                       f"(divide by n_samples), and scale the noise by noise_level times the value range.")
    passed(exercise, f"SmoothGrad + IG: noise 0 gives IG with n_steps={n_steps}; with noise the map changes and "
                     f"keeps the size of an average.")
