"""The exercise checks of notebook 10 pass on right answers and give hints on typical wrong ones."""

import pytest
import torch
from torch import nn

from helpers.checks import (ExerciseFailed, check_ascent_step, check_fourier_alone_prediction, check_laplacian_penalty,
                            fourier_alone_survival)


def laplacian(images):
    centre = images[..., 1:-1, 1:-1]
    neighbours = images[..., :-2, 1:-1] + images[..., 2:, 1:-1] + images[..., 1:-1, :-2] + images[..., 1:-1, 2:]
    return (4 * centre - neighbours).square().mean()


def total_variation(images):
    return ((images[..., 1:, :] - images[..., :-1, :]).abs().mean()
            + (images[..., :, 1:] - images[..., :, :-1]).abs().mean())


def test_laplacian_check_passes(capsys):
    check_laplacian_penalty(laplacian, exercise=2)
    assert capsys.readouterr().out.startswith("Exercise 2 passed")


def summed(images):
    centre = images[..., 1:-1, 1:-1]
    neighbours = images[..., :-2, 1:-1] + images[..., 2:, 1:-1] + images[..., 1:-1, :-2] + images[..., 1:-1, 2:]
    return (4 * centre - neighbours).square().sum()


@pytest.mark.parametrize("wrong, hint", [
    (total_variation, "linear ramp"),
    (lambda x: (4 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2]
                - x[..., 1:-1, 2:]).abs().mean(), "square it"),
    (summed, "take the mean"),
    (lambda x: (x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2]
                - x[..., 1:-1, 2:]).square().mean(), "constant image"),
    (lambda x: laplacian(x).detach(), "no gradient"),
    (lambda x: laplacian(x).item(), "torch.Tensor"),
    (lambda x: (4 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2]
                - x[..., 1:-1, 2:]).square().mean(dim=(1, 2, 3)), "a scalar"),
])
def test_laplacian_check_hints(wrong, hint):
    with pytest.raises(ExerciseFailed, match=hint) as info:
        check_laplacian_penalty(wrong, exercise=2)
    assert str(info.value).startswith("Exercise 2")


def test_laplacian_check_not_done():
    def stub(images):
        raise NotImplementedError("Exercise 2: write laplacian_penalty")
    with pytest.raises(ExerciseFailed, match="Exercise 2 is not done yet"):
        check_laplacian_penalty(stub, exercise=2)


def tiny_classifier():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 7 * 7, 3)).eval()


@pytest.fixture
def experiment(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    model = tiny_classifier()
    measured = fourier_alone_survival(model, 1, 16, 20)
    return model, measured["survival"] >= 0.9


def test_prediction_check_passes_on_the_measured_outcome(experiment, capsys):
    model, truth = experiment
    check_fourier_alone_prediction(truth, model, 1, size=16, steps=20, exercise=1)
    out = capsys.readouterr().out
    assert out.startswith(f"Exercise 1 passed: prediction {truth} is right") and "survival" in out


@pytest.mark.parametrize("wrong, hint", [
    ("flip", "the experiment says"),
    ("fourier", "True or False"),
    (0, "True or False"),
])
def test_prediction_check_explains_a_wrong_prediction(experiment, wrong, hint):
    model, truth = experiment
    answer = (not truth) if wrong == "flip" else wrong
    with pytest.raises(ExerciseFailed, match=hint) as info:
        check_fourier_alone_prediction(answer, model, 1, size=16, steps=20, exercise=1)
    assert str(info.value).startswith("Exercise 1") and "survival" in str(info.value) or hint == "True or False"


def test_prediction_check_not_done(experiment):
    model, _ = experiment
    with pytest.raises(ExerciseFailed, match="Exercise 1 is not done yet"):
        check_fourier_alone_prediction(None, model, 1, size=16, steps=20, exercise=1)


def ascent_step(pixels, model, objective, generator, lr=0.05, tv_weight=0.0, *, bug=None):
    """One step of activation maximisation, right by default; ``bug`` plants one typical mistake."""
    from helpers import featurevis as fv

    images = torch.sigmoid(pixels)
    seen = fv.random_transform(images, generator)
    value = fv.scores(model, objective, images if bug == "transform unused" else seen).sum()
    sign = 1 if bug == "penalty sign" else -1
    gain = value + sign * tv_weight * fv.total_variation(images)
    (gradient,) = torch.autograd.grad(gain, pixels)
    with torch.no_grad():
        direction = -1 if bug == "descent" else 1
        pixels += direction * lr * gradient / (gradient.abs().mean() + 1e-12)
    return float(value.detach())


@pytest.fixture(scope="module")
def ascent_setup():
    from helpers import featurevis as fv

    torch.manual_seed(0)  # pooled over positions, so a shifted copy scores about the same
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)).eval()
    return model, fv.class_logit(1)


def test_ascent_check_passes(ascent_setup, capsys):
    check_ascent_step(ascent_step, *ascent_setup, exercise=3, size=16, steps=12)
    assert capsys.readouterr().out.startswith("Exercise 3 passed: in 12 steps the objective rose")


@pytest.mark.parametrize("bug, hint", [
    ("penalty sign", "noisier instead of smoother"),  # the planted bug
    ("descent", "moving downhill"),
    ("transform unused", "random transform never reaches the objective"),
])
def test_ascent_check_hints(ascent_setup, bug, hint):
    with pytest.raises(ExerciseFailed, match=hint) as info:
        check_ascent_step(lambda *a, **k: ascent_step(*a, **k, bug=bug), *ascent_setup, exercise=3, size=16,
                          steps=12)
    assert str(info.value).startswith("Exercise 3")


def test_ascent_check_not_done(ascent_setup):
    def stub(pixels, model, objective, generator, lr=0.05, tv_weight=0.0):
        raise NotImplementedError("Exercise 3: fix ascent_step")

    with pytest.raises(ExerciseFailed, match="Exercise 3 is not done yet"):
        check_ascent_step(stub, *ascent_setup, exercise=3, size=16, steps=12)
