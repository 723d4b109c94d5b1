"""Notebook 07's exercise checks, run as the notebook runs them, on tiny models: each passes the right
answer and fails, with a hint naming the symptom, on typical wrong ones."""

import numpy as np
import pytest
import torch
from conftest import Evidence

from helpers.attribution import vanilla_gradient
from helpers.checks import (
    ExerciseFailed, check_abpc, check_deletion_curve, check_randomization_prediction,
    reference_abpc,
)
from helpers.evaluation import curve_auc, deletion_curve, random_attribution


@pytest.fixture
def case():
    model = Evidence(side=4, weights=torch.linspace(0.2, 3.0, 16), bias=-8.0).eval()  # every bright pixel is evidence
    x = torch.rand((1, 1, 4, 4), generator=torch.Generator().manual_seed(0)) + 0.5
    true_map = model.linear.weight.view(1, 1, 4, 4) * x  # each pixel's exact contribution
    return model, x, true_map


def brightness(model, x, target):
    return x.abs()


def gradient_times_input(model, x, target):
    return x * vanilla_gradient(model, x, target)


# --------------------------------------------------------------------------- Exercise 1 (predict)

def test_exercise_1_right_predictions_pass_and_explain(tiny_model, tiny_input, capsys):
    check_randomization_prediction(False, tiny_model, tiny_input, 1, brightness, exercise=1, name="brightness",
                                   n_groups=2)
    check_randomization_prediction(True, tiny_model, tiny_input, 1, vanilla_gradient, exercise=1, name="gradient",
                                   n_groups=2)
    out = capsys.readouterr().out
    assert out.count("Exercise 1 passed: prediction") == 2 and "1.00 -> 1.00 -> 1.00" in out


def test_exercise_1_a_wrong_prediction_fails_with_the_measured_cascade(tiny_model, tiny_input):
    with pytest.raises(ExerciseFailed, match=r"^Exercise 1: your prediction was True, the experiment says False\. "
                                             r"brightness: .*1\.00 -> 1\.00 -> 1\.00.*factor x dominates"):
        check_randomization_prediction(True, tiny_model, tiny_input, 1, brightness, exercise=1, name="brightness",
                                       n_groups=2)
    with pytest.raises(ExerciseFailed, match=r"^Exercise 1: your prediction was False, the experiment says True"):
        check_randomization_prediction(False, tiny_model, tiny_input, 1, vanilla_gradient, exercise=1,
                                       name="gradient", n_groups=2)


def test_exercise_1_not_done_and_not_a_bool(tiny_model, tiny_input):
    with pytest.raises(ExerciseFailed, match="^Exercise 1 is not done yet"):
        check_randomization_prediction(None, tiny_model, tiny_input, 1, brightness, exercise=1, name="b")
    with pytest.raises(ExerciseFailed, match="as True .* or False"):
        check_randomization_prediction("passes", tiny_model, tiny_input, 1, brightness, exercise=1, name="b")


# --------------------------------------------------------------------------- Exercise 2 (debug)

def make_deletion_curve(order_fn=lambda flat: flat.argsort(descending=True), read=lambda logits, t: torch.softmax(
        logits, dim=1)[0, t], fill=0.0):
    """The notebook's my_deletion_curve, with one part swappable to plant a bug."""
    def my_deletion_curve(model, x, target, attribution, steps=20):
        n_pixels = x.shape[-2] * x.shape[-1]
        order = order_fn(attribution.sum(dim=1).flatten())
        fractions, probabilities = [], []
        for k in range(steps + 1):
            count = round(n_pixels * k / steps)
            keep = torch.ones(n_pixels)
            keep[order[:count]] = 0
            keep = keep.view(1, 1, *x.shape[-2:])
            with torch.no_grad():
                logits = model(x * keep + fill * (1 - keep))
            fractions.append(count / n_pixels)
            probabilities.append(float(read(logits, target)))
        return np.array(fractions), np.array(probabilities)
    return my_deletion_curve


def test_exercise_2_the_fixed_curve_passes(case, capsys):
    model, x, true_map = case
    check_deletion_curve(make_deletion_curve(), model, x, 0, true_map, steps=8, exercise=2)
    assert "Exercise 2 passed: the curve matches" in capsys.readouterr().out


