"""The checks of notebook 02's exercises: a hand-written IG to debug, a prediction, Expected Gradients."""

from __future__ import annotations

import numpy as np
import torch

from helpers.attribution import integrated_gradients, vanilla_gradient

from helpers.validate import prepare_inputs
from helpers.checks.common import fail, passed, resolve, as_array, _diagnose, fresh

GRAY = 0.5


def half_moved_baseline(x: torch.Tensor) -> torch.Tensor:
    """A baseline equal to the image on its left half and gray on its right half.

    Pixels of the left half do not move along the path, so a right IG gives them exactly zero.
    """
    baseline = torch.full_like(x, GRAY)
    half = x.shape[-1] // 2
    baseline[..., :half] = x[..., :half]
    return baseline


def check_ig_by_hand(student_fn, model, x, target, *, n_steps: int = 8, exercise: int) -> None:
    """``student_fn(model, x, target, baseline, n_steps)`` is IG with the left Riemann rule (debug exercise).

    Run with a baseline that equals the image on its left half (``half_moved_baseline``) and
    compared with ``integrated_gradients(..., method="riemann_left")``. A mismatch is reported by
    its symptom: credit on pixels that did not move, a sum that misses F(x) - F(x') by a factor
    or a sign, or the nodes of another rule.
    """
    x_, targets, _ = prepare_inputs(model, x, target, None)
    baseline = half_moved_baseline(x_)
    name = getattr(student_fn, "__name__", "your function")
    answer = resolve(lambda: student_fn(*fresh((model, x_, target, baseline, n_steps))), exercise, f"{name}(...)")
    value = as_array(answer, exercise, "your attributions")
    if value.shape != tuple(x_.shape):
        fail(exercise, f"expected attributions of the image's shape {tuple(x_.shape)}, got {value.shape}.")
    expected = integrated_gradients(model, x_, targets, baseline, n_steps, "riemann_left").double().cpu().numpy()
    scale = float(np.abs(expected).max()) or 1.0

    def same(candidate):
        return np.allclose(value, candidate, rtol=1e-3, atol=1e-4 * scale)

    with torch.no_grad():
        change = (model(x_)[0, targets[0]] - model(baseline)[0, targets[0]]).item()
    total, half = float(value.sum()), x_.shape[-1] // 2
    sums = f"your attributions add up to {total:.4g}; F(x) - F(x') = {change:.4g}, the left Riemann sum {expected.sum():.4g}"
    if same(expected):
        passed(exercise, f"your IG equals the left Riemann sum with n_steps={n_steps}: zero on the half of the "
                         f"image that equals the baseline, and {sums}.")
        return
    unmoved = float(np.abs(value[..., :half]).max())
    if unmoved > 1e-3 * scale:
        fail(exercise, f"the baseline of this check equals the image on the left half, so those pixels never move "
                       f"along the path, yet your attributions there reach {unmoved:.3g} (largest {scale:.3g}). "
                       f"A pixel that did not move cannot have changed the output; {sums}.")
    if same(-expected):
        fail(exercise, f"every attribution has the wrong sign: {sums}.")
    if same(n_steps * expected):
        fail(exercise, f"your attributions are {n_steps} times too large ({sums}): with n_steps points the "
                       f"integral is an average of the gradients, not their total.")
    grads = [vanilla_gradient(model, baseline + alpha * (x_ - baseline), targets) for alpha in (0.0, 1.0)]
    right = expected + ((x_ - baseline) * (grads[1] - grads[0]) / n_steps).double().cpu().numpy()
    if same(right):
        fail(exercise, f"your attributions use the gradient at the image (alpha = 1) and skip the one at the "
                       f"baseline (alpha = 0): that is another rule than the one asked ({sums}).")
    worst = float(np.max(np.abs(value - expected)))
    fail(exercise, f"your attributions differ from the left Riemann sum by up to {worst:.3g} (largest value "
                   f"{scale:.3g}); {sums}. {_diagnose(value, expected)}".strip())


GRADIENT_INPUT_CHOICES = ("under a third", "a third to three times", "over three times")


def gradient_times_input_share(model, x, target) -> float:
    """Sum of gradient x (x - black) at the image, as a share of F(x) - F(black): IG with one point at alpha = 1."""
    x_, targets, baseline = prepare_inputs(model, x, target, None)
    gradient = vanilla_gradient(model, x_, targets)
    with torch.no_grad():
        change = (model(x_)[0, targets[0]] - model(baseline)[0, targets[0]]).item()
    return float((gradient * (x_ - baseline)).sum()) / change


def check_gradient_times_input_prediction(prediction, model, x, target, *, exercise: int) -> None:
    """``prediction``: how much of F(x) - F(black) the gradient x input map adds up to, one of ``GRADIENT_INPUT_CHOICES``.

    Runs the experiment and explains the outcome; a wrong prediction fails with the measured share.
    """
    prediction = resolve(prediction, exercise, "prediction")
    if not isinstance(prediction, str) or prediction.strip().lower() not in GRADIENT_INPUT_CHOICES:
        fail(exercise, f"prediction must be one of {', '.join(map(repr, GRADIENT_INPUT_CHOICES))}, got {prediction!r}.")
    share = gradient_times_input_share(model, x, target)
    outcome = GRADIENT_INPUT_CHOICES[0 if abs(share) < 1 / 3 else 1 if abs(share) <= 3 else 2]
    why = {GRADIENT_INPUT_CHOICES[0]: "Gradient x input is IG with a single point, at alpha = 1; on a saturated "
                                      "prediction the gradient there is small (section 3), so it misses the "
                                      "evidence collected where P rose, early on the path.",
           GRADIENT_INPUT_CHOICES[1]: "Gradient x input is IG with a single point, at alpha = 1; here the gradient "
                                      "at the image is still large enough to account for much of the rise, so "
                                      "the prediction is not saturated in the sense of section 3.",
           GRADIENT_INPUT_CHOICES[2]: "Gradient x input is IG with a single point, at alpha = 1; a steep gradient "
                                      "at the image, extrapolated over the whole path, overshoots the rise."}[outcome]
    measured = f"the gradient x input map adds up to {share:.1%} of F(x) - F(black) ({outcome})"
    if prediction.strip().lower() != outcome:
        fail(exercise, f"you predicted {prediction!r}, but {measured}. {why}")
    passed(exercise, f"you predicted {prediction!r}, and {measured}. {why}")


