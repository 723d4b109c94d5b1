"""The exercise check of notebook 02: left-Riemann IG by hand."""

import pytest
import torch

from helpers.attribution import integrated_gradients, vanilla_gradient
from helpers.checks import ExerciseFailed, check_left_riemann_ig

GRAY = 0.3


def reference(model, x, target, baseline, n_steps):
    return integrated_gradients(model, x, target, baseline, n_steps, "riemann_left")


def by_hand(points, factor=True, weight=None, sign=1.0, black=False):
    """A hand-written IG with one of the typical slips."""
    def ig(model, x, target, baseline, n_steps):
        b = torch.zeros_like(x) if black else baseline
        alphas = {"left": torch.arange(n_steps) / n_steps, "right": torch.arange(1, n_steps + 1) / n_steps}[points]
        total = sum(vanilla_gradient(model, b + a * (x - b), target) for a in alphas)
        total = total * (weight if weight is not None else 1 / n_steps)
        return sign * ((x - b) * total if factor else total)
    return ig


def run(fn, model, x):
    check_left_riemann_ig(fn, model, x, 1, baseline=torch.full_like(x, GRAY), n_steps=6, exercise=1)


def test_passes_on_a_correct_answer(tiny_model, tiny_input, capsys):
    run(reference, tiny_model, tiny_input)
    run(by_hand("left"), tiny_model, tiny_input)
    out = capsys.readouterr().out
    assert out.startswith("Exercise 1 passed: ") and out.count("\n") == 2


@pytest.mark.parametrize("wrong, hint", [
    (by_hand("right"), "RIGHT Riemann"),
    (by_hand("left", factor=False), "without the factor (x - x')"),
    (by_hand("left", weight=1.0), "6 times too large"),
    (by_hand("left", sign=-1.0), "opposite sign"),
    (by_hand("left", black=True), "BLACK baseline"),
    (lambda model, x, target, baseline, n: reference(model, x, target, baseline, n) + 0.1, "differ from the left"),
])
def test_fails_with_a_hint_on_typical_slips(tiny_model, tiny_input, wrong, hint):
    with pytest.raises(ExerciseFailed, match=r"^Exercise 1") as error:
        run(wrong, tiny_model, tiny_input)
    assert hint in str(error.value)


def test_not_done_and_wrong_shape(tiny_model, tiny_input):
    def stub(model, x, target, baseline, n_steps):
        raise NotImplementedError("Exercise 1: write IG with the left Riemann rule")
    with pytest.raises(ExerciseFailed, match="Exercise 1 is not done yet"):
        run(stub, tiny_model, tiny_input)
    with pytest.raises(ExerciseFailed, match="shape"):
        run(lambda model, x, target, baseline, n: reference(model, x, target, baseline, n).sum(1), tiny_model, tiny_input)


def test_an_answer_that_changes_its_inputs_in_place_cannot_corrupt_the_reference(tiny_model, tiny_input):
    """The check runs the student's function on copies: an in-place slip after the answer is harmless."""
    baseline = torch.full_like(tiny_input, 0.25)

    def careless_but_right(model, x, target, baseline, n_steps):
        answer = integrated_gradients(model, x, target, baseline, n_steps, method="riemann_left")
        x.add_(1.0)  # e.g. a normalisation done in place afterwards
        baseline.zero_()
        return answer

    check_left_riemann_ig(careless_but_right, tiny_model, tiny_input, 1, baseline=baseline, exercise=1)
