"""Automatic checks for the exercises: the course's own ideas used as tests.

Every check takes the exercise number as ``exercise=N``. On a correct answer it prints one
line, ``Exercise N passed: <what was verified>``. On a wrong one it raises an
``AssertionError`` whose message starts with ``Exercise N`` and gives a hint: what was
expected, what was measured, where to look; never the answer itself.

``answer`` arguments accept the student's result or a function without arguments that
computes it (``lambda: my_function(model, x)``): an exercise that still raises
``NotImplementedError`` is then reported as "not done yet".
"""

from __future__ import annotations

import math

import numpy as np
import torch

from helpers.attribution import prepare_inputs, smoothgrad, vanilla_gradient


class ExerciseFailed(AssertionError):
    """A check failed; the message is the hint."""


def fail(exercise: int, message: str):
    """Raise the hint of exercise ``exercise``."""
    raise ExerciseFailed(f"Exercise {exercise}: {message}")


def passed(exercise: int, what: str) -> None:
    """Print the one line of a passing check."""
    print(f"Exercise {exercise} passed: {what}")


def resolve(answer, exercise: int, name: str = "your answer"):
    """The value of ``answer`` (calling it if it is a function); a clear failure if not done yet."""
    try:
        value = answer() if callable(answer) else answer
    except NotImplementedError as error:
        message = str(error).split(": ", 1)[-1] if str(error).startswith("Exercise") else str(error)
        raise ExerciseFailed(f"Exercise {exercise} is not done yet: {message}") from None
    if value is None:
        raise ExerciseFailed(f"Exercise {exercise} is not done yet: {name} is still None.")
    return value