def _per_reference_gradients(model, x, targets, references, n_steps):
    """For each reference b_j: the midpoint-rule average of dF/dx along b_j -> x (a tensor (m, C, H, W))."""
    alphas = (torch.arange(n_steps, dtype=x.dtype, device=x.device) + 0.5) / n_steps
    averages = []
    for reference in references:
        reference = reference.unsqueeze(0)
        path = reference + alphas.view(-1, 1, 1, 1) * (x - reference)
        averages.append(vanilla_gradient(model, path, targets.repeat(n_steps)).mean(dim=0))
    return torch.stack(averages)


def check_expected_gradients(student_fn, model, x, target, *, references, n_steps: int = 8, exercise: int) -> None:
    """``student_fn(model, x, target, references, n_steps)`` is Expected Gradients over ``references``.

    EG_i = mean_j (x_i - b_ij) * integral_0^1 dF(b_j + a (x - b_j))/dx_i da, each integral by the
    midpoint rule with ``n_steps`` points; by completeness it adds up to F(x) - mean_j F(b_j). On a
    mismatch the hint names the symptom: the sum of IG from the averaged reference, a factor outside
    the average, a total instead of a mean, one reference only.
    """
    x_, targets, _ = prepare_inputs(model, x, target, None)
    references = torch.as_tensor(references).to(x_.device, x_.dtype)
    if references.dim() != 4 or references.shape[1:] != x_.shape[1:]:
        raise ValueError(f"references must be a batch (m, C, H, W) of the image's size, got {tuple(references.shape)}.")
    name = getattr(student_fn, "__name__", "your function")
    answer = resolve(lambda: student_fn(*fresh((model, x_, target, references, n_steps))), exercise, f"{name}(...)")
    value = as_array(answer, exercise, "your attributions")
    if value.shape != tuple(x_.shape):
        fail(exercise, f"expected attributions of the image's shape {tuple(x_.shape)}, got {value.shape}.")
    averages = _per_reference_gradients(model, x_, targets, references, n_steps)
    steps = x_ - references  # (m, C, H, W)
    expected = (steps * averages).mean(dim=0, keepdim=True).double().cpu().numpy()
    scale = float(np.abs(expected).max()) or 1.0

    def same(candidate):
        return np.allclose(value, np.asarray(candidate), rtol=1e-3, atol=1e-4 * scale)

    with torch.no_grad():
        at_x = model(x_)[0, targets[0]].item()
        at_references = model(references)[:, targets[0]].double().cpu().numpy()
        at_mean = model(references.mean(dim=0, keepdim=True))[0, targets[0]].item()
    target_change = at_x - float(at_references.mean())
    total = float(value.sum())
    gap = abs(expected.sum() - target_change) / abs(target_change)
    sums = (f"your attributions add up to {total:.4g}; F(x) - mean_j F(b_j) = {target_change:.4g} "
            f"(F(x) - F(mean of the references) = {at_x - at_mean:.4g})")
    if same(expected):
        passed(exercise, f"your Expected Gradients over {len(references)} references equal the reference "
                         f"implementation; {sums}; with {n_steps} points per path the sum is {gap:.1%} off the integral, "
                         f"more points bring it closer.")
        return
    m = len(references)
    if same(m * expected):
        fail(exercise, f"your attributions are {m} times too large ({sums}): the expectation over the "
                     f"references is an average, not a total.")
    if same((steps[:1] * averages[:1]).double().cpu().numpy()):
        fail(exercise, f"your attributions depend on the first reference only ({sums}).")
    outside = ((x_ - references.mean(dim=0, keepdim=True)) * averages.mean(dim=0, keepdim=True)).double().cpu()
    if same(outside.numpy()):
        fail(exercise, f"your attributions do not add up to F(x) - mean_j F(b_j) ({sums}). Each reference's "
                       f"gradients must be weighted by how far the pixels moved from THAT reference.")
    mean_reference = references.mean(dim=0, keepdim=True)
    one_path = integrated_gradients(model, x_, targets, mean_reference, n_steps, "riemann_middle")
    if same(one_path.double().cpu().numpy()):
        fail(exercise, f"your attributions are those of ONE path, from the average of the references, and they "
                       f"add up to F(x) - F(mean of the references), not to F(x) - mean_j F(b_j) ({sums}). "
                       f"The model is not linear: averaging the references first is not averaging over them.")
    worst = float(np.max(np.abs(value - expected)))
    fail(exercise, f"your attributions differ from Expected Gradients (midpoint rule, {n_steps} points per "
                   f"reference) by up to {worst:.3g} (largest value {scale:.3g}); {sums}. "
                   f"{_diagnose(value, expected)}".strip())
