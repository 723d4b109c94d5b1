"""The checks of notebook 06's exercises (CatBoost and TreeSHAP)."""

from __future__ import annotations

import numpy as np

from helpers.checks.common import as_array, fail, fresh, passed, resolve


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def check_probability_from_shap(student_fn, explainer, classifier, X, *, exercise: int) -> None:
    """``student_fn(explainer, X)`` rebuilds ``classifier.predict_proba(X)[:, 1]`` from TreeSHAP values.

    Diagnosed: the raw sum (log-odds, not a probability), a missing base value (off by one
    constant in log-odds), the other class's probability, one number per feature.
    """
    value = resolve(lambda: student_fn(*fresh((explainer, X))), exercise, f"{getattr(student_fn, '__name__', 'it')}(...)")
    answer = as_array(value, exercise, "your probabilities").reshape(-1) if np.ndim(value) else None
    target = np.asarray(classifier.predict_proba(X), dtype=np.float64)[:, 1]
    if answer is None or answer.shape != target.shape:
        fail(exercise, f"expected one probability per row of X ({target.size} numbers), got shape {np.shape(value)}: "
                       f"sum each row's SHAP values over the features, not over the patients.")
    error = float(np.abs(answer - target).max())
    if error <= 1e-6:
        passed(exercise, f"your probabilities equal predict_proba within {error:.1g} for {target.size} patients: "
                         f"the SHAP values add up in log-odds, the sigmoid turns the total into a probability.")
        return
    message = f"your numbers miss predict_proba(X)[:, 1] by up to {error:.3g}."
    if answer.min() < 0 or answer.max() > 1:
        message += (f" They run from {answer.min():.2f} to {answer.max():.2f}, so they are not probabilities: on "
                    f"what scale do a classifier's SHAP values and base value add up? (Compare with "
                    f"classifier.predict(X, prediction_type='RawFormulaVal').)")
    elif np.allclose(answer, 1 - target, atol=1e-6):
        message += " They are the probabilities of the other class (slow progression): which class is label 1?"
    else:
        logit = np.log(np.clip(answer, 1e-12, 1 - 1e-12) / np.clip(1 - answer, 1e-12, 1))
        offset = logit - np.log(target / (1 - target))
        if np.allclose(offset, offset[0], atol=1e-4):
            message += (f" In log-odds they are off by the same constant ({offset[0]:.3g}) for every patient: what do "
                        f"the SHAP values start from?")
        else:
            message += " Add up the SHAP values and the base value on the scale they live on, then convert."
    fail(exercise, message)


def check_baseline_shapley(student_fn, model, x, reference, *, exercise: int) -> None:
    """``student_fn(model, x, reference)``: exact Shapley values (one per column) of the game
    v(S) = f(x on S, reference elsewhere), for one row ``x`` and one row ``reference`` (data frames).

    The right answer adds up to f(x) - f(reference) and equals shap's interventional TreeSHAP with
    ``reference`` as its only background row. Diagnosed: not additive (wrong weights, leave-one-out,
    add-one), the path-dependent values, the wrong shape.
    """
    import shap

    value = resolve(lambda: student_fn(*fresh((model, x, reference))), exercise,
                    f"{getattr(student_fn, '__name__', 'it')}(...)")
    phi = as_array(value, exercise, "your Shapley values").reshape(-1)
    d = x.shape[1]
    if phi.size != d:
        fail(exercise, f"return one value per feature ({d} numbers), got {phi.size}.")
    f_x, f_ref = (float(np.ravel(model.predict(row))[0]) for row in (x, reference))
    target = f_x - f_ref
    scale = max(abs(f_x), abs(f_ref), 1e-12)
    library = np.asarray(shap.TreeExplainer(model, data=reference, feature_perturbation="interventional")
                         .shap_values(x), dtype=np.float64).reshape(-1)
    path = np.asarray(shap.TreeExplainer(model).shap_values(x), dtype=np.float64).reshape(-1)
    error = float(np.abs(phi - library).max())
    if error <= 1e-4 * scale:
        same = [str(c) for c in x.columns if np.isclose(float(x[c].iloc[0]), float(reference[c].iloc[0]))]
        passed(exercise, f"your values add up to f(x) - f(reference) = {target:.2f} (sum {phi.sum():.2f}) and match "
                         f"shap's interventional TreeSHAP within {error:.1g}; the path-dependent values differ by "
                         f"up to {np.abs(path - library).max():.2f} and add up to f(x) - E f instead"
                         + (f". Features equal in x and the reference ({', '.join(same)}) get 0." if same else "."))
        return
    if np.abs(phi - path).max() <= 1e-4 * scale:
        fail(exercise, "these are TreeExplainer's default (tree_path_dependent) values: they average over the "
                       "training data in each leaf, not over the reference row, and add up to f(x) - E f.")
    if abs(phi.sum() - target) > 1e-4 * scale:
        fail(exercise, f"your values add up to {phi.sum():.3f}, but f(x) - f(reference) = {target:.3f}: Shapley "
                       f"values share out the whole difference. Does every coalition S, from empty to full, enter "
                       f"with the weight |S|! (d - |S| - 1)! / d! in each feature's marginal contributions?")
    fail(exercise, f"your values add up, but differ from the interventional values by up to {error:.3g}: "
                   f"check which coalitions each feature's marginal contribution v(S + j) - v(S) is taken over "
                   f"(every S without j) and their weights.")


