"""The exercise checks of notebook 09 pass on right answers and give hints on typical wrong ones."""

import pytest
import torch

from helpers import vit
from helpers.checks import ExerciseFailed, check_fusion_prediction, check_max_rollout, check_token_gradcam


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = vit.tiny_vit(num_classes=4, num_layers=2, hidden_dim=32, mlp_dim=32).eval()
    torch.nn.init.normal_(vit.find_vit(model).heads.head.weight, std=0.5)
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    return model, images, torch.tensor([0, 3]), vit.vit_cascade_groups(model)


def test_fusion_prediction_passes_when_it_matches_the_experiment(setup, capsys):
    check_fusion_prediction("neither", *setup, exercise=1)
    out = capsys.readouterr().out
    assert out.startswith("Exercise 1 passed") and "rank correlation 1.000" in out and "not one attention" in out


@pytest.mark.parametrize("wrong, hint", [
    ("min", "you predicted 'min', the experiment says 'neither'.*not one attention weight"),
    ("both", "you predicted 'both'"),
    ("sometimes", "must be one of 'mean', 'min', 'both', 'neither'"),
    (None, "not done yet: prediction is still None"),
])
def test_fusion_prediction_explains_a_wrong_answer(setup, wrong, hint):
    with pytest.raises(ExerciseFailed, match=hint) as info:
        check_fusion_prediction(wrong, *setup, exercise=1)
    assert str(info.value).startswith("Exercise 1")


def max_rollout(attentions, *, fusion="max", residual=True, normalise=True, reverse=False):
    t = attentions[0].shape[-1]
    identity = torch.eye(t).expand(attentions[0].shape[0], t, t)
    rollout = identity
    for attention in attentions:
        fused = attention.max(dim=1).values if fusion == "max" else attention.mean(dim=1)
        mixed = (fused + identity) / 2 if residual else fused
        mixed = mixed / mixed.sum(-1, keepdim=True) if normalise else mixed
        rollout = rollout @ mixed if reverse else mixed @ rollout
    return rollout


@pytest.fixture(scope="module")
def attentions(setup):
    model, images, _, _ = setup
    return vit.attention_and_gradients(model, images[:1])[0]


def test_max_rollout_check_passes(attentions, capsys):
    check_max_rollout(max_rollout, attentions, exercise=2)
    assert capsys.readouterr().out.startswith("Exercise 2 passed: max-fusion rollout is right")


@pytest.mark.parametrize("wrong, hint", [
    (dict(fusion="mean"), "equals mean-fusion rollout"),
    (dict(residual=False), "residual connection is missing"),
    (dict(normalise=False), "rows do not sum to 1"),
    (dict(reverse=True), "wrong order"),
])
def test_max_rollout_check_hints(attentions, wrong, hint):
    with pytest.raises(ExerciseFailed, match=hint) as info:
        check_max_rollout(lambda a: max_rollout(a, **wrong), attentions, exercise=2)
    assert str(info.value).startswith("Exercise 2")


def test_max_rollout_check_names_a_wrong_shape_and_an_unfinished_stub(attentions):
    with pytest.raises(ExerciseFailed, match="expected shape"):
        check_max_rollout(lambda a: max_rollout(a)[:, 0], attentions, exercise=2)

    def stub(attentions):
        raise NotImplementedError("Exercise 2: write rollout with max head fusion")

    with pytest.raises(ExerciseFailed, match="not done yet"):
        check_max_rollout(stub, attentions, exercise=2)


def token_gradcam(activations, gradients, *, bug=None):
    """Grad-CAM on the token grid, right by default; ``bug`` plants one typical mistake."""
    n, tokens, d = activations.shape
    side = int(round((tokens - 1) ** 0.5))

    def fold(values):
        patches = values[:, : side * side] if bug == "class token kept" else values[:, 1:]
        if bug == "no permute":
            return patches.reshape(n, d, side, side)
        order = (0, 3, 2, 1) if bug == "transposed" else (0, 3, 1, 2)
        return patches.reshape(n, side, side, d).permute(*order)

    weights = fold(gradients).mean(dim=(2, 3), keepdim=True)
    if bug == "channel mean":
        weights = fold(gradients).mean(dim=1, keepdim=True)
    summed = (weights * fold(activations)).sum(dim=1)
    return summed if bug == "no relu" else torch.relu(summed)


@pytest.fixture(scope="module")
def gradcam_setup(setup):
    model, images, targets, _ = setup
    return model, images, targets, vit.gradcam_layer(model)


def test_token_gradcam_check_passes(gradcam_setup, capsys):
    check_token_gradcam(token_gradcam, *gradcam_setup, exercise=3)
    assert capsys.readouterr().out.startswith("Exercise 3 passed: token Grad-CAM is right")


@pytest.mark.parametrize("bug, hint", [
    ("class token kept", "top-left square holds the class token's value.*shifted by one"),  # the planted bug
    ("transposed", "transposed"),
    ("no permute", "scrambled"),
    ("no relu", "positive part"),
    ("channel mean", "mean of its gradient over the patch tokens"),
])
def test_token_gradcam_check_hints(gradcam_setup, bug, hint):
    with pytest.raises(ExerciseFailed, match=hint) as info:
        check_token_gradcam(lambda a, g: token_gradcam(a, g, bug=bug), *gradcam_setup, exercise=3)
    assert str(info.value).startswith("Exercise 3")


def test_token_gradcam_check_not_done(gradcam_setup):
    def stub(activations, gradients):
        raise NotImplementedError("Exercise 3: fix token_gradcam")

    with pytest.raises(ExerciseFailed, match="Exercise 3 is not done yet"):
        check_token_gradcam(stub, *gradcam_setup, exercise=3)
