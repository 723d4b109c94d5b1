"""The checks of notebook 07's exercises (sanity checks: deletion curves, randomization, MoRF vs LeRF)."""

from __future__ import annotations

import math

import numpy as np

from helpers.checks.common import as_array, fail, fresh, passed, resolve
from helpers.evaluation import curve_auc, deletion_curve, passes_randomization, randomization_sanity_check


def check_randomization_prediction(prediction, model, x, target, attribute, *, exercise: int, name: str,
                                   n_groups: int = 8, seed: int = 0, threshold: float = 0.5) -> None:
    """``prediction`` (True/False): will ``attribute`` pass the cascading randomization check (final
    Spearman correlation below ``threshold``)? Runs the cascade, prints it, and explains either way."""
    value = resolve(prediction, exercise, "prediction")
    if not isinstance(value, bool):
        fail(exercise, f"write your prediction as True (it passes) or False (it fails), got {value!r} "
                       f"({type(value).__name__}).")
    results = randomization_sanity_check(model, x, target, attribute, n_groups=n_groups, seed=seed)
    outcome = passes_randomization(results, threshold)
    path = " -> ".join(f"{rho:.2f}" for _, rho in results)
    facts = (f"{name}: Spearman correlation with the original |map| as the layers are randomised "
             f"{path}; final {results[-1][1]:.2f}, {'under' if outcome else 'not under'} the bar {threshold}")
    why = ("the factor x is fixed, but it multiplies a gradient that the random weights scramble: the product's "
           "ranking follows the gradient far more than the image's brightness" if outcome else
           "the factor x dominates the ranking: bright pixels stay on top whatever the weights")
    if value != outcome:
        fail(exercise, f"your prediction was {value}, the experiment says {outcome}. {facts}: {why}. Compare "
                       f"with IG's residual correlation in section 4.")
    passed(exercise, f"prediction {value} is right. {facts}: {why}.")


def _curve(answer, steps: int, exercise: int):
    """The student's (fractions, probabilities) as two float arrays of length steps + 1, or a failure."""
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        fail(exercise, f"return two arrays, (fractions, probabilities), got {type(answer).__name__}.")
    fractions, probabilities = (as_array(part, exercise, name) for part, name in
                                zip(answer, ("fractions", "probabilities")))
    for array, name in ((fractions, "fractions"), (probabilities, "probabilities")):
        if array.shape != (steps + 1,):
            fail(exercise, f"{name} should hold steps + 1 = {steps + 1} numbers (0 to all pixels removed), "
                           f"got shape {array.shape}.")
    return fractions, probabilities


def check_deletion_curve(student_fn, model, x, target, attribution, *, steps: int, exercise: int,
                         random_attribution=None, atol: float = 1e-4) -> None:
    """``student_fn(model, x, target, attribution, steps)`` -> (fractions, probabilities): deletion to black,
    most important pixel first, the softmax probability of ``target``; compared with ``deletion_curve``."""
    answer = resolve(lambda: student_fn(*fresh((model, x, target, attribution)), steps), exercise,
                     "the deletion curve")
    fractions, probabilities = _curve(answer, steps, exercise)
    expected_fractions, expected = deletion_curve(model, x, target, attribution, steps=steps)
    if not np.allclose(fractions, expected_fractions, atol=1e-6):
        fail(exercise, f"the fractions of pixels removed should run from 0 to 1 in {steps} equal steps; got "
                       f"{np.round(fractions[:3], 4).tolist()} ... {fractions[-1]:.4g}.")
    if not math.isclose(probabilities[0], expected[0], abs_tol=atol):
        fail(exercise, f"the curve starts at {probabilities[0]:.4g}, but with nothing removed it should be the "
                       f"model's probability of class {target} for the intact image, {expected[0]:.4g}: the "
                       f"softmax of the logits, read at the target class.")
    if np.allclose(probabilities, expected, atol=atol):
        passed(exercise, f"the curve matches helpers.evaluation.deletion_curve at all {steps + 1} points "
                         f"(AUC {curve_auc(fractions, probabilities):.3f}).")
        return
    auc, expected_auc = curve_auc(fractions, probabilities), curve_auc(expected_fractions, expected)
    random_auc = (curve_auc(*deletion_curve(model, x, target, random_attribution, steps=steps))
                  if random_attribution is not None else None)
    against_random = f", a random ranking {random_auc:.3f}" if random_auc is not None else ""
    reversed_curve = deletion_curve(model, x, target, -attribution, steps=steps)[1]
    if np.allclose(probabilities, reversed_curve, atol=atol):
        fail(exercise, f"your curve's AUC is {auc:.3f}, while this map should give {expected_auc:.3f}"
                       f"{against_random}: the probability falls slowest where it should fall fastest, as if "
                       f"the pixels the map rates lowest were removed first.")
    where = int(np.argmax(np.abs(probabilities - expected)))
    fail(exercise, f"at {fractions[where]:.0%} of the pixels removed your curve gives {probabilities[where]:.4g}, "
                   f"expected {expected[where]:.4g} (AUC {auc:.3f} vs {expected_auc:.3f}). Are the removed pixels "
                   f"set to black (0) in every channel, and the others left as they were?")


