"""The exercise checks of notebook 02: the IG to debug, the gradient x input prediction, Expected Gradients."""

import pytest
import torch
from torch import nn

from helpers.attribution import integrated_gradients, vanilla_gradient
from helpers.checks import (ExerciseFailed, check_expected_gradients, check_gradient_times_input_prediction,
                            check_ig_by_hand)
from helpers.checks.nb02 import GRADIENT_INPUT_CHOICES, gradient_times_input_share


# ------------------------------------------------------------------ Exercise 1 (debug): IG by hand

def ig_by_hand(factor=True, points="left", weight="mean", sign=1.0):
    """The notebook's batched left-Riemann IG, fixed (defaults) or with one of the typical slips."""
    def ig(model, x, target, baseline, n_steps):
        start = 0 if points == "left" else 1
        alphas = torch.arange(start, start + n_steps, dtype=x.dtype) / n_steps
        path = baseline + alphas.view(-1, 1, 1, 1) * (x - baseline)
        grads = vanilla_gradient(model, path, torch.full((n_steps,), target))
        average = grads.mean(dim=0, keepdim=True) if weight == "mean" else grads.sum(dim=0, keepdim=True)
        return sign * ((x - baseline) * average if factor else average)
    return ig


def run_debug(fn, model, x):
    check_ig_by_hand(fn, model, x, 1, n_steps=6, exercise=1)


def test_debug_passes_on_the_fixed_code_and_the_reference(tiny_model, tiny_input, capsys):
    run_debug(ig_by_hand(), tiny_model, tiny_input)
    run_debug(lambda m, x, t, b, n: integrated_gradients(m, x, t, b, n, "riemann_left"), tiny_model, tiny_input)
    out = capsys.readouterr().out
    assert out.startswith("Exercise 1 passed: ") and out.count("\n") == 2


@pytest.mark.parametrize("wrong, symptom", [
    (ig_by_hand(factor=False), "cannot have changed the output"),  # the planted bug: no (x - x') factor
    (ig_by_hand(weight="sum"), "6 times too large"),
    (ig_by_hand(points="right"), "skip the one at the baseline"),
    (ig_by_hand(sign=-1.0), "wrong sign"),
    (lambda m, x, t, b, n: ig_by_hand()(m, x, t, b, n) * 1.5, "differ from the left Riemann sum"),
])
def test_debug_fails_with_the_symptom(tiny_model, tiny_input, wrong, symptom):
    with pytest.raises(ExerciseFailed, match=r"^Exercise 1: ") as error:
        run_debug(wrong, tiny_model, tiny_input)
    assert symptom in str(error.value)
    assert "F(x) - F(x') =" in str(error.value)


def test_debug_not_done_wrong_shape_and_inputs_changed_in_place(tiny_model, tiny_input):
    def stub(model, x, target, baseline, n_steps):
        raise NotImplementedError("Exercise 1: find and fix the bug")
    with pytest.raises(ExerciseFailed, match="Exercise 1 is not done yet"):
        run_debug(stub, tiny_model, tiny_input)
    with pytest.raises(ExerciseFailed, match="shape"):
        run_debug(lambda m, x, t, b, n: ig_by_hand()(m, x, t, b, n).sum(1), tiny_model, tiny_input)

    def careless_but_right(model, x, target, baseline, n_steps):
        answer = ig_by_hand()(model, x, target, baseline, n_steps)
        x.add_(1.0)
        baseline.zero_()
        return answer
    run_debug(careless_but_right, tiny_model, tiny_input)


# ------------------------------------------------------------------ Exercise 2 (predict): gradient x input

