"""The checks of notebook 10's exercises (feature visualization)."""

from __future__ import annotations

import numpy as np
import torch

from helpers.cache import cached
from helpers.checks.common import fail, passed, resolve


@cached
def fourier_alone_survival(model, target, size, steps, seed=0):
    """Probability and jitter survival of a class image optimised in Fourier space *without* transforms."""
    from helpers import featurevis as fv

    result = fv.visualize(model, fv.class_logit(target), shape=(1, 3, size, size), steps=steps,
                          parameterisation="fourier", robust=False, seed=seed)
    survival = fv.jitter_survival(model, result["image"], target)
    return {name: float(value[0]) for name, value in survival.items()}


def check_fourier_alone_prediction(prediction, model, target, *, size: int, steps: int, exercise: int,
                                   threshold: float = 0.9) -> None:
    """``prediction`` (True/False): does the Fourier parameterisation *without* random transforms give
    a class image that keeps at least ``threshold`` of its probability under jitter, as the robust
    Fourier image of the lecture does? Runs the experiment."""
    value = resolve(prediction, exercise, "prediction")
    if not isinstance(value, bool):
        fail(exercise, f"write your prediction as True or False (a bool), got {value!r} "
                       f"({type(value).__name__}).")
    measured = fourier_alone_survival(model, target, size, steps)
    survives = measured["survival"] >= threshold
    facts = (f"Fourier without transforms: probability {measured['clean']:.3f}, {measured['shifted']:.3f} under "
             f"jitter, survival {measured['survival']:.2f} (threshold {threshold:.2f})")
    if value != survives:
        why = ("the decorrelated, 1/f-scaled spectrum makes steps smooth, yet nothing in the loss asked the "
               "pattern to work at another position: only the random transforms do that."
               if not survives else
               "smooth, low-frequency patterns alone already moved the model in a shift-tolerant way here.")
        fail(exercise, f"your prediction was {value}, the experiment says {survives}. {facts}: {why} "
                       f"Compare with the robust Fourier image of section 4.")
    passed(exercise, f"prediction {value} is right. {facts}.")


@cached
def penalised_pixel_run(model, target, size, steps, penalty, weight):
    """Probability and jitter survival of a class image (pixels + transforms) with ``penalty``."""
    from helpers import featurevis as fv

    result = fv.visualize(model, fv.class_logit(target), shape=(1, 3, size, size), steps=steps,
                          parameterisation="pixel", penalty=penalty, penalty_weight=weight)
    return {name: float(value[0]) for name, value in fv.jitter_survival(model, result["image"], target).items()}


def check_laplacian_penalty(penalty, *, exercise: int, model=None, target=None, size=None, steps=None,
                            weight=None, baseline=None) -> None:
    """``penalty(images)``: the mean over batch, channels and interior pixels of the squared discrete
    Laplacian (4 x centre - the 4 neighbours), a differentiable scalar tensor.

    With ``model`` (and ``target``, ``size``, ``steps``, ``weight``), a right penalty is then used in
    the pixel + transforms optimisation and its probability and survival are printed beside
    ``baseline`` (the same run without penalty: a dict with "clean" and "survival")."""
    def evaluate(images, what):
        value = resolve(lambda: penalty(images), exercise, f"laplacian_penalty({what})")
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            fail(exercise, f"return one number as a torch.Tensor (a scalar), got "
                           f"{type(value).__name__} {tuple(getattr(value, 'shape', ()))} for {what}.")
        return value

    constant = evaluate(torch.full((2, 3, 6, 6), 0.4), "a constant image")
    if abs(float(constant)) > 1e-6:
        fail(exercise, f"a constant image gives {float(constant):.4g}; it has no edges and should cost 0.")
    rows, cols = torch.meshgrid(torch.arange(6.0), torch.arange(7.0), indexing="ij")
    ramp = (0.05 * rows + 0.1 * cols).expand(1, 3, 6, 7)
    sloped = evaluate(ramp, "a linear ramp")
    if abs(float(sloped)) > 1e-6:
        fail(exercise, f"a linear ramp (brightness rising steadily) gives {float(sloped):.4g}, but its Laplacian "
                       f"is 0: a smooth gradient should cost nothing. Differences of neighbours (as total "
                       f"variation) penalise the slope; the Laplacian compares a pixel with the mean of its "
                       f"four neighbours (second differences).")
    board = ((rows[:4, :5] + cols[:4, :5]) % 2).expand(2, 3, 4, 5)
    expected = 16.0  # interior pixels: 4 x c - 4 x (1 - c) = +-4
    got = float(evaluate(board, "a checkerboard"))
    if abs(got - expected) > 1e-4 * expected:
        if abs(got - 4.0) < 1e-4:
            hint = "that is the mean absolute Laplacian: square it."
        elif abs(got - expected * 2 * 3 * 2 * 3) < 1e-2:
            hint = "that is a sum over the batch, channels and pixels: take the mean."
        elif abs(got - expected / 4) < 1e-4 or abs(got - expected / 16) < 1e-4:
            hint = "the centre counts 4 times: 4 x centre - (up + down + left + right)."
        else:
            hint = "only interior pixels have four neighbours: use slices such as x[..., 1:-1, 1:-1]."
        fail(exercise, f"a 0/1 checkerboard (4 x 5, interior pixels all +-4 from their neighbours' sum) should "
                       f"give {expected:g}, got {got:.4g}: {hint}")
    images = torch.rand(1, 3, 8, 8, requires_grad=True)
    value = evaluate(images, "random images")
    if not value.requires_grad:
        fail(exercise, "the penalty carries no gradient, so the optimiser cannot use it: stay in torch "
                       "(no .detach(), .item() or numpy).")
    passed(exercise, "the Laplacian penalty is 0 on constants and ramps, 16 on a checkerboard, and differentiable.")
    if model is not None:
        run = penalised_pixel_run(model, target, size, steps, penalty, weight)
        print(f"pixels + transforms, {steps} steps, with your penalty (weight {weight:g}): P = {run['clean']:.3f}, "
              f"survival under jitter {run['survival']:.2f}")
        if baseline is not None:
            print(f"the same without penalty (section 3):{'':>13} P = {baseline['clean']:.3f}, "
                  f"survival under jitter {baseline['survival']:.2f}")


