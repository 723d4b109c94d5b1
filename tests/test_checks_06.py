"""The checks of notebook 06's exercises pass on correct answers and fail, with their hint, on typical wrong ones."""

import catboost
import numpy as np
import pytest
import shap
from sklearn.datasets import load_diabetes

from helpers.checks import check_shap_predictions, check_strongest_interaction, strongest_interaction_reference


@pytest.fixture(scope="module")
def fitted():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = catboost.CatBoostRegressor(iterations=60, depth=3, learning_rate=0.1, random_seed=0,
                                       verbose=False, allow_writing_files=False).fit(X[:300], y[:300])
    return model, shap.TreeExplainer(model), X[300:360]


def rebuilt(explainer, X):
    explanation = explainer(X)
    return explanation.base_values + explanation.values.sum(axis=1)


def strongest(explainer, X):
    return strongest_interaction_reference(explainer.shap_interaction_values(X), list(X.columns))


def test_shap_predictions_pass(fitted, capsys):
    model, explainer, X = fitted
    check_shap_predictions(rebuilt, explainer, model, X, exercise=1)
    assert capsys.readouterr().out.startswith("Exercise 1 passed:")


@pytest.mark.parametrize("wrong, hint", [
    (lambda e, X: e.shap_values(X).sum(axis=1), "the same constant"),
    (lambda e, X: np.ravel(e.expected_value)[0] + e.shap_values(X).mean(axis=1), "averaging"),
    (lambda e, X: 2 * np.ravel(e.expected_value)[0] + e.shap_values(X).sum(axis=1), "twice"),
    (lambda e, X: np.ravel(e.expected_value)[0] + e.shap_values(X).sum(axis=0), "over the features"),
])
def test_shap_predictions_wrong(fitted, wrong, hint):
    model, explainer, X = fitted
    with pytest.raises(AssertionError, match=r"^Exercise 1") as error:
        check_shap_predictions(wrong, explainer, model, X, exercise=1)
    assert hint in str(error.value)


def test_shap_predictions_not_done(fitted):
    model, explainer, X = fitted

    def stub(explainer, X):
        raise NotImplementedError("Exercise 1: rebuild the predictions")

    with pytest.raises(AssertionError, match="Exercise 1 is not done yet"):
        check_shap_predictions(stub, explainer, model, X, exercise=1)


def test_strongest_interaction_pass(fitted, capsys):
    _, explainer, X = fitted
    check_strongest_interaction(strongest, explainer, X, exercise=2)
    check_strongest_interaction(lambda e, X: tuple(reversed(strongest(e, X))), explainer, X, exercise=2)
    assert capsys.readouterr().out.count("Exercise 2 passed:") == 2


def test_strongest_interaction_reference_ignores_diagonal():
    values = np.zeros((3, 3, 3))
    values[:, 0, 0] = 10  # a main effect
    values[:, 1, 2] = values[:, 2, 1] = [1, -1, 1]  # an interaction of either sign
    assert strongest_interaction_reference(values, ["a", "b", "c"]) == ("b", "c")


def test_strongest_interaction_wrong(fitted):
    _, explainer, X = fitted
    features = list(X.columns)
    interactions = explainer.shap_interaction_values(X)
    diagonal = features[int(np.argmax(np.abs(interactions).mean(axis=0).diagonal()))]
    cases = [
        (lambda e, X: (diagonal, diagonal), "with itself"),
        (lambda e, X: "bmi", "two feature names"),
        (lambda e, X: ("bmi", "weight"), "not a column"),
    ]
    expected = strongest(explainer, X)
    other = next((a, b) for a in features for b in features if a < b and (a, b) != expected)
    cases.append((lambda e, X: other, "not the strongest pair"))
    for wrong, hint in cases:
        with pytest.raises(AssertionError, match=r"^Exercise 2") as error:
            check_strongest_interaction(wrong, explainer, X, exercise=2)
        assert hint in str(error.value), (hint, str(error.value))


def test_strongest_interaction_signed_mean_diagnosed(fitted):
    """A pair picked by the signed mean (where it differs from the right one) gets the cancelling hint."""
    _, explainer, X = fitted
    interactions = explainer.shap_interaction_values(X)
    features = list(X.columns)
    signed = interactions.mean(axis=0)
    np.fill_diagonal(signed, -np.inf)
    i, j = np.unravel_index(int(np.argmax(signed)), signed.shape)
    pair = (features[i], features[j])
    if tuple(sorted(pair)) == strongest(explainer, X):
        pytest.skip("on this model the signed mean picks the right pair")
    with pytest.raises(AssertionError, match="cancel"):
        check_strongest_interaction(lambda e, X: pair, explainer, X, exercise=2)