def reference_abpc(model, x, target, attribution, steps: int) -> float:
    """Area between the LeRF and MoRF deletion curves (black reference): AUC(LeRF) - AUC(MoRF)."""
    morf = curve_auc(*deletion_curve(model, x, target, attribution, steps=steps))
    lerf = curve_auc(*deletion_curve(model, x, target, -attribution, steps=steps))
    return lerf - morf


def check_abpc(student_fn, model, x, target, attribution, *, steps: int, exercise: int,
               random_attribution=None, rtol: float = 1e-3, atol: float = 1e-4) -> None:
    """``student_fn(model, x, target, attribution, steps)`` -> AUC(LeRF) - AUC(MoRF), a float: positive for a
    map whose top pixels matter, near 0 for a random one, and antisymmetric (the map negated swaps the curves)."""
    def value(map_, what):
        result = resolve(lambda: student_fn(*fresh((model, x, target, map_)), steps), exercise, "abpc")
        result = as_array(result, exercise, f"abpc({what})")
        if result.size != 1 or not np.isfinite(result).all():
            fail(exercise, f"abpc({what}) should be one finite number, got {result!r}.")
        return float(result.reshape(-1)[0])

    got = value(attribution, "the map")
    morf = curve_auc(*deletion_curve(model, x, target, attribution, steps=steps))
    lerf_fractions, lerf = deletion_curve(model, x, target, -attribution, steps=steps)
    expected = curve_auc(lerf_fractions, lerf) - morf
    if math.isclose(got, expected, rel_tol=rtol, abs_tol=atol):
        flipped = value(-attribution, "the map negated")
        if not math.isclose(flipped, -expected, rel_tol=rtol, abs_tol=atol):
            fail(exercise, f"abpc of the map is right ({got:.3f}), but of the negated map it gives {flipped:.3f} "
                           f"instead of {-expected:.3f}: negating a map swaps its MoRF and LeRF orders. Does "
                           f"your function rank by |map| somewhere?")
        line = f"AUC(LeRF) - AUC(MoRF) = {got:.3f} for the map, {flipped:.3f} for it negated"
        if random_attribution is not None:
            line += f", {value(random_attribution, 'a random map'):.3f} for a random ranking"
        passed(exercise, line + ".")
        return
    if math.isclose(got, -expected, rel_tol=rtol, abs_tol=atol):
        fail(exercise, f"you get {got:.3f}, a map whose top pixels matter should score above 0 here ({expected:.3f}): "
                     f"the least-relevant-first curve stays high, so its area is the larger one.")
    if abs(got) <= atol and abs(expected) > 10 * atol:
        fail(exercise, f"you get {got:.4f}, as if both curves had the same area; this map gives {expected:.3f}. "
                       f"Reading the MoRF curve backwards keeps its area: LeRF is a new deletion, from the intact "
                       f"image, that removes the least relevant pixels first.")
    if math.isclose(got, -morf, rel_tol=rtol, abs_tol=atol) or math.isclose(got, morf, rel_tol=rtol, abs_tol=atol):
        fail(exercise, f"you get {got:.3f}: that is the MoRF AUC alone; the LeRF curve is missing.")
    fail(exercise, f"you get {got:.3f}, expected {expected:.3f} for this map (MoRF AUC {morf:.3f}). LeRF: the same "
                   f"deletion to black, pixels ranked from least to most important.")


__all__ = ["check_randomization_prediction", "check_deletion_curve", "reference_abpc", "check_abpc"]
