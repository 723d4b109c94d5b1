"""The checks of notebook 10's exercises (feature visualization)."""

from __future__ import annotations

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
