"""Notebook 01's exercise checks (generic checks of helpers.checks) catch the typical wrong answers."""

import pytest
import torch
from captum.attr import Saliency

from helpers.checks import check_completeness, check_function_matches
from helpers.models import cifar_cnn

GRAY = 0.5


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = cifar_cnn(10).eval()
    with torch.no_grad():  # an untrained net barely changes its scores; make them vary as a trained one's do
        model[1].fc3.weight.mul_(100)
    images = torch.rand(3, 3, 32, 32)
    images[:, :, :8] = 0  # a black band, as on Fashion-MNIST's background
    targets = model(images).argmax(dim=1)
    return model, images, targets


def ig(model, images, targets, n_steps, baseline):
    total = torch.zeros_like(images)
    for alpha in (torch.arange(n_steps) + 0.5) / n_steps:
        path = (baseline + alpha * (images - baseline)).requires_grad_(True)
        total += torch.autograd.grad(model(path).gather(1, targets.view(-1, 1)).sum(), path)[0]
    return (images - baseline) * total / n_steps


def saliency(model, images, targets, absolute=True):
    images = images.detach().clone().requires_grad_(True)
    grad = torch.autograd.grad(model(images).gather(1, targets.view(-1, 1)).sum(), images)[0]
    return grad.abs() if absolute else grad


def test_ig_from_gray_passes(setup, capsys):
    model, images, targets = setup
    check_completeness(lambda: ig(model, images, targets, 64, torch.full_like(images, GRAY)), model, images,
                       targets, baseline=GRAY, exercise=1)
    assert capsys.readouterr().out.startswith("Exercise 1 passed: completeness holds")


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, x, t: ig(m, x, t, 64, torch.zeros_like(x)), "forget to pass the baseline"),
    (lambda m, x, t: -ig(m, x, t, 64, torch.full_like(x, GRAY)), "sign is flipped"),
    (lambda m, x, t: ig(m, x, t, 64, torch.full_like(x, GRAY)) / 64, "F(x) - F(x')"),
])
def test_ig_from_gray_wrong(setup, wrong, hint):
    model, images, targets = setup
    with pytest.raises(AssertionError, match=r"^Exercise 1") as error:
        check_completeness(lambda: wrong(model, images, targets), model, images, targets, baseline=GRAY, exercise=1)
    assert hint in str(error.value)


def captum_saliency(model, images, targets):
    return Saliency(model).attribute(images, target=targets)


def test_saliency_passes(setup, capsys):
    model, images, targets = setup
    check_function_matches(saliency, captum_saliency, model, images, targets, exercise=2, what="your saliency maps")
    assert capsys.readouterr().out.startswith("Exercise 2 passed")


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, x, t: saliency(m, x, t, absolute=False), "absolute value"),
    (lambda m, x, t: saliency(m, x, t) * 2, "times 2"),
    (lambda m, x, t: saliency(m, x, torch.zeros_like(t)), "off by"),
])
def test_saliency_wrong(setup, wrong, hint):
    model, images, targets = setup
    with pytest.raises(AssertionError, match=r"^Exercise 2") as error:
        check_function_matches(wrong, captum_saliency, model, images, targets, exercise=2, what="your saliency maps")
    assert hint in str(error.value)