# --------------------------------------------------------------------------- exercise 3: one ascent step (debug)


def reference_ascent_step(pixels, model, objective, generator, lr=0.05, tv_weight=0.0, robust=True):
    """One normalised gradient-ascent step on ``pixels`` (the image is their sigmoid), in place; returns the objective.

    The objective is read on a randomly transformed copy (``robust``); ``tv_weight`` x total variation is subtracted.
    """
    from helpers import featurevis as fv

    images = torch.sigmoid(pixels)
    seen = fv.random_transform(images, generator) if robust else images
    value = fv.scores(model, objective, seen).sum()
    gain = value - tv_weight * fv.total_variation(images)
    (gradient,) = torch.autograd.grad(gain, pixels)
    with torch.no_grad():
        pixels += lr * gradient / (gradient.abs().mean() + 1e-12)
    return float(value.detach())


def ascent_run(step, model, objective, *, size: int, steps: int, tv_weight: float, seed: int = 0, **options):
    """Run ``step`` ``steps`` times from a nearly grey image: (objective per step, final image)."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    pixels = _start_pixels(size, seed).to(device).requires_grad_(True)
    history = []
    for _ in range(steps):
        value = step(pixels, model, objective, generator, tv_weight=tv_weight, **options)
        history.append(value)
    return history, torch.sigmoid(pixels.detach()).cpu()


@cached
def reference_ascent_image(model, objective, size: int, steps: int, tv_weight: float, robust: bool = True):
    """The image after ``steps`` reference steps (cached: the check compares with it on every run)."""
    return ascent_run(reference_ascent_step, model, objective, size=size, steps=steps, tv_weight=tv_weight,
                      robust=robust)[1]


def _start_pixels(size: int, seed: int = 0) -> torch.Tensor:
    return 0.01 * torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def check_ascent_step(student_fn, model, objective, *, exercise: int, size: int = 64, steps: int = 8,
                      tv_weight: float = 2000.0) -> None:
    """``student_fn(pixels, model, objective, generator, lr=0.05, tv_weight=0.0)``: one step of activation
    maximisation on a randomly transformed copy, with a total-variation penalty, updating ``pixels`` in place."""
    from helpers import featurevis as fv

    def run(tv):
        return resolve(lambda: ascent_run(student_fn, model, objective, size=size, steps=steps, tv_weight=tv),
                       exercise, "ascent_step(...)")

    history, plain = run(0.0)  # the same start, seed and transforms as the reference runs below
    if not all(isinstance(v, (int, float)) and np.isfinite(v) for v in history):
        fail(exercise, f"return the objective as a Python number (float(value)), got {history[0]!r}.")
    device = next(model.parameters()).device
    with torch.no_grad():
        before, after = (float(fv.scores(model, objective, image.to(device)).sum())
                         for image in (torch.sigmoid(_start_pixels(size)), plain))
    if not after > before:
        fail(exercise, f"over {steps} steps without penalty the objective of the image went from {before:.3g} to "
                       f"{after:.3g}: it should rise. The image is moving downhill.")
    _, penalised = run(tv_weight)
    tv_plain, tv_penalised = float(fv.total_variation(plain)), float(fv.total_variation(penalised))
    if not tv_penalised < tv_plain:
        fail(exercise, f"with the total-variation penalty (weight {tv_weight:g}) the image ends with a total "
                       f"variation of {tv_penalised:.4f}, more than without it ({tv_plain:.4f}): the penalty makes "
                       f"the image noisier instead of smoother.")

    def reference(tv, robust=True):
        return reference_ascent_image(model, objective, size, steps, tv, robust)

    distance = max(float((plain - reference(0.0)).abs().max()), float((penalised - reference(tv_weight)).abs().max()))
    if distance < 1e-4:
        passed(exercise, f"in {steps} steps the objective rose from {before:.3g} to {after:.3g}; the penalty "
                         f"lowered the total variation from {tv_plain:.4f} to {tv_penalised:.4f}, as the reference step "
                         f"does.")
        return
    if float((plain - reference(0.0, robust=False)).abs().max()) < 1e-4:
        fail(exercise, "your images are those of an optimisation in which the model always saw the image exactly "
                       "as it is: the random transform never reaches the objective.")
    fail(exercise, f"your image differs from the reference's after {steps} steps by up to {distance:.3g}: the image "
                   f"is the sigmoid of the pixels, and the step is lr x gradient / mean |gradient|.")
