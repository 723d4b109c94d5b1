"""The exercise checks of notebook 08 pass on right answers and give hints on typical wrong ones."""

import pytest
import torch
from torch import nn

import numpy as np

from helpers.checks import (
    ExerciseFailed, check_class_prediction, check_gradcam_by_hand, check_gradcam_plus_plus,
    check_guided_backprop_closed_form, class_change_correlations,
)


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


def channel_mean_gradcam(model, layer, x, target):
    """The planted bug of exercise 1: one weight per position (mean over channels) instead of per channel."""
    recorded = {}
    handle = layer.register_forward_hook(lambda m, i, o: recorded.update(A=o))
    score = model(x.detach().requires_grad_(True))[0, target]
    (grads,) = torch.autograd.grad(score, recorded["A"])
    handle.remove()
    return torch.relu((grads.mean(dim=1, keepdim=True) * recorded["A"]).sum(dim=1, keepdim=True)).detach()


def test_gradcam_check_names_the_planted_bug(setup):
    with pytest.raises(ExerciseFailed, match="every \\*position\\* has its own weight"):
        check_gradcam_by_hand(channel_mean_gradcam, *setup, exercise=1)


def gradcam_pp(model, layer, x, target, *, positive=True, alpha=True):
    recorded = {}
    handle = layer.register_forward_hook(lambda m, i, o: recorded.update(A=o))
    score = model(x.detach().requires_grad_(True))[0, target]
    (g,) = torch.autograd.grad(score, recorded["A"])
    handle.remove()
    A = recorded["A"].detach()
    if alpha:
        a = g ** 2 / (2 * g ** 2 + A.sum(dim=(2, 3), keepdim=True) * g ** 3 + 1e-6)
    else:
        a = torch.ones_like(g)
    weights = (a * (torch.relu(g) if positive else g)).sum(dim=(2, 3), keepdim=True)
    return torch.relu((weights * A).sum(dim=1, keepdim=True))


def test_gradcam_plus_plus_check_passes(setup, capsys):
    check_gradcam_plus_plus(gradcam_pp, *setup, exercise=2)
    assert capsys.readouterr().out.startswith("Exercise 2 passed")


def test_gradcam_plus_plus_reference_is_the_library():
    """The reference agrees with pytorch-grad-cam's own pipeline (after its min-max scaling), on a net and class
    where the map is not constant."""
    from pytorch_grad_cam import GradCAMPlusPlus
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = small_cnn()
    torch.manual_seed(1)
    x = torch.rand(1, 3, 12, 12)
    for target in range(5):
        ours = check_reference(model, x, target)
        if float(ours.max() - ours.min()) > 0:
            break
    with GradCAMPlusPlus(model, target_layers=[model[2]]) as cam:
        library = cam(x, targets=[ClassifierOutputTarget(target)])[0]  # (12, 12), upsampled and scaled to [0, 1]
    up = nn.functional.interpolate(ours, size=(12, 12), mode="bilinear", align_corners=False)[0, 0]
    up = (up - up.min()) / (up.max() - up.min())
    assert np.corrcoef(up.flatten().numpy(), library.flatten())[0, 1] > 0.99


def check_reference(model, x, target):
    from helpers.checks import reference_gradcam_plus_plus
    return reference_gradcam_plus_plus(model, model[2], x, target)


@pytest.mark.parametrize("wrong, hint", [
    (gradcam, "Grad-CAM's"),  # the starting point, unchanged
    (lambda *a: gradcam_pp(*a, positive=False), "negative gradients"),
    (lambda *a: gradcam_pp(*a, alpha=False), "Check alpha"),
])
def test_gradcam_plus_plus_check_hints(setup, wrong, hint):
    with pytest.raises(ExerciseFailed, match=hint) as info:
        check_gradcam_plus_plus(wrong, *setup, exercise=2)
    assert str(info.value).startswith("Exercise 2")


def test_gradcam_plus_plus_check_not_done(setup):
    def stub(*args):
        raise NotImplementedError("Exercise 2: write gradcam_plus_plus")
    with pytest.raises(ExerciseFailed, match="Exercise 2 is not done yet"):
        check_gradcam_plus_plus(stub, *setup, exercise=2)


@pytest.fixture
def class_setup():
    model = small_cnn()
    torch.manual_seed(2)
    x = torch.rand(1, 3, 12, 12)
    measured = class_change_correlations(model, x, 0, 4)
    return model, x, measured


def test_class_prediction_passes_the_measured_outcome(class_setup, capsys):
    model, x, measured = class_setup
    right = max(measured, key=measured.get)
    check_class_prediction(right, model, x, 0, 4, exercise=3)
    out = capsys.readouterr().out
    assert out.startswith("Exercise 3 passed") and "rank correlation" in out


def test_class_prediction_fails_the_other_answer_with_numbers(class_setup):
    model, x, measured = class_setup
    wrong = min(measured, key=measured.get)
    with pytest.raises(ExerciseFailed, match="rank correlation"):
        check_class_prediction(wrong, model, x, 0, 4, exercise=3)


@pytest.mark.parametrize("answer, hint", [(None, "not done yet"), ("both", "must be 'gradient' or"),
                                          (True, "must be 'gradient' or")])
def test_class_prediction_rejects_other_values(class_setup, answer, hint):
    model, x, _ = class_setup
    with pytest.raises(ExerciseFailed, match=hint):
        check_class_prediction(answer, model, x, 0, 4, exercise=3)
