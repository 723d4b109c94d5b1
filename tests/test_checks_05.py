"""The notebook-05 check: sampled additivity (gap and standard error of a Monte Carlo estimate)."""

import numpy as np
import pytest

from helpers.checks import ExerciseFailed, check_sampled_additivity, reference_sampled_additivity

SUMS = np.random.default_rng(0).normal(2.0, 0.5, size=64)
F_X, F_BACKGROUND = 3.0, np.array([0.5, 1.5, 1.0])


def correct(sums, f_x, f_background):
    sums = np.asarray(sums)
    return sums.mean() - (f_x - np.mean(f_background)), sums.std(ddof=1) / np.sqrt(len(sums))


def test_reference_is_the_gap_and_the_standard_error_of_the_mean():
    gap, error = reference_sampled_additivity(SUMS, F_X, F_BACKGROUND)
    assert gap == pytest.approx(SUMS.mean() - 2.0)
    assert error == pytest.approx(SUMS.std(ddof=1) / 8)


def test_passes_on_a_correct_answer(capsys):
    check_sampled_additivity(correct, SUMS, F_X, F_BACKGROUND, exercise=2)
    assert capsys.readouterr().out.startswith("Exercise 2 passed: gap")


@pytest.mark.parametrize("wrong, hint", [
    (lambda s, fx, fb: (-correct(s, fx, fb)[0], correct(s, fx, fb)[1]), "wrong sign"),
    (lambda s, fx, fb: (np.mean(s) - fx, correct(s, fx, fb)[1]), "ignores the background"),
    (lambda s, fx, fb: (np.sum(s) - (fx - np.mean(fb)), correct(s, fx, fb)[1]), "mean of the per-sample sums"),
    (lambda s, fx, fb: (correct(s, fx, fb)[0], np.std(s, ddof=1) / len(s)), r"sqrt\(n\), not by n"),
    (lambda s, fx, fb: (correct(s, fx, fb)[0], np.std(s) / np.sqrt(len(s))), r"ddof=1"),
    (lambda s, fx, fb: (correct(s, fx, fb)[0], np.std(s, ddof=1)), "spread of one sample"),
    (lambda s, fx, fb: correct(s, fx, fb)[0], "return two numbers"),
])
def test_fails_with_a_hint_on_typical_mistakes(wrong, hint):
    with pytest.raises(ExerciseFailed, match=f"^Exercise 2: .*{hint}"):
        check_sampled_additivity(wrong, SUMS, F_X, F_BACKGROUND, exercise=2)


def test_an_unsolved_exercise_is_reported_as_not_done():
    def stub(sums, f_x, f_background):
        raise NotImplementedError("Exercise 2: write sampled_additivity")

    with pytest.raises(ExerciseFailed, match="^Exercise 2 is not done yet"):
        check_sampled_additivity(stub, SUMS, F_X, F_BACKGROUND, exercise=2)
