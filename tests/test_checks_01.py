"""Notebook 01's exercise checks pass the right answers and name the typical slips of wrong ones."""

import pytest
import torch
from captum.attr import IntegratedGradients

from helpers.checks import check_completeness_prediction, check_ig_debugged, check_why_not
from helpers.models import cifar_cnn


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The by-hand loops run many tiny passes: one thread is faster than two fighting over a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = cifar_cnn(10).eval()
    with torch.no_grad():  # an untrained net barely changes its scores; make them vary as a trained one's do
        model[1].fc3.weight.mul_(100)
    images = torch.rand(4, 3, 32, 32)
    images[:, :, :8] = 0  # a black band, as on Fashion-MNIST's background
    predictions = model(images).argmax(dim=1)
    labels = predictions.clone()
    labels[2:] = (predictions[2:] + 1) % 10  # the last two images are "misclassified"
    return model, images, predictions, labels


def ig_by_hand(model, images, targets, baseline, n_steps, slip=None):
    """The exercise's function, right or with one of the slips of the tests."""
    total = torch.zeros_like(images)
    for alpha in (torch.arange(n_steps) + 0.5) / n_steps:
        path = (baseline + alpha * (images - baseline)).requires_grad_(True)
        scores = model(path)
        score = scores.max(dim=1).values.sum() if slip == "top class" else scores.gather(1, targets[:, None]).sum()
        total += torch.autograd.grad(score, path)[0]
    if slip == "no factor":
        return total / n_steps
    if slip == "flipped":
        return (baseline - images) * total / n_steps
    return (images - baseline) * total / n_steps


# --------------------------------------------------------------------------- Exercise 1 (predict)

def test_completeness_prediction_right(setup, capsys):
    model, images, predictions, _ = setup
    check_completeness_prediction("deeplift", model, images, predictions, n_steps=50, exercise=1)
    out = capsys.readouterr().out
    assert out.startswith("Exercise 1 passed: you predicted 'DeepLift'") and "by construction" in out


@pytest.mark.parametrize("wrong, hint", [
    ("IG", "the experiment says 'DeepLift'"),
    ("equal", "by construction"),
    ("Saliency", "prediction must be one of"),
    (None, "not done yet"),
])
def test_completeness_prediction_wrong(setup, wrong, hint):
    model, images, predictions, _ = setup
    with pytest.raises(AssertionError, match=r"^Exercise 1") as error:
        check_completeness_prediction(wrong, model, images, predictions, n_steps=50, exercise=1)
    assert hint in str(error.value)


# --------------------------------------------------------------------------- Exercise 2 (debug)

def test_ig_debugged_right(setup, capsys):
    model, images, predictions, labels = setup
    check_ig_debugged(ig_by_hand, model, images, labels, predictions, exercise=2)
    assert capsys.readouterr().out.startswith("Exercise 2 passed: your IG adds up")


@pytest.mark.parametrize("slip, hint", [
    ("top class", "the very same maps"),  # the planted bug
    ("no factor", "Every image misses"),
    ("flipped", "opposite sign"),
])
def test_ig_debugged_wrong(setup, slip, hint):
    model, images, predictions, labels = setup
    with pytest.raises(AssertionError, match=r"^Exercise 2") as error:
        check_ig_debugged(lambda *args: ig_by_hand(*args, slip=slip), model, images, labels, predictions, exercise=2)
    assert hint in str(error.value)


# --------------------------------------------------------------------------- Exercise 3 (extend)

def why_not(model, images, predicted, true, baseline, n_steps=512):
    def margin(z, predicted, true):
        scores = model(z)
        return scores.gather(1, predicted[:, None]) - scores.gather(1, true[:, None])

    return IntegratedGradients(margin).attribute(images, baselines=baseline, target=0, n_steps=n_steps,
                                                 additional_forward_args=(predicted, true), method="gausslegendre")


def ig(model, images, targets, baseline):
    return IntegratedGradients(model).attribute(images, baselines=baseline, target=targets, n_steps=512,
                                                method="gausslegendre")


def test_why_not_right(setup, capsys):
    model, images, predictions, labels = setup
    check_why_not(why_not, model, images[2:], predictions[2:], labels[2:], exercise=3)
    assert capsys.readouterr().out.startswith("Exercise 3 passed: your maps add up to the change of the margin")


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, x, p, t, b: ig(m, x, p, b), "predicted class's change alone"),
    (lambda m, x, p, t, b: why_not(m, x, t, p, b), "minus the margin"),
    (lambda m, x, p, t, b: -ig(m, x, t, b), "true class's change alone"),
    (lambda m, x, p, t, b: why_not(m, x, p, t, b)[:1], "images' shape"),
])
def test_why_not_wrong(setup, wrong, hint):
    model, images, predictions, labels = setup
    with pytest.raises(AssertionError, match=r"^Exercise 3") as error:
        check_why_not(wrong, model, images[2:], predictions[2:], labels[2:], exercise=3)
    assert hint in str(error.value)


def test_why_not_needs_misclassified_images(setup):
    model, images, predictions, _ = setup
    with pytest.raises(ValueError, match="misclassified"):
        check_why_not(why_not, model, images, predictions, predictions, exercise=3)