def as_array(value, exercise: int, name: str = "your answer") -> np.ndarray:
    """A tensor, array or number as a float64 numpy array, or a failure naming the type."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(exercise, f"{name} should be a tensor, an array or a number, got {type(value).__name__}.")
    return array


# --------------------------------------------------------------------------- generic checks


def check_close(answer, expected, *, exercise: int, what: str, rtol: float = 1e-4, atol: float = 1e-8,
                hint: str = "") -> None:
    """``answer`` equals ``expected`` within ``rtol``/``atol`` (same shape); ``what`` names the quantity."""
    assert_close(answer, expected, exercise=exercise, what=what, rtol=rtol, atol=atol, hint=hint)
    passed(exercise, f"{what} is right (within {rtol:g} relative).")


def assert_close(answer, expected, *, exercise: int, what: str, rtol: float = 1e-4, atol: float = 1e-8,
                 hint: str = "") -> None:
    """``check_close`` without the printed line: for checks built from several comparisons."""
    value = as_array(resolve(answer, exercise), exercise)
    target = as_array(expected, exercise)
    if value.shape != target.shape:
        fail(exercise, f"{what}: expected shape {target.shape}, got {value.shape}. {hint}".strip())
    if not np.allclose(value, target, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(value - target)))
        fail(exercise, f"{what} is off by up to {worst:.3g} (allowed: {rtol:g} relative). {_diagnose(value, target)} "
                       f"{hint}".strip())


def check_function_matches(student_fn, reference_fn, *args, exercise: int, what: str, rtol: float = 1e-4,
                           hint: str = "", **kwargs) -> None:
    """``student_fn(*args, **kwargs)`` returns what ``reference_fn`` returns for the same arguments."""
    value = resolve(lambda: student_fn(*args, **kwargs), exercise, f"{getattr(student_fn, '__name__', 'it')}(...)")
    expected = reference_fn(*args, **kwargs)
    scale = float(np.max(np.abs(as_array(expected, exercise)))) or 1.0
    check_close(value, expected, exercise=exercise, what=what, rtol=rtol, atol=rtol * scale, hint=hint)


def check_shape_device(answer, shape, *, exercise: int, device=None, dtype=None, what: str = "the result") -> None:
    """A tensor of the given ``shape`` (and ``device``/``dtype`` when given): the contract of a function."""
    value = resolve(answer, exercise)
    if not isinstance(value, torch.Tensor):
        fail(exercise, f"{what} should be a torch.Tensor, got {type(value).__name__}.")
    if tuple(value.shape) != tuple(shape):
        fail(exercise, f"{what} should have shape {tuple(shape)}, got {tuple(value.shape)}: check which "
                       f"dimensions you summed or squeezed, and that the batch dimension is kept.")
    if device is not None and value.device.type != torch.device(device).type:
        fail(exercise, f"{what} should be on {torch.device(device).type}, got {value.device.type}: "
                       f"move it with .to(...) before returning.")
    if dtype is not None and value.dtype != dtype:
        fail(exercise, f"{what} should have dtype {dtype}, got {value.dtype}.")
    passed(exercise, f"{what} has shape {tuple(shape)}"
                     + (f" on {torch.device(device).type}" if device is not None else "")
                     + (f", dtype {dtype}" if dtype is not None else "") + ".")


def check_completeness(answer, model, x, target, *, exercise: int, baseline=None, tolerance: float = 0.05) -> None:
    """Attributions add up to F(x) - F(baseline) for every image, within ``tolerance`` of |F(x) - F(x')|.

    ``model`` returns class scores (logits or probabilities: whatever the attributions explain).
    """
    attributions = resolve(answer, exercise, "the attributions")
    if not isinstance(attributions, torch.Tensor) or attributions.shape != x.shape:
        shape = tuple(attributions.shape) if hasattr(attributions, "shape") else type(attributions).__name__
        fail(exercise, f"expected attributions of the image's shape {tuple(x.shape)}, got {shape}.")
    x, targets, baseline = prepare_inputs(model, x, target, baseline)
    rows = torch.arange(len(x), device=x.device)
    with torch.no_grad():
        at_x = model(x)[rows, targets].double().cpu()
        change = at_x - model(baseline)[rows, targets].double().cpu()
        from_black = at_x - model(torch.zeros_like(x))[rows, targets].double().cpu()
    total = attributions.detach().flatten(1).sum(dim=1).double().cpu()
    relative = ((total - change).abs() / change.abs().clamp_min(1e-12)).numpy()
    if np.all(relative <= tolerance):
        passed(exercise, f"completeness holds: the attributions add up to F(x) - F(x') within "
                         f"{relative.max():.2%} (allowed {tolerance:.0%}) for {len(x)} image(s).")
        return
    worst = int(np.argmax(relative))
    message = (f"the attributions should add up to F(x) - F(x') = {change[worst]:.4g} for image {worst}, "
               f"but they sum to {total[worst]:.4g} (gap {relative[worst]:.1%}, allowed {tolerance:.0%}).")
    if torch.allclose(total, -change, rtol=tolerance):
        message += " The sign is flipped: IG multiplies by (x - x'), not (x' - x)."
    elif not torch.equal(baseline, torch.zeros_like(baseline)) and torch.allclose(total, from_black, rtol=tolerance):
        message += " They add up to F(x) - F(black) instead: did you forget to pass the baseline?"
    else:
        message += " Check the path (x' + alpha (x - x')), the factor (x - x'), and try more n_steps."
    fail(exercise, message)


def check_additivity(values, base_values, outputs, *, exercise: int, tolerance: float = 1e-6) -> None:
    """SHAP additivity: base value + the sum of one row's values = the model's output, for every row.

    ``values``: (rows, features...) SHAP values; ``base_values``: one number or one per row;
    ``outputs``: the model's output per row. ``tolerance`` is relative to the outputs' scale.
    """
    values = as_array(resolve(values, exercise, "the SHAP values"), exercise, "the SHAP values")
    outputs = as_array(resolve(outputs, exercise, "the outputs"), exercise, "the outputs").reshape(-1)
    base = np.broadcast_to(as_array(resolve(base_values, exercise, "the base value"), exercise).reshape(-1),
                           outputs.shape) if np.size(base_values) in (1, outputs.size) else None
    if base is None or values.ndim < 2 or values.shape[0] != outputs.size:
        fail(exercise, f"expected one row of SHAP values per output ({outputs.size} rows) and one base value "
                       f"(or one per row); got values of shape {values.shape} and {np.size(base_values)} base value(s).")
    total = values.reshape(len(values), -1).sum(axis=1)
    scale = max(float(np.abs(outputs).max()), 1e-12)
    error = float(np.abs(base + total - outputs).max())
    if error <= tolerance * scale:
        passed(exercise, f"additivity holds: base value + sum of SHAP values = output within {error:.2g} "
                         f"for {outputs.size} rows.")
        return
    message = f"base value + sum of SHAP values misses the outputs by up to {error:.4g}."
    if np.allclose(total, outputs, rtol=1e-6, atol=tolerance * scale):
        message += " Without the base value it would fit: did you add it twice?"
    elif np.allclose(total, outputs - base, rtol=1e-3, atol=1e-3 * scale):
        message += " Close, but not to float precision: sum the values exactly as returned, before rounding."
    else:
        message += " Sum each row over its features and add the explainer's expected value."
    fail(exercise, message)


def check_smoothgrad_no_noise(student_fn, model, x, target, *, exercise: int, n_samples: int = 8) -> None:
    """``student_fn(model, x, target, n_samples, noise_level)`` is SmoothGrad.

    Verified: with ``noise_level=0`` it equals the plain gradient (same sign and scale); with
    noise it differs from the gradient and has the scale of an average, not of a sum.
    """
    plain = vanilla_gradient(model, x, target)
    scale = float(plain.abs().max()) or 1.0
    still = resolve(lambda: student_fn(model, x, target, n_samples, 0.0), exercise, "your SmoothGrad")
    assert_close(still, plain, exercise=exercise, what="SmoothGrad with noise_level=0 (it must equal the gradient)",
                 rtol=1e-4, atol=1e-5 * scale)
    noisy = as_array(resolve(lambda: student_fn(model, x, target, n_samples, 0.3), exercise), exercise)
    if np.allclose(noisy, as_array(plain, exercise), rtol=1e-6, atol=1e-7 * scale):
        fail(exercise, "with noise_level=0.3 your map equals the plain gradient: is the noise added to the input?")
    reference = as_array(smoothgrad(model, x, target, n_samples=n_samples, noise_level=0.3, seed=123), exercise)
    ratio = np.linalg.norm(noisy) / max(np.linalg.norm(reference), 1e-12)
    if not 0.2 < ratio < 5:
        fail(exercise, f"with noise your map is {ratio:.3g} times the size of SmoothGrad's: average the "
                       f"gradients over the samples (divide by n_samples), and scale the noise by noise_level "
                       f"times the image's value range.")
    passed(exercise, "SmoothGrad: noise 0 gives the plain gradient; with noise the map changes and keeps "
                     "the scale of an average.")


def check_beats_random(method_auc, random_auc, *, exercise: int, kind: str = "deletion") -> None:
    """A deletion AUC below the random ranking's (or an insertion AUC above it)."""
    if kind not in ("deletion", "insertion"):
        raise ValueError(f"kind must be 'deletion' or 'insertion', got {kind!r}.")
    method_auc = float(as_array(resolve(method_auc, exercise, "the AUC"), exercise))
    random_auc = float(random_auc)
    better = method_auc < random_auc if kind == "deletion" else method_auc > random_auc
    if math.isnan(method_auc) or not 0 <= method_auc <= 1:
        fail(exercise, f"an AUC of a probability curve over pixel fractions lies in [0, 1], got {method_auc}.")
    if not better:
        wanted = "lower" if kind == "deletion" else "higher"
        fail(exercise, f"the {kind} AUC is {method_auc:.3f}, random ranking {random_auc:.3f}: a faithful map "
                       f"should give a {wanted} AUC. Check that pixels are ranked from most to least "
                       f"important (descending), and whether the map's sign or absolute value fits the test.")
    passed(exercise, f"{kind} AUC {method_auc:.3f} beats the random ranking's {random_auc:.3f}.")


def check_randomization(correlations, *, exercise: int, expect: str, threshold: float = 0.5) -> None:
    """Cascading randomization results [(layer, rho), ...]: ``expect="pass"`` (final rho < threshold)
    or ``expect="fail"`` (the map stays: final rho >= threshold), as ``randomization_sanity_check`` returns them.
    """
    if expect not in ("pass", "fail"):
        raise ValueError(f"expect must be 'pass' or 'fail', got {expect!r}.")
    results = resolve(correlations, exercise, "the correlations")
    try:
        final = float(results[-1][1] if isinstance(results[-1], (tuple, list)) else results[-1])
    except (TypeError, IndexError, ValueError):
        fail(exercise, "expected the list returned by randomization_sanity_check: [(layer, correlation), ...].")
    if math.isnan(final):
        fail(exercise, "the last correlation is NaN: one of the maps is constant, so no ranking can be compared.")
    if expect == "pass" and final >= threshold:
        fail(exercise, f"after randomising every layer the map still correlates {final:.2f} with the original "
                       f"(expected below {threshold}): does your attribution function use the model it is given?")
    if expect == "fail" and final < threshold:
        fail(exercise, f"the correlation fell to {final:.2f}, so the map does depend on the weights; the "
                       f"exercise asks for one that does not (expected >= {threshold}).")
    verdict = "passes" if expect == "pass" else "fails, as expected,"
    passed(exercise, f"the map {verdict} the randomization check (final correlation {final:.2f}).")


def _diagnose(value: np.ndarray, target: np.ndarray) -> str:
    """A hint about how ``value`` relates to ``target``: flipped sign, absolute value, constant factor."""
    if np.allclose(value, -target, rtol=1e-3, atol=1e-8):
        return "It is the expected result with the opposite sign."
    if np.allclose(np.abs(value), np.abs(target), rtol=1e-3, atol=1e-8):
        return "The magnitudes are right but some signs are not: an absolute value too many (or too few)?"
    flat_target = target.reshape(-1)
    norm = float(flat_target @ flat_target)
    if norm > 0:
        factor = float(value.reshape(-1) @ flat_target) / norm
        if abs(factor) > 1e-12 and np.allclose(value, factor * target, rtol=1e-3, atol=1e-8 * abs(factor)):
            return (f"It is the expected result times {factor:.4g}: a normalisation is missing or extra "
                    f"(summed instead of averaged? a weight or a (x - x') factor?).")
    return ""


# --------------------------------------------------------------------- notebook 02


def check_left_riemann_ig(student_fn, model, x, target, *, baseline, n_steps: int = 8, exercise: int) -> None:
    """``student_fn(model, x, target, baseline, n_steps)`` is IG with the left Riemann rule.

    Compared with ``integrated_gradients(..., method="riemann_left")``; on a mismatch the hint
    names the typical slip it matches: right-Riemann points, no (x - x') factor, a sum instead
    of an average, the opposite sign, the black baseline instead of ``baseline``.
    """
    from helpers.attribution import ig_alphas_and_weights, integrated_gradients

    answer = resolve(lambda: student_fn(model, x, target, baseline, n_steps), exercise,
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


# --------------------------------------------------------------------- notebook 04


def check_smooth_ig(student_fn, model, x, target, *, n_samples: int = 2, n_steps: int = 8, exercise: int) -> None:
    """``student_fn(model, x, target, n_samples, noise_level, n_steps)`` averages IG maps over noisy copies.

    Verified: with ``noise_level=0`` it equals ``integrated_gradients(model, x, target,
    n_steps=n_steps)`` (black baseline, trapezoid rule), so it averages rather than sums; with
    noise the map changes but keeps the size of one IG map.
    """
    from helpers.attribution import integrated_gradients

    name = f"{getattr(student_fn, '__name__', 'your function')}(...)"
    reference = integrated_gradients(model, x, target, None, n_steps)
    still = resolve(lambda: student_fn(model, x, target, n_samples, 0.0, n_steps), exercise, name)
    scale = float(reference.abs().max()) or 1.0
    still, plain = as_array(still, exercise), as_array(reference, exercise)
    if still.shape != plain.shape:
        fail(exercise, f"expected a map of the image's shape {plain.shape}, got {still.shape}.")
    if not np.allclose(still, plain, rtol=1e-3, atol=1e-4 * scale):
        fail(exercise, f"with noise_level=0 your map should equal integrated_gradients(model, x, target, "
                       f"n_steps={n_steps}) but differs by up to {np.max(np.abs(still - plain)):.3g}. "
                       f"{_diagnose(still, plain)} With no noise every copy is the image itself, so the average "
                       f"of the IG maps is one IG map (black baseline, the default trapezoid rule).")
    noisy = as_array(resolve(lambda: student_fn(model, x, target, n_samples, 0.2, n_steps), exercise, name), exercise)
    if np.allclose(noisy, plain, rtol=1e-6, atol=1e-7 * scale):
        fail(exercise, "with noise_level=0.2 your map equals plain IG: add the noise to the image before IG "
                       "(sigma = noise_level times the image's value range).")
    ratio = np.linalg.norm(noisy) / max(np.linalg.norm(plain), 1e-12)
    if not 0.25 < ratio < 1.5 * n_samples ** 0.5 + 0.5:
        fail(exercise, f"with noise your map is {ratio:.3g} times the size of one IG map: average the IG maps "
                       f"(divide by n_samples), and scale the noise by noise_level times the value range.")
    passed(exercise, f"SmoothGrad + IG: noise 0 gives IG with n_steps={n_steps}; with noise the map changes and "
                     f"keeps the size of an average.")


# --------------------------------------------------------------------- notebook 06


def check_shap_predictions(student_fn, explainer, model, X, *, exercise: int) -> None:
    """``student_fn(explainer, X)`` rebuilds ``model.predict(X)`` from TreeSHAP values (additivity).

    Diagnosed: a missing base value, the mean instead of the sum, the base value added twice,
    the sum over the wrong axis (one number per feature instead of one per row).
    """
    value = resolve(lambda: student_fn(explainer, X), exercise, f"{getattr(student_fn, '__name__', 'it')}(...)")
    rebuilt = as_array(value, exercise, "your predictions").reshape(-1) if np.ndim(value) else None
    outputs = np.asarray(model.predict(X), dtype=np.float64).reshape(-1)
    if rebuilt is None or rebuilt.shape != outputs.shape:
        shape = np.shape(value)
        fail(exercise, f"expected one prediction per row of X ({outputs.size} numbers), got shape {shape}: "
                       f"sum each row's SHAP values over the features, not over the patients.")
    values = np.asarray(explainer.shap_values(X), dtype=np.float64)
    base = float(np.ravel(explainer.expected_value)[0])
    scale = max(float(np.abs(outputs).max()), 1e-12)
    error = float(np.abs(rebuilt - outputs).max())
    if error <= 1e-6 * scale:
        passed(exercise, f"your predictions rebuilt from the SHAP values equal model.predict within {error:.2g} "
                         f"for {outputs.size} patients (additivity).")
        return
    message = f"your numbers miss model.predict(X) by up to {error:.4g}."
    close = lambda guess: np.allclose(rebuilt, guess, rtol=1e-6, atol=1e-6 * scale)  # noqa: E731
    offset = rebuilt - outputs
    if close(base + values.mean(axis=1)):
        message += " Additivity adds up every feature's contribution; averaging shrinks them."
    elif close(2 * base + values.sum(axis=1)):
        message += " They are off by one constant: is the base value counted twice?"
    elif np.allclose(offset, offset[0], rtol=0, atol=1e-6 * scale):
        message += (f" They are off by the same constant ({offset[0]:.4g}) for every patient: what do the SHAP "
                    f"values start from? (Read explainer.expected_value only after computing the values, or "
                    f"use the base_values of explainer(X).)")
    else:
        message += " Compute the SHAP values of X with the explainer, then combine them with its expected value."
    fail(exercise, message)


def strongest_interaction_reference(interaction_values, features) -> tuple[str, str]:
    """The pair of different features with the largest mean |SHAP interaction value| (sorted names)."""
    strength = np.abs(np.asarray(interaction_values, dtype=np.float64)).mean(axis=0)
    np.fill_diagonal(strength, -np.inf)
    i, j = np.unravel_index(int(np.argmax(strength)), strength.shape)
    return tuple(sorted((str(features[i]), str(features[j]))))


def check_strongest_interaction(student_fn, explainer, X, *, exercise: int) -> None:
    """``student_fn(explainer, X)`` returns the two names of the most strongly interacting features.

    Strength of a pair: the mean over the rows of X of |SHAP interaction value|. Diagnosed: a
    feature paired with itself (the diagonal), signed values that cancel, one row only.
    """
    answer = resolve(lambda: student_fn(explainer, X), exercise, f"{getattr(student_fn, '__name__', 'it')}(...)")
    features = list(X.columns)
    if (not isinstance(answer, (tuple, list)) or len(answer) != 2
            or not all(isinstance(name, str) for name in answer)):
        fail(exercise, f"return two feature names, e.g. ('{features[0]}', '{features[1]}'), got {answer!r}.")
    unknown = [name for name in answer if name not in features]
    if unknown:
        fail(exercise, f"{', '.join(map(repr, unknown))} is not a column of X; the columns are {', '.join(features)}.")
    interactions = np.asarray(explainer.shap_interaction_values(X), dtype=np.float64)
    expected = strongest_interaction_reference(interactions, features)
    pair = tuple(sorted(answer))
    if pair == expected:
        passed(exercise, f"{pair[0]} and {pair[1]} have the largest mean |interaction value| of all "
                         f"{len(features) * (len(features) - 1) // 2} pairs.")
        return
    if pair[0] == pair[1]:
        fail(exercise, f"you paired {pair[0]} with itself: the diagonal of the interaction matrix holds each "
                       f"feature's main effect, not an interaction between two features.")
    signed = np.asarray(interactions).mean(axis=0)
    np.fill_diagonal(signed, -np.inf)
    i, j = np.unravel_index(int(np.argmax(signed)), signed.shape)
    if pair == tuple(sorted((features[i], features[j]))):
        fail(exercise, "positive and negative interaction values cancel when averaged: a strong interaction "
                       "can have either sign for different patients. Measure its size.")
    if pair == strongest_interaction_reference(interactions[:1], features):
        fail(exercise, "that is the strongest pair of the first patient only: average over all rows of X.")
    fail(exercise, f"{pair[0]} and {pair[1]} are not the strongest pair. Average the size of the interaction "
                   f"values over the patients, leave out the diagonal, and read off the row and column names.")


# --------------------------------------------------------------------- notebook 05


def reference_sampled_additivity(sample_sums, f_x, f_background):
    """(gap, standard error) of a sampled additivity check: mean(sums) - (f_x - mean f_background), s.e. of the mean."""
    sums = np.asarray(sample_sums, dtype=np.float64).reshape(-1)
    gap = sums.mean() - (float(f_x) - np.asarray(f_background, dtype=np.float64).mean())
    return np.array([gap, sums.std(ddof=1) / np.sqrt(len(sums))])


def check_sampled_additivity(student_fn, sample_sums, f_x, f_background, *, exercise: int) -> None:
    """``student_fn(sample_sums, f_x, f_background)`` returns (gap, standard error) as the reference does."""
    value = as_array(resolve(lambda: student_fn(sample_sums, f_x, f_background), exercise,
                             "sampled_additivity(...)"), exercise).reshape(-1)
    if value.shape != (2,):
        fail(exercise, f"return two numbers, (gap, standard_error); got {value.size} value(s).")
    gap, error = reference_sampled_additivity(sample_sums, f_x, f_background)
    sums = np.asarray(sample_sums, dtype=np.float64).reshape(-1)
    n, target = len(sums), float(f_x) - float(np.mean(f_background))
    if not np.isclose(value[0], gap, rtol=1e-6, atol=1e-9):
        if np.isclose(value[0], -gap, rtol=1e-6, atol=1e-9):
            fail(exercise, "the gap has the wrong sign: gap = estimate - target, with target = f_x - mean(f_background).")
        if np.isclose(value[0], sums.mean() - float(f_x), rtol=1e-6, atol=1e-9):
            fail(exercise, "the gap ignores the background: the target is f(x) minus the *average* background output.")
        if np.isclose(value[0], sums.sum() - target, rtol=1e-6, atol=1e-9):
            fail(exercise, "the estimate is the mean of the per-sample sums, not their total.")
        fail(exercise, f"gap {value[0]:.4g} does not match: estimate = mean of the sample sums, target = f_x - "
                       f"mean(f_background).")
    if not np.isclose(value[1], error, rtol=1e-6, atol=1e-12):
        for wrong, hint in ((sums.std(ddof=1) / n, "divide the standard deviation by sqrt(n), not by n"),
                            (sums.std(ddof=0) / np.sqrt(n), "use the sample standard deviation (ddof=1)"),
                            (sums.std(ddof=1), "that is the spread of one sample; the mean's error is smaller")):
            if np.isclose(value[1], wrong, rtol=1e-6, atol=1e-12):
                fail(exercise, f"standard error {value[1]:.4g} is not the standard error of the mean: {hint}.")
        fail(exercise, f"standard error {value[1]:.4g} does not match the standard error of the mean of {n} samples.")
    passed(exercise, f"gap {gap:.4g} and standard error {error:.4g} of the sampled additivity check "
                     f"({abs(gap) / error if error else float('inf'):.1f} standard errors).")


# --------------------------------------------------------------------- notebook 08


def check_gradcam_by_hand(student_fn, model, layer, x, target, *, exercise: int) -> None:
    """``student_fn(model, layer, x, target)`` is Grad-CAM at the layer's resolution, (1, 1, h, w),
    as Captum's ``LayerGradCam(model, layer).attribute(x, target, relu_attributions=True)``."""
    from captum.attr import LayerGradCam

    value = resolve(lambda: student_fn(model, layer, x, target), exercise, "gradcam_by_hand(...)")
    if not isinstance(value, torch.Tensor):
        fail(exercise, f"return a torch.Tensor, got {type(value).__name__}.")
    expected = LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True).detach()
    value = value.detach().to(expected.device, expected.dtype)
    if tuple(value.shape) != tuple(expected.shape):
        fail(exercise, f"expected shape {tuple(expected.shape)} (one channel at the layer's resolution), got "
                       f"{tuple(value.shape)}: sum the weighted channels with keepdim=True and do not upsample.")
    if float(value.min()) < 0:
        fail(exercise, "the map has negative values: Grad-CAM keeps only the positive part of the weighted sum.")
    scale = float(expected.abs().max()) or 1.0
    if not torch.allclose(value, expected, rtol=1e-3, atol=1e-4 * scale):
        hint = _diagnose(value.cpu().double().numpy(), expected.cpu().double().numpy())
        worst = float((value - expected).abs().max())
        fail(exercise, f"the map differs from Captum's LayerGradCam by up to {worst:.3g} (largest value "
                       f"{scale:.3g}). {hint} Each channel's weight is the *mean* of its gradient over the "
                       f"spatial positions, and the gradient is taken of the class score, not of the probability."
                       .strip())
    passed(exercise, f"Grad-CAM by hand equals Captum's LayerGradCam, shape {tuple(expected.shape)}.")


def check_guided_backprop_closed_form(student_fn, *, exercise: int, trials: int = 3) -> None:
    """``student_fn(W1, W2, x, c)`` equals Captum's GuidedBackprop on f(x) = W2 relu(W1 x), on random nets."""
    from captum.attr import GuidedBackprop
    from torch import nn

    generator = torch.Generator().manual_seed(8)
    for trial in range(trials):
        W1 = torch.randn(16, 6, generator=generator)
        W2 = torch.randn(4, 16, generator=generator)
        x = torch.randn(6, generator=generator)
        net = nn.Sequential(nn.Linear(6, 16, bias=False), nn.ReLU(), nn.Linear(16, 4, bias=False))
        with torch.no_grad():
            net[0].weight.copy_(W1)
            net[2].weight.copy_(W2)
        for c in range(4):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = GuidedBackprop(net).attribute(x[None].clone(), target=c)[0].detach()
            value = resolve(lambda: student_fn(W1.clone(), W2.clone(), x.clone(), c), exercise,
                            "guided_backprop_closed_form(...)")
            value = torch.as_tensor(as_array(value, exercise), dtype=torch.float32).flatten()
            if value.shape != expected.shape:
                fail(exercise, f"expected a vector of x's length {tuple(expected.shape)}, got {tuple(value.shape)}: "
                               f"the map lives in input space (multiply by W1 transposed at the end).")
            if torch.allclose(value, expected, rtol=1e-4, atol=1e-5):
                continue
            active = (W1 @ x > 0).float()
            if torch.allclose(value, W1.T @ (active * W2[c]), rtol=1e-4, atol=1e-5):
                fail(exercise, "that is the plain gradient. The guided rule also stops negative signals on the "
                               "way back through the ReLU: which factor can be negative there?")
            if torch.allclose(value, W1.T @ W2[c].clamp(min=0), rtol=1e-4, atol=1e-5):
                fail(exercise, "the units that are off for this x (W1 x <= 0) must pass nothing back, as in the "
                               "ordinary gradient of a ReLU.")
            fail(exercise, f"for class {c} of random net {trial + 1} the map differs from Captum's GuidedBackprop "
                           f"by up to {float((value - expected).abs().max()):.3g}. "
                           f"{_diagnose(value.double().numpy(), expected.double().numpy())} Go backwards: "
                           f"d f_c / d hidden = W2[c]; at the ReLU, keep it where the unit is on *and* the signal "
                           f"is positive; then map to the input with W1.".strip())
    passed(exercise, f"the closed form equals Captum's GuidedBackprop on {trials} random networks x 4 classes.")


# --------------------------------------------------------------------- notebook 03


def check_batch_explainer(student_fn, model, x, targets, *, exercise: int, n_steps: int = 16,
                          tolerance: float | None = None) -> None:
    """``student_fn(model, x, targets, n_steps)`` explains a batch: the contract of a batch explain function.

    A tensor of x's shape on x's device; each image's map is that image explained alone
    (targets not mixed up across the batch); with ``tolerance``, it also adds up to
    F(x) - F(black) within it (meaningful only with enough ``n_steps`` for the model).
    """
    from helpers.attribution import integrated_gradients

    maps = resolve(lambda: student_fn(model, x, targets, n_steps), exercise, "explain_batch(...)")
    if not isinstance(maps, torch.Tensor):
        fail(exercise, f"explain_batch should return a torch.Tensor, got {type(maps).__name__}.")
    if tuple(maps.shape) != tuple(x.shape):
        fail(exercise, f"the maps should have the batch's shape {tuple(x.shape)} (one map per image, every "
                       f"channel), got {tuple(maps.shape)}: did you sum over a dimension or drop the batch one?")
    if maps.device.type != x.device.type:
        fail(exercise, f"the maps should be on the batch's device ({x.device.type}), got {maps.device.type}.")
    for i in range(len(x)):
        alone = integrated_gradients(model, x[i:i + 1], int(targets[i]), n_steps=n_steps)
        scale = float(alone.abs().max()) or 1.0
        if not torch.allclose(maps[i:i + 1].detach().cpu(), alone.cpu(), atol=1e-3 * scale, rtol=1e-3):
            same_as_first = torch.allclose(maps[i:i + 1].detach().cpu(), integrated_gradients(
                model, x[i:i + 1], int(targets[0]), n_steps=n_steps).cpu(), atol=1e-3 * scale, rtol=1e-3)
            hint = (" It matches the map for targets[0]: use each image's own target." if i and same_as_first
                    else " Explain each image for its own target, with the black baseline and the trapezoid rule "
                         "(helpers.attribution.integrated_gradients does both).")
            fail(exercise, f"the map of image {i} differs from that image explained alone (max difference "
                           f"{float((maps[i].detach().cpu() - alone[0].cpu()).abs().max()):.3g}).{hint}")
    if tolerance is not None:
        check_completeness(maps, model, x, targets, exercise=exercise, tolerance=tolerance)
        return
    passed(exercise, f"explain_batch returns one map per image ({tuple(x.shape)}, on {x.device.type}), each "
                     f"equal to its image explained alone for its own target.")


def check_ranking(student_fn, *, exercise: int) -> None:
    """``student_fn(summary)`` returns the rows of a summary DataFrame without errors, most confident first."""
    import pandas as pd

    summary = pd.DataFrame({
        "file": ["a.png", "b.png", "broken.jpg", "c.png", "empty.jpg"],
        "top1_label": ["tabby", "espresso", None, "rocket", None],
        "confidence": [0.41, 0.93, None, 0.67, None],
        "figure": [None] * 5,  # --figures none: an empty column, as in a real summary
        "error": [None, None, "not a readable image", None, "empty (0 bytes)"],
    })
    ranked = resolve(lambda: student_fn(summary.copy()), exercise, "rank_by_confidence(summary)")
    if not isinstance(ranked, pd.DataFrame):
        fail(exercise, f"rank_by_confidence should return a pandas DataFrame, got {type(ranked).__name__}.")
    files = list(ranked["file"]) if "file" in ranked else []
    if not files or set(files) - {"a.png", "b.png", "c.png"}:
        if not files:
            fail(exercise, "the result has no rows (or no 'file' column): dropna() without subset= drops every "
                           "row that has any empty cell, e.g. the empty 'figure' column. Filter on 'error'.")
        fail(exercise, f"the result still contains files with an error: {sorted(set(files) - {'a.png', 'b.png', 'c.png'})}. "
                       f"Keep only the rows whose 'error' is empty.")
    if sorted(files) != ["a.png", "b.png", "c.png"]:
        fail(exercise, f"expected the 3 explained files, got {files}: keep every row without an error.")
    if files == ["a.png", "c.png", "b.png"]:
        fail(exercise, "the least confident image comes first: sort in descending order (ascending=False).")
    if files != ["b.png", "c.png", "a.png"]:
        fail(exercise, f"the rows should be ordered by confidence, highest first; got {files}.")
    passed(exercise, "error rows removed, the 3 explained images ranked by confidence (0.93, 0.67, 0.41).")
