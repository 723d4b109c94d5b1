"""The exercise checks of notebook 09 pass on right answers and give hints on typical wrong ones."""

import pytest
import torch

from helpers import vit
from helpers.checks import ExerciseFailed, check_fusion_prediction, check_max_rollout


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
