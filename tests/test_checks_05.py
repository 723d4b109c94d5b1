"""The checks of notebook 05's exercises pass on right answers and fail, with their hint, on typical wrong ones."""

import pytest
import torch

from helpers.checks import (ExerciseFailed, check_pixel_expected_gradients, check_seed_agreement_prediction,
                            reference_expected_gradients)

LAYERS = {"shallow": "layer2", "deep": "layer4"}
RHO = {"layer2": 0.8, "layer4": 0.97}


def test_prediction_passes_and_explains(capsys):
    check_seed_agreement_prediction("deep", RHO.get, LAYERS, 64, exercise=1)
    out = capsys.readouterr().out
    assert out.startswith("Exercise 1 passed: prediction 'deep' is right") and "ρ = 0.97" in out


@pytest.mark.parametrize("wrong, hint", [
    ("shallow", "the experiment says 'deep'"),
    ("layer4", "'shallow' or 'deep'"),
    (None, "not done yet"),
])
def test_prediction_fails_with_its_hint(wrong, hint):
    with pytest.raises(ExerciseFailed, match=r"^Exercise 1") as error:
        check_seed_agreement_prediction(wrong, RHO.get, LAYERS, 64, exercise=1)
    assert hint in str(error.value)


def test_prediction_follows_the_experiment():
    """If the shallow layer agreed more, 'shallow' passes and 'deep' fails."""
    check_seed_agreement_prediction("shallow", {"layer2": 0.9, "layer4": 0.5}.get, LAYERS, 8, exercise=1)
    with pytest.raises(ExerciseFailed, match="the experiment says 'shallow'"):
        check_seed_agreement_prediction("deep", {"layer2": 0.9, "layer4": 0.5}.get, LAYERS, 8, exercise=1)


class Quadratic(torch.nn.Module):
    """Class 0: the sum of squared pixels (its gradient changes along every path); class 1: their sum."""

    def forward(self, x):
        return torch.stack([(x ** 2).flatten(1).sum(1), x.flatten(1).sum(1)], dim=1)


@pytest.fixture
def setting():
    torch.manual_seed(1)
    return Quadratic(), torch.rand(1, 3, 8, 8), torch.rand(6, 3, 8, 8), 0


def planted(model, x, background, target, picks, alphas):
    """The exercise's planted bug: the path starts at black, not at the baseline."""
    baselines = background[picks]
    alphas = alphas.view(-1, 1, 1, 1)
    points = (alphas * x).requires_grad_(True)
    (gradients,) = torch.autograd.grad(model(points)[:, target].sum(), points)
    return (x - baselines) * gradients


def no_difference(model, x, background, target, picks, alphas):
    """Gradient times input: the (x - x') factor forgotten."""
    baselines = background[picks]
    points = (baselines + alphas.view(-1, 1, 1, 1) * (x - baselines)).requires_grad_(True)
    (gradients,) = torch.autograd.grad(model(points)[:, target].sum(), points)
    return x * gradients


def test_expected_gradients_passes(setting, capsys):
    check_pixel_expected_gradients(reference_expected_gradients, *setting, exercise=2, n=64)
    assert "they add up" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (planted, "do not add up"),
    (no_difference, "do not add up"),
    (lambda *args: reference_expected_gradients(*args).mean(0), "one attribution per sample"),
    (lambda *args: reference_expected_gradients(*args).numpy(), "return a tensor"),
])
def test_expected_gradients_fails_with_its_hint(setting, wrong, hint):
    with pytest.raises(ExerciseFailed, match=r"^Exercise 2") as error:
        check_pixel_expected_gradients(wrong, *setting, exercise=2, n=64)
    assert hint in str(error.value)


def test_expected_gradients_other_draws(setting):
    """Right on average, wrong draw for draw (the alphas reversed: the path walked from x to x')."""
    def reversed_path(model, x, background, target, picks, alphas):
        return reference_expected_gradients(model, x, background, target, picks, 1 - alphas)

    with pytest.raises(ExerciseFailed, match="draw for draw"):
        check_pixel_expected_gradients(reversed_path, *setting, exercise=2, n=64)