class Sigmoid(nn.Module):
    """Two probabilities, sigmoid(+-s) with s = scale * mean(x): saturated at the image for a large scale."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        s = self.scale * (x.flatten(1).mean(dim=1, keepdim=True) - 0.0)
        return torch.cat([torch.sigmoid(s), torch.sigmoid(-s)], dim=1)


@pytest.mark.parametrize("scale, expected", [(40.0, GRADIENT_INPUT_CHOICES[0]), (0.2, GRADIENT_INPUT_CHOICES[1])])
def test_predict_passes_the_measured_outcome_and_fails_the_others(tiny_input, capsys, scale, expected):
    model = Sigmoid(scale).eval()
    share = gradient_times_input_share(model, tiny_input, 0)
    assert (share < 1 / 3) == (expected == GRADIENT_INPUT_CHOICES[0])
    check_gradient_times_input_prediction(expected, model, tiny_input, 0, exercise=2)
    assert capsys.readouterr().out.startswith(f"Exercise 2 passed: you predicted '{expected}'")
    for wrong in GRADIENT_INPUT_CHOICES:
        if wrong != expected:
            with pytest.raises(ExerciseFailed, match=r"^Exercise 2: you predicted .* but the gradient x input map "
                                                     r"adds up to .*% of F\(x\) - F\(black\)") as error:
                check_gradient_times_input_prediction(wrong, model, tiny_input, 0, exercise=2)
            assert "IG with a single point, at alpha = 1" in str(error.value)


def test_predict_not_done_and_not_a_choice(tiny_input):
    model = Sigmoid(40.0).eval()
    with pytest.raises(ExerciseFailed, match="Exercise 2 is not done yet"):
        check_gradient_times_input_prediction(None, model, tiny_input, 0, exercise=2)
    with pytest.raises(ExerciseFailed, match="prediction must be one of"):
        check_gradient_times_input_prediction(0.02, model, tiny_input, 0, exercise=2)


# ------------------------------------------------------------------ Exercise 3 (extend): Expected Gradients

def midpoint_gradients(model, x, target, reference, n_steps):
    alphas = (torch.arange(n_steps, dtype=x.dtype) + 0.5) / n_steps
    path = reference + alphas.view(-1, 1, 1, 1) * (x - reference)
    return vanilla_gradient(model, path, torch.full((n_steps,), target)).mean(dim=0, keepdim=True)


def expected_gradients(model, x, target, references, n_steps):
    return torch.stack([(x - b) * midpoint_gradients(model, x, target, b, n_steps) for b in references.split(1)]).mean(0)


def averaged_reference_first(model, x, target, references, n_steps):
    b = references.mean(dim=0, keepdim=True)
    return (x - b) * midpoint_gradients(model, x, target, b, n_steps)


def factor_outside(model, x, target, references, n_steps):
    grads = torch.stack([midpoint_gradients(model, x, target, b, n_steps) for b in references.split(1)]).mean(0)
    return (x - references.mean(dim=0, keepdim=True)) * grads


def summed(model, x, target, references, n_steps):
    return len(references) * expected_gradients(model, x, target, references, n_steps)


def first_only(model, x, target, references, n_steps):
    return expected_gradients(model, x, target, references[:1], n_steps)


@pytest.fixture
def references(tiny_input):
    generator = torch.Generator().manual_seed(3)
    return torch.cat([torch.zeros_like(tiny_input), torch.rand(tiny_input.shape, generator=generator),
                      torch.full_like(tiny_input, 0.8)])


def run_extend(fn, model, x, references):
    check_expected_gradients(fn, model, x, 2, references=references, n_steps=5, exercise=3)


def test_extend_passes_on_expected_gradients(tiny_model, tiny_input, references, capsys):
    run_extend(expected_gradients, tiny_model, tiny_input, references)
    out = capsys.readouterr().out
    assert out.startswith("Exercise 3 passed: your Expected Gradients over 3 references") and "points per path" in out


@pytest.mark.parametrize("wrong, symptom", [
    (averaged_reference_first, "ONE path, from the average of the references"),
    (factor_outside, "how far the pixels moved from THAT reference"),
    (summed, "3 times too large"),
    (first_only, "first reference only"),
    (lambda *args: expected_gradients(*args) * 1.5, "differ from Expected Gradients"),
])
def test_extend_fails_with_the_symptom(tiny_model, tiny_input, references, wrong, symptom):
    with pytest.raises(ExerciseFailed, match=r"^Exercise 3: ") as error:
        run_extend(wrong, tiny_model, tiny_input, references)
    assert symptom in str(error.value) and "mean_j F(b_j)" in str(error.value)


def test_extend_not_done_and_bad_references(tiny_model, tiny_input, references):
    def stub(model, x, target, references, n_steps):
        raise NotImplementedError("Exercise 3: write Expected Gradients")
    with pytest.raises(ExerciseFailed, match="Exercise 3 is not done yet"):
        run_extend(stub, tiny_model, tiny_input, references)
    with pytest.raises(ValueError, match="references must be a batch"):
        run_extend(expected_gradients, tiny_model, tiny_input, references[0])
