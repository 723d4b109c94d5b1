"""The checks of notebook 05's exercises (expected gradients, shallow and deep layers)."""

from __future__ import annotations

import math

import torch

from helpers.checks.common import fail, fresh, passed, resolve

LAYER_KINDS = ("shallow", "deep")


def check_seed_agreement_prediction(prediction, agreement, layers: dict, nsamples: int, *, exercise: int) -> None:
    """``prediction`` ('shallow' or 'deep'): at which layer two seeds' maps agree more (Spearman).

    ``agreement(layer_name)`` runs the experiment (two seeds, ``nsamples`` samples each) and
    returns the Spearman correlation of the two maps; ``layers`` maps 'shallow'/'deep' to names.
    """
    value = resolve(prediction, exercise, "prediction")
    if value not in LAYER_KINDS:
        fail(exercise, f"write your prediction as 'shallow' or 'deep', got {value!r}.")
    rho = {kind: float(agreement(layers[kind])) for kind in LAYER_KINDS}
    measured = max(rho, key=rho.get)
    facts = (f"two seeds' maps ({nsamples} samples each) agree with Spearman ρ = {rho['shallow']:.2f} at the "
             f"shallow layer ({layers['shallow']}) and ρ = {rho['deep']:.2f} at the deep one ({layers['deep']})")
    why = {
        "deep": "behind a deep layer only a few operations separate the activations from the logit, so the "
                "class score is close to linear in them: the gradient changes little along the path from h(x') to "
                "h(x), every sample is close to the exact integral, and which baseline and point were drawn "
                "matters little. Behind a shallow layer lies most of the network; its gradient swings from one "
                "point of the path to the next, so each sample is noisy and more samples are needed.",
        "shallow": "here the deep layer's samples varied more than the shallow one's: the class score must still "
                   "bend strongly between the deep layer and the output for this image; compare the per-sample "
                   "spread at both layers.",
    }[measured]
    if value != measured:
        fail(exercise, f"your prediction was {value!r}, the experiment says {measured!r}: {facts}. Why: {why}")
    passed(exercise, f"prediction {value!r} is right: {facts}. Why: {why}")


def reference_expected_gradients(model, x, background, target, picks, alphas):
    """Per-sample expected gradients at the pixels: (x - x') * dF_target/dx at x' + alpha (x - x')."""
    baselines = background[picks]
    points = (baselines + alphas.view(-1, 1, 1, 1) * (x - baselines)).detach().requires_grad_(True)
    (gradients,) = torch.autograd.grad(model(points)[:, target].sum(), points)
    return (x - baselines) * gradients


def check_pixel_expected_gradients(student_fn, model, x, background, target, *, exercise: int, n: int = 16,
                             seed: int = 0) -> None:
    """``student_fn(model, x, background, target, picks, alphas)`` returns the per-sample expected-gradients
    attributions (n, C, H, W) of one image ``x`` (1, C, H, W) for the draws ``picks`` (baseline indices)
    and ``alphas`` (points on the path); compared draw for draw with the reference, and by additivity."""
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(background), (n,), generator=generator).to(x.device)
    alphas = torch.rand(n, generator=generator).to(x.device)
    value = resolve(lambda: student_fn(*fresh((model, x, background, target, picks, alphas))), exercise,
                    f"{getattr(student_fn, '__name__', 'it')}(...)")
    if not isinstance(value, torch.Tensor):
        fail(exercise, f"return a tensor of per-sample attributions, got {type(value).__name__}.")
    expected = reference_expected_gradients(model, x, background, target, picks, alphas).detach().double()
    got = value.detach().double().to(expected.device)
    if got.shape != expected.shape:
        fail(exercise, f"expected one attribution per sample, shape {tuple(expected.shape)}, got {tuple(got.shape)}.")
    with torch.no_grad():
        goal = float(model(x)[0, target] - model(background)[:, target].mean())
    sums, reference_sums = got.flatten(1).sum(1), expected.flatten(1).sum(1)
    error = float(reference_sums.std()) / math.sqrt(n)
    mean = float(sums.mean())
    gap = abs(mean - goal) / error if error > 0 else math.inf
    facts = (f"the {n} samples' sums average {mean:.3f} ± {error:.3f} (1 s.e.) against F(x) - mean F(x') = "
             f"{goal:.3f}")
    scale = float(expected.abs().max()) or 1.0
    if torch.allclose(got, expected, rtol=1e-4, atol=1e-5 * scale):
        passed(exercise, f"your attributions match the reference draw for draw; {facts} ({gap:.1f} s.e.): they add up.")
        return
    if gap > 4:
        fail(exercise, f"the attributions do not add up: {facts}, {gap:.0f} standard errors away. Expected gradients "
                       f"share out the difference between F(x) and the background's average output: at which "
                       f"points does your code take the gradient, and what does it multiply the gradient by?")
    fail(exercise, f"{facts}: the average adds up, but your attributions differ from the reference draw for draw "
                   f"(by up to {float((got - expected).abs().max()):.3g}): sample s takes the baseline "
                   f"background[picks[s]] and the point at alphas[s] on its path to x.")
