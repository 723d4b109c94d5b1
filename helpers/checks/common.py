"""What every exercise check shares: the failure and pass lines, reading an answer, generic checks.

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

from helpers.attribution import smoothgrad, vanilla_gradient

from helpers.validate import prepare_inputs


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


def fresh(values):
    """Copies of the tensors, arrays and data frames in ``values`` (recursively), for a student's function.

    A function that changes its inputs in place must not change what the reference sees next.
    """
    if isinstance(values, torch.Tensor):
        return values.detach().clone()
    if isinstance(values, np.ndarray) or hasattr(values, "to_numpy"):  # numpy, pandas
        return values.copy()
    if isinstance(values, (list, tuple)):
        return type(values)(fresh(value) for value in values)
    if isinstance(values, dict):
        return {key: fresh(value) for key, value in values.items()}
    return values


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
    value = resolve(lambda: student_fn(*fresh(args), **fresh(kwargs)), exercise, f"{getattr(student_fn, '__name__', 'it')}(...)")
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


def relative_gaps(total, expected) -> np.ndarray:
    """|total - expected| / |expected| per image: the completeness gap the checks hold answers to.

    A zero ``expected`` is guarded (divided by 1e-12 instead), so the gap is huge, never NaN.
    """
    total, expected = np.asarray(total, dtype=float), np.asarray(expected, dtype=float)
    return np.abs(total - expected) / np.maximum(np.abs(expected), 1e-12)


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
    relative = relative_gaps(total, change)
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
    still = resolve(lambda: student_fn(*fresh((model, x, target, n_samples, 0.0))), exercise, "your SmoothGrad")
    assert_close(still, plain, exercise=exercise, what="SmoothGrad with noise_level=0 (it must equal the gradient)",
                 rtol=1e-4, atol=1e-5 * scale)
    noisy = as_array(resolve(lambda: student_fn(*fresh((model, x, target, n_samples, 0.3))), exercise), exercise)
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