def test_exercise_2_the_planted_ascending_order_fails_by_its_symptom(case):
    model, x, true_map = case
    with pytest.raises(ExerciseFailed, match=r"^Exercise 2: your curve's AUC is .*random ranking .*falls slowest "
                                             r"where it should fall fastest"):
        check_deletion_curve(make_deletion_curve(order_fn=lambda flat: flat.argsort()), model, x, 0, true_map,
                             steps=8, exercise=2, random_attribution=random_attribution(x))


def test_exercise_2_logits_or_the_wrong_class_fail_at_the_first_point(case):
    model, x, true_map = case
    with pytest.raises(ExerciseFailed, match=r"^Exercise 2: the curve starts at .*intact image.*softmax"):
        check_deletion_curve(make_deletion_curve(read=lambda logits, t: logits[0, t]), model, x, 0, true_map,
                             steps=8, exercise=2)
    with pytest.raises(ExerciseFailed, match=r"^Exercise 2: the curve starts at"):
        check_deletion_curve(make_deletion_curve(read=lambda logits, t: torch.softmax(logits, 1)[0, 1 - t]),
                             model, x, 0, true_map, steps=8, exercise=2)


def test_exercise_2_a_grey_reference_fails_with_where_the_curves_part(case):
    model, x, true_map = case
    with pytest.raises(ExerciseFailed, match=r"^Exercise 2: at .*% of the pixels removed .*set to black"):
        check_deletion_curve(make_deletion_curve(fill=0.5), model, x, 0, true_map, steps=8, exercise=2)


def test_exercise_2_wrong_shapes_and_not_done(case):
    model, x, true_map = case
    with pytest.raises(ExerciseFailed, match="steps \\+ 1 = 9 numbers"):
        check_deletion_curve(lambda *a: (np.linspace(0, 1, 8), np.ones(8)), model, x, 0, true_map, steps=8,
                             exercise=2)
    with pytest.raises(ExerciseFailed, match="^Exercise 2 is not done yet"):
        check_deletion_curve(lambda *a: None, model, x, 0, true_map, steps=8, exercise=2)


# --------------------------------------------------------------------------- Exercise 3 (extend)

def auc(model, x, target, attribution, steps):
    return curve_auc(*deletion_curve(model, x, target, attribution, steps=steps))


def right_abpc(model, x, target, attribution, steps=20):
    return auc(model, x, target, -attribution, steps) - auc(model, x, target, attribution, steps)


def test_exercise_3_right_abpc_passes_and_is_antisymmetric(case, capsys):
    model, x, true_map = case
    check_abpc(right_abpc, model, x, 0, true_map, steps=8, exercise=3, random_attribution=random_attribution(x))
    out = capsys.readouterr().out
    assert "Exercise 3 passed: AUC(LeRF) - AUC(MoRF)" in out and "random ranking" in out
    assert reference_abpc(model, x, 0, true_map, 8) > 0.1


def test_exercise_3_morf_minus_lerf_fails_by_its_sign(case):
    model, x, true_map = case
    with pytest.raises(ExerciseFailed, match=r"^Exercise 3: you get -.*should score above 0"):
        check_abpc(lambda *a: -right_abpc(*a), model, x, 0, true_map, steps=8, exercise=3)


def test_exercise_3_a_reversed_morf_curve_fails(case):
    def reversed_lerf(model, x, target, attribution, steps=20):
        fractions, morf = deletion_curve(model, x, target, attribution, steps=steps)
        return curve_auc(fractions, morf[::-1]) - curve_auc(fractions, morf)
    model, x, true_map = case
    with pytest.raises(ExerciseFailed, match=r"^Exercise 3: .*Reading the MoRF curve backwards"):
        check_abpc(reversed_lerf, model, x, 0, true_map, steps=8, exercise=3)


def test_exercise_3_ranking_by_magnitude_fails_the_antisymmetry(case):
    model, x, _ = case
    positive_map = torch.rand(x.shape, generator=torch.Generator().manual_seed(5))  # |map| = map here
    def by_magnitude(model, x, target, attribution, steps=20):
        return right_abpc(model, x, target, attribution.abs(), steps)
    with pytest.raises(ExerciseFailed, match=r"^Exercise 3: abpc of the map is right .* negated map"):
        check_abpc(by_magnitude, model, x, 0, positive_map, steps=8, exercise=3)
