"""The exercise checks of notebook 10 pass on right answers and give hints on typical wrong ones."""

import pytest
import torch
from torch import nn

from helpers.checks import (ExerciseFailed, check_fourier_alone_prediction, check_laplacian_penalty,
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
