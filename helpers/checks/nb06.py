"""The checks of notebook 06's exercises."""

from __future__ import annotations

import numpy as np

from helpers.checks.common import fail, passed, resolve, as_array, fresh


def check_shap_predictions(student_fn, explainer, model, X, *, exercise: int) -> None:
    """``student_fn(explainer, X)`` rebuilds ``model.predict(X)`` from TreeSHAP values (additivity).

    Diagnosed: a missing base value, the mean instead of the sum, the base value added twice,
    the sum over the wrong axis (one number per feature instead of one per row).
    """
    value = resolve(lambda: student_fn(*fresh((explainer, X))), exercise, f"{getattr(student_fn, '__name__', 'it')}(...)")
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
    answer = resolve(lambda: student_fn(*fresh((explainer, X))), exercise, f"{getattr(student_fn, '__name__', 'it')}(...)")
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
