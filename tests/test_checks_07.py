"""Notebook 07's exercises use generic checks; here they are run as the notebook runs them, on a tiny model."""

import pytest
import torch
from conftest import Evidence

from helpers.attribution import vanilla_gradient
from helpers.checks import ExerciseFailed, check_beats_random, check_randomization
from helpers.evaluation import curve_auc, deletion_curve, random_attribution, randomization_sanity_check


@pytest.fixture
def case():
    model = Evidence(side=4, weights=torch.linspace(0.2, 3.0, 16), bias=-8.0).eval()  # every bright pixel is evidence
    x = torch.rand((1, 1, 4, 4), generator=torch.Generator().manual_seed(0)) + 0.5
    random_auc = curve_auc(*deletion_curve(model, x, 0, random_attribution(x, seed=0), steps=16))
    return model, x, random_auc


def deletion_auc(model, x, attribution):
    return curve_auc(*deletion_curve(model, x, 0, attribution, steps=16))


def test_exercise_1_gradient_times_input_beats_random(case, capsys):
    model, x, random_auc = case
    check_beats_random(lambda: deletion_auc(model, x, x * vanilla_gradient(model, x, 0)), random_auc, exercise=1)
    assert "Exercise 1 passed" in capsys.readouterr().out


def test_exercise_1_fails_on_a_reversed_ranking(case):
    model, x, random_auc = case
    with pytest.raises(ExerciseFailed, match=r"^Exercise 1: the deletion AUC .* \(descending\)"):
        check_beats_random(lambda: deletion_auc(model, x, -x * vanilla_gradient(model, x, 0)), random_auc,
                           exercise=1)


def test_exercise_2_a_model_blind_map_fails_the_randomization_check(tiny_model, tiny_input, capsys):
    check_randomization(lambda: randomization_sanity_check(tiny_model, tiny_input, 1, lambda m, x, t: x.abs(),
                                                           n_groups=2), exercise=2, expect="fail")
    assert "fails, as expected" in capsys.readouterr().out


def test_exercise_2_flags_a_map_that_uses_the_model(tiny_model, tiny_input):
    with pytest.raises(ExerciseFailed, match="^Exercise 2: the correlation fell"):
        check_randomization(lambda: randomization_sanity_check(tiny_model, tiny_input, 1, vanilla_gradient,
                                                               n_groups=2), exercise=2, expect="fail")


def test_exercise_2_a_constant_map_is_not_a_valid_answer(tiny_model, tiny_input):
    with pytest.warns(RuntimeWarning), pytest.raises(ExerciseFailed, match="^Exercise 2: .*NaN"):
        check_randomization(lambda: randomization_sanity_check(tiny_model, tiny_input, 1,
                                                               lambda m, x, t: torch.ones_like(x), n_groups=2),
                            exercise=2, expect="fail")
