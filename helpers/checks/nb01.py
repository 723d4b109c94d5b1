"""The checks of notebook 01's exercises (a small CNN explained with Captum)."""

from __future__ import annotations

import numpy as np
import torch

from helpers.checks.common import as_array, fail, fresh, passed, relative_gaps, resolve
from helpers.validate import prepare_inputs

COMPLETENESS_CHOICES = ("IG", "DeepLift", "equal")


def _scores(model, x, targets):
    """F_target(x) per image, float64 on the CPU."""
    with torch.no_grad():
        return model(x)[torch.arange(len(x), device=x.device), targets].double().cpu()


def _sums(attributions, exercise, x, name="your attributions"):
    """Each map's sum (float64), after checking it has the images' shape."""
    value = as_array(attributions, exercise, name)
    if value.shape != tuple(x.shape):
        fail(exercise, f"expected attributions of the images' shape {tuple(x.shape)}, got {value.shape}.")
    return value.reshape(len(value), -1).sum(axis=1)


def measure_completeness_gaps(model, images, targets, *, n_steps: int) -> dict:
    """Relative completeness gap per image, black baseline: Captum's IG (``n_steps`` Gauss-Legendre points), DeepLift."""
    from captum.attr import DeepLift, IntegratedGradients

    x, targets, black = prepare_inputs(model, images, targets, None)
    change = (_scores(model, x, targets) - _scores(model, black, targets)).abs().clamp_min(1e-12).numpy()
    _, ig_delta = IntegratedGradients(model).attribute(x, baselines=black, target=targets, n_steps=n_steps,
                                                       method="gausslegendre", return_convergence_delta=True)
    _, deeplift_delta = DeepLift(model).attribute(x, baselines=black, target=targets, return_convergence_delta=True)
    return {"IG": ig_delta.detach().abs().double().cpu().numpy() / change,
            "DeepLift": deeplift_delta.detach().abs().double().cpu().numpy() / change}


def check_completeness_prediction(prediction, model, images, targets, *, n_steps: int, exercise: int) -> None:
    """``prediction``: which of IG (``n_steps`` points) and DeepLift adds up more exactly to F(x) - F(black).

    Runs both and explains the outcome whatever was predicted; a wrong prediction fails with the
    measured gaps and the reason.
    """
    prediction = resolve(prediction, exercise, "prediction")
    choices = {choice.lower(): choice for choice in COMPLETENESS_CHOICES}
    if not isinstance(prediction, str) or prediction.strip().lower() not in choices:
        fail(exercise, f"prediction must be one of {', '.join(map(repr, COMPLETENESS_CHOICES))}, got {prediction!r}.")
    prediction = choices[prediction.strip().lower()]
    gaps = measure_completeness_gaps(model, images, targets, n_steps=n_steps)
    ig, deeplift = float(gaps["IG"].max()), float(gaps["DeepLift"].max())
    outcome = "DeepLift" if deeplift < ig / 10 else "IG" if ig < deeplift / 10 else "equal"
    numbers = (f"largest relative gap over {len(gaps['IG'])} images: IG with {n_steps} points {ig:.2e}, "
               f"DeepLift {deeplift:.2e}")
    why = ("DeepLift's rules share each layer's change in output among its inputs so that the shares add up "
           "exactly, layer after layer: its sum equals F(x) - F(x') by construction, up to float rounding. IG's "
           "sum is a quadrature of an integral whose integrand jumps wherever a ReLU switches along the path: "
           "exact only in the limit of infinitely many points. An exact sum is not a better map: it says the "
           "bookkeeping is right, not that the pixels are the right ones."
           if outcome == "DeepLift" else
           "Here the two sums are about equally exact (or IG wins): look at the model's layers; DeepLift's "
           "summation-to-delta holds exactly only when every nonlinearity is a module its rules know.")
    if prediction != outcome:
        fail(exercise, f"you predicted {prediction!r}, the experiment says {outcome!r} ({numbers}). {why}")
    passed(exercise, f"you predicted {prediction!r}, and so it is ({numbers}). {why}")