def strongest_interaction_reference(interaction_values, features) -> tuple[str, str]:
    """The pair of different features with the largest mean |SHAP interaction value| (sorted names)."""
    strength = np.abs(np.asarray(interaction_values, dtype=np.float64)).mean(axis=0)
    np.fill_diagonal(strength, -np.inf)
    i, j = np.unravel_index(int(np.argmax(strength)), strength.shape)
    return tuple(sorted((str(features[i]), str(features[j]))))


def interaction_strengths(model, X) -> dict:
    """Largest mean |interaction value| between two different features, its pair, and the largest main effect."""
    import shap

    values = np.asarray(shap.TreeExplainer(model).shap_interaction_values(X), dtype=np.float64)
    strength = np.abs(values).mean(axis=0)
    main = float(strength.diagonal().max())
    pair = strongest_interaction_reference(values, list(X.columns))
    np.fill_diagonal(strength, 0)
    return {"pair": pair, "interaction": float(strength.max()), "main": main}


INTERACTION_CHOICES = ("none", "weaker", "as strong")


def interaction_verdict(shallow: float, deep: float) -> str:
    """'none' (under 1% of the deeper model's), 'weaker' (under 2/3 of it) or 'as strong'."""
    ratio = shallow / deep if deep > 0 else 0.0
    return "none" if ratio < 0.01 else "weaker" if ratio < 2 / 3 else "as strong"


def check_interaction_prediction(prediction, fit, X, depth: int, *, exercise: int) -> None:
    """``prediction`` in INTERACTION_CHOICES: how strong the largest interaction of a depth-1 model is,
    against the model of depth ``depth``. ``fit(depth)`` returns a fitted model; runs the experiment."""
    value = resolve(prediction, exercise, "prediction")
    if value not in INTERACTION_CHOICES:
        fail(exercise, f"write your prediction as one of {', '.join(map(repr, INTERACTION_CHOICES))}, got {value!r}.")
    deep, stumps = interaction_strengths(fit(depth), X), interaction_strengths(fit(1), X)
    measured = interaction_verdict(stumps["interaction"], deep["interaction"])
    facts = (f"largest mean |interaction value|: {deep['interaction']:.3g} at depth {depth} ({' x '.join(deep['pair'])}), "
             f"{stumps['interaction']:.2g} at depth 1 (largest main effect {stumps['main']:.3g})")
    why = ("a tree of depth 1 splits on one feature, so the model is a sum of one-feature functions "
           "f(x) = c + g_1(x_1) + ... + g_d(x_d); an interaction needs a tree whose output depends on two features "
           "at once, and there is none." if measured == "none" else
           "the depth-1 model still shows interactions; look at how CatBoost built its trees.")
    if value != measured:
        fail(exercise, f"your prediction was {value!r}, the experiment says {measured!r}. {facts}: {why}")
    passed(exercise, f"prediction {value!r} is right. {facts}: {why}")
