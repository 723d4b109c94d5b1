"""The exercise checks of notebook 08 pass on right answers and give hints on typical wrong ones."""

import pytest
import torch
from torch import nn

from helpers.checks import ExerciseFailed, check_gradcam_by_hand, check_guided_backprop_closed_form


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 8, 3, stride=2, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)).eval()


def gradcam(model, layer, x, target, *, relu=True, reduce="mean", upsample=False):
    recorded = {}
    handle = layer.register_forward_hook(lambda m, i, o: recorded.update(A=o))
    score = model(x.detach().requires_grad_(True))[0, target]
    (grads,) = torch.autograd.grad(score, recorded["A"])
    handle.remove()
    weights = grads.mean(dim=(2, 3), keepdim=True) if reduce == "mean" else grads.sum(dim=(2, 3), keepdim=True)
    cam = (weights * recorded["A"]).sum(dim=1, keepdim=True)
    cam = torch.relu(cam) if relu else cam
    return nn.functional.interpolate(cam, size=x.shape[-2:]) if upsample else cam.detach()


def closed_form(W1, W2, x, c):
    return W1.T @ ((W1 @ x > 0).float() * W2[c].clamp(min=0))


@pytest.fixture
def setup():
    model = small_cnn()
    torch.manual_seed(1)
    x = torch.rand(1, 3, 12, 12)
    # a target whose Grad-CAM has both signs before the ReLU, so every wrong answer is visible
    target = next(t for t in range(5) if gradcam(model, model[2], x, t, relu=False).min() < 0
                  < gradcam(model, model[2], x, t, relu=False).max())
    return model, model[2], x, target


def test_gradcam_check_passes(setup, capsys):
    model, layer, x, target = setup
    check_gradcam_by_hand(gradcam, model, layer, x, target, exercise=1)
    assert capsys.readouterr().out.startswith("Exercise 1 passed")


@pytest.mark.parametrize("wrong, hint", [
    (dict(relu=False), "negative values"),
    (dict(reduce="sum"), "times 36"),
    (dict(upsample=True), "do not upsample"),
])
def test_gradcam_check_hints(setup, wrong, hint):
    model, layer, x, target = setup
    with pytest.raises(ExerciseFailed, match=hint) as info:
        check_gradcam_by_hand(lambda *a: gradcam(*a, **wrong), model, layer, x, target, exercise=1)
    assert str(info.value).startswith("Exercise 1")


def test_gradcam_check_not_done(setup):
    def stub(*args):
        raise NotImplementedError("Exercise 1: write gradcam_by_hand")
    with pytest.raises(ExerciseFailed, match="Exercise 1 is not done yet"):
        check_gradcam_by_hand(stub, *setup, exercise=1)


def test_guided_backprop_check_passes(capsys):
    check_guided_backprop_closed_form(closed_form, exercise=2)
    assert capsys.readouterr().out.startswith("Exercise 2 passed")


@pytest.mark.parametrize("wrong, hint", [
    (lambda W1, W2, x, c: W1.T @ ((W1 @ x > 0).float() * W2[c]), "plain gradient"),
    (lambda W1, W2, x, c: W1.T @ W2[c].clamp(min=0), "units that are off"),
    (lambda W1, W2, x, c: -closed_form(W1, W2, x, c), "opposite sign"),
    (lambda W1, W2, x, c: (W1 @ x > 0).float() * W2[c].clamp(min=0), "x's length"),
])
def test_guided_backprop_check_hints(wrong, hint):
    with pytest.raises(ExerciseFailed, match=hint) as info:
        check_guided_backprop_closed_form(wrong, exercise=2)
    assert str(info.value).startswith("Exercise 2")
