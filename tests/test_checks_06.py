"""The checks of notebook 06's exercises pass on correct answers and fail, with their hint, on typical wrong ones."""

import itertools
import math

import catboost
import numpy as np
import pytest
import shap
from sklearn.datasets import load_diabetes

from helpers.checks import (ExerciseFailed, check_baseline_shapley, check_interaction_prediction,
                            check_probability_from_shap, interaction_verdict, strongest_interaction_reference)

PARAMS = dict(iterations=60, depth=3, learning_rate=0.1, random_seed=0, verbose=False, allow_writing_files=False)


@pytest.fixture(scope="module")
def data():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X[:300], y[:300], X[300:360]


@pytest.fixture(scope="module")
def regressor(data):
    X, y, _ = data
    return catboost.CatBoostRegressor(**PARAMS).fit(X, y)


@pytest.fixture(scope="module")
def classifier(data):
    X, y, _ = data
    model = catboost.CatBoostClassifier(**PARAMS).fit(X, (y > y.median()).astype(int))
    return model, shap.TreeExplainer(model)


def not_done(*args):
    raise NotImplementedError("Exercise 1: fix it")


# ---------------------------------------------------------------- exercise 1: probabilities (debug)

def probability(explainer, X):
    explanation = explainer(X)
    return 1 / (1 + np.exp(-(explanation.base_values + explanation.values.sum(axis=1))))


def test_probability_passes(classifier, data, capsys):
    model, explainer = classifier
    check_probability_from_shap(probability, explainer, model, data[2], exercise=1)
    assert capsys.readouterr().out.startswith("Exercise 1 passed:")


@pytest.mark.parametrize("wrong, hint", [
    (lambda e, X: e(X).base_values + e(X).values.sum(axis=1), "not probabilities"),  # the planted bug
    (lambda e, X: 1 / (1 + np.exp(-e(X).values.sum(axis=1))), "same constant"),
    (lambda e, X: 1 - probability(e, X), "other class"),
    (lambda e, X: probability(e, X)[:5], "one probability per row"),
    (not_done, "not done yet"),
])
def test_probability_fails_with_its_hint(classifier, data, wrong, hint):
    model, explainer = classifier
    with pytest.raises(ExerciseFailed, match=r"^Exercise 1") as error:
        check_probability_from_shap(wrong, explainer, model, data[2], exercise=1)
    assert hint in str(error.value)


# ---------------------------------------------------------------- exercise 2: baseline Shapley (extend)

def shapley(model, x, reference, weight=None):
    d = x.shape[1]
    masks = np.array(list(itertools.product([False, True], repeat=d)))
    v = model.predict(np.where(masks, x.to_numpy(), reference.to_numpy()))
    index = {m.tobytes(): k for k, m in enumerate(masks)}
    weight = weight or (lambda s: math.factorial(s) * math.factorial(d - s - 1) / math.factorial(d))
    phi = np.zeros(d)
    for k, m in enumerate(masks):
        for j in np.flatnonzero(~m):
            with_j = m.copy()
            with_j[j] = True
            phi[j] += weight(m.sum()) * (v[index[with_j.tobytes()]] - v[k])
    return phi


def leave_one_out(model, x, reference):
    rows = np.repeat(x.to_numpy(), x.shape[1], axis=0)
    np.fill_diagonal(rows, reference.to_numpy()[0])
    return model.predict(x)[0] - model.predict(rows)


def test_baseline_shapley_passes(regressor, data, capsys):
    X = data[2]
    check_baseline_shapley(shapley, regressor, X.iloc[[0]], X.iloc[[1]], exercise=2)
    assert capsys.readouterr().out.startswith("Exercise 2 passed: your values add up")


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, x, r: shapley(m, x, r, weight=lambda s: 2.0 ** (1 - x.shape[1])), "add up to"),  # Banzhaf weights
    (leave_one_out, "add up to"),
    (lambda m, x, r: shap.TreeExplainer(m).shap_values(x)[0], "tree_path_dependent"),
    (lambda m, x, r: shapley(m, x, r)[:-1], "one value per feature"),
    (not_done, "not done yet"),
])
def test_baseline_shapley_fails_with_its_hint(regressor, data, wrong, hint):
    X = data[2]
    with pytest.raises(ExerciseFailed, match=r"^Exercise 2") as error:
        check_baseline_shapley(wrong, regressor, X.iloc[[0]], X.iloc[[1]], exercise=2)
    assert hint in str(error.value)


def test_baseline_shapley_additive_but_wrong(regressor, data):
    """Values that add up but are shared out wrongly (here: the difference split evenly) get the second hint."""
    X = data[2]
    x, r = X.iloc[[0]], X.iloc[[1]]
    even = lambda m, x, r: np.full(x.shape[1], (m.predict(x)[0] - m.predict(r)[0]) / x.shape[1])  # noqa: E731
    with pytest.raises(ExerciseFailed, match="add up, but differ"):
        check_baseline_shapley(even, regressor, x, r, exercise=2)


# ---------------------------------------------------------------- exercise 3: interactions of stumps (predict)

def test_interaction_verdict():
    assert interaction_verdict(0.0, 2.0) == "none"
    assert interaction_verdict(0.5, 2.0) == "weaker"
    assert interaction_verdict(1.9, 2.0) == "as strong"


def test_interaction_prediction(data, capsys):
    X, y, X_check = data
    fit = lambda depth: catboost.CatBoostRegressor(**{**PARAMS, "depth": depth}).fit(X, y)  # noqa: E731
    check_interaction_prediction("none", fit, X_check, 3, exercise=3)
    assert capsys.readouterr().out.startswith("Exercise 3 passed: prediction 'none' is right")
    for wrong, hint in (("as strong", "sum of one-feature functions"), ("weaker", "the experiment says 'none'"),
                        ("zero", "one of"), (None, "not done yet")):
        with pytest.raises(ExerciseFailed, match=r"^Exercise 3") as error:
            check_interaction_prediction(wrong, fit, X_check, 3, exercise=3)
        assert hint in str(error.value)


def test_strongest_interaction_reference_ignores_diagonal():
    values = np.zeros((3, 3, 3))
    values[:, 0, 0] = 10  # a main effect
    values[:, 1, 2] = values[:, 2, 1] = [1, -1, 1]  # an interaction of either sign
    assert strongest_interaction_reference(values, ["a", "b", "c"]) == ("b", "c")