def check_ig_debugged(student_fn, model, images, labels, predictions, *, exercise: int, n_steps: int = 64,
                      tolerance: float = 0.02) -> None:
    """``student_fn(model, images, targets, baseline, n_steps)`` is IG of the score of ``targets``.

    Explains every image's TRUE class (``labels``) from a black baseline and checks completeness
    within ``tolerance``; among the images some were misclassified, so code that differentiates
    the class on top instead of the target cannot pass.
    """
    labels, predictions = torch.as_tensor(labels).flatten(), torch.as_tensor(predictions).flatten()
    x, targets, black = prepare_inputs(model, images, labels, None)
    answer = resolve(lambda: student_fn(*fresh((model, x, targets, black)), n_steps), exercise,
                     f"{getattr(student_fn, '__name__', 'your function')}(...)")
    total = _sums(answer, exercise, x)
    change = (_scores(model, x, targets) - _scores(model, black, targets)).numpy()
    relative = relative_gaps(total, change)
    wrong = (labels != predictions).numpy()
    if np.all(relative <= tolerance):
        passed(exercise, f"your IG adds up to F(x) - F(black) of the true class within {relative.max():.2%} "
                         f"(allowed {tolerance:.0%}) on {len(x)} images, {int(wrong.sum())} of them misclassified.")
        return
    worst = int(np.argmax(relative))
    message = (f"the maps should add up to F(x) - F(x') of their target class; image {worst} "
               f"({'misclassified' if wrong[worst] else 'classified correctly'}) sums to {total[worst]:.4g} "
               f"instead of {change[worst]:.4g} (gap {relative[worst]:.1%}, allowed {tolerance:.0%}).")
    with torch.no_grad():
        n_classes = int(model(x[:1]).shape[-1])
    other = (targets + 1) % n_classes  # the same images, another class: the maps must change
    again = resolve(lambda: student_fn(*fresh((model, x, other, black)), n_steps), exercise,
                    f"{getattr(student_fn, '__name__', 'your function')}(...)")
    if np.allclose(as_array(again, exercise), as_array(answer, exercise)):
        message += (" Asked for another target class, the code returns the very same maps: the target never "
                    "reaches the score it differentiates (whose score is it, at each point of the path?).")
    elif np.allclose(total, -change, rtol=tolerance):
        message += " Every sum has the opposite sign: which way does the path, or the factor, point?"
    elif np.all(relative > tolerance):
        message += (" Every image misses, the correctly classified ones too: compare each step with the formula "
                    "in section 5 (the path, the factor (x - x'), the average over the points).")
    fail(exercise, message)


def check_why_not(student_fn, model, images, predicted, true, *, exercise: int, tolerance: float = 0.01) -> None:
    """``student_fn(model, images, predicted, true, baseline)`` is IG of the margin F_predicted - F_true.

    Checked by completeness of the margin, from a black baseline, within ``tolerance``.
    """
    predicted, true = torch.as_tensor(predicted).flatten(), torch.as_tensor(true).flatten()
    if len(predicted) != len(true) or bool((predicted == true).any()):
        raise ValueError("check_why_not needs misclassified images: predicted and true must differ for every image.")
    x, predicted, black = prepare_inputs(model, images, predicted, None)
    true = true.to(x.device)
    answer = resolve(lambda: student_fn(*fresh((model, x, predicted, true, black))), exercise,
                     f"{getattr(student_fn, '__name__', 'your function')}(...)")
    total = _sums(answer, exercise, x)
    change_predicted = (_scores(model, x, predicted) - _scores(model, black, predicted)).numpy()
    change_true = (_scores(model, x, true) - _scores(model, black, true)).numpy()
    margin = change_predicted - change_true
    relative = relative_gaps(total, margin)
    if np.all(relative <= tolerance):
        changes = ", ".join(f"{value:.3g}" for value in margin)
        passed(exercise, f"your maps add up to the change of the margin F_predicted - F_true ({changes}) within "
                         f"{relative.max():.2%} (allowed {tolerance:.0%}) on {len(x)} misclassified images.")
        return
    worst = int(np.argmax(relative))
    message = (f"the maps should add up to the change of the margin, [F_pred(x) - F_true(x)] - [F_pred(x') - "
               f"F_true(x')] = {margin[worst]:.4g} for image {worst}, but they sum to {total[worst]:.4g} "
               f"(gap {relative[worst]:.1%}, allowed {tolerance:.0%}).")

    def near(values):
        return bool(np.all(relative_gaps(total, values) <= 0.05))

    if near(-margin):
        message += " They add up to minus the margin: that explains why the true class and not the predicted one."
    elif near(change_predicted):
        message += " They add up to the predicted class's change alone: the true class's score is not in what you explain."
    elif near(-change_true) or near(change_true):
        message += " They add up to the true class's change alone: the predicted class's score is missing."
    elif np.all(relative <= 10 * tolerance):
        message += " Close, but not within the course's bar: the integral is not converged; use more points."
    fail(exercise, message)
