"""The checks of notebook 03's exercises: pass on a correct answer, fail with a hint on typical mistakes."""

import pytest
import torch
from torch import nn

from helpers.attribution import integrated_gradients
from helpers.checks import check_batch_explainer, check_ranking


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Tanh(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).eval()
    return model, torch.rand(3, 3, 12, 12), torch.tensor([0, 2, 1])


def correct(model, x, targets, n_steps):
    return integrated_gradients(model, x, targets, n_steps=n_steps)


def test_batch_explainer_passes(tiny, capsys):
    check_batch_explainer(correct, *tiny, exercise=1)
    assert capsys.readouterr().out.startswith("Exercise 1 passed: explain_batch returns one map per image")
    check_batch_explainer(correct, *tiny, exercise=1, n_steps=64, tolerance=0.05)
    assert capsys.readouterr().out.startswith("Exercise 1 passed: completeness holds")


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, x, t, n: correct(m, x, t, n).sum(dim=1), "should have the batch's shape"),
    (lambda m, x, t, n: correct(m, x, t[0], n), "use each image's own target"),
    (lambda m, x, t, n: -correct(m, x, t, n), "differs from that image explained alone"),
    (lambda m, x, t, n: [correct(m, x, t, n)], "should return a torch.Tensor"),
])
def test_batch_explainer_fails_with_hints(tiny, wrong, hint):
    with pytest.raises(AssertionError, match=f"^Exercise 1: .*{hint}"):
        check_batch_explainer(wrong, *tiny, exercise=1)


def test_batch_explainer_not_done(tiny):
    def stub(model, x, targets, n_steps):
        raise NotImplementedError("Exercise 1: write explain_batch")
    with pytest.raises(AssertionError, match="Exercise 1 is not done yet"):
        check_batch_explainer(stub, *tiny, exercise=1)


def test_ranking_passes(capsys):
    check_ranking(lambda s: s[s.error.isna()].sort_values("confidence", ascending=False), exercise=2)
    assert "Exercise 2 passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda s: s.dropna().sort_values("confidence", ascending=False), "dropna\\(\\) without subset"),
    (lambda s: s[s.error.isna()].sort_values("confidence"), "descending order"),
    (lambda s: s.sort_values("confidence", ascending=False), "still contains files with an error"),
    (lambda s: s[s.error.isna()], "ordered by confidence, highest first"),
])
def test_ranking_fails_with_hints(wrong, hint):
    with pytest.raises(AssertionError, match=f"^Exercise 2: .*{hint}"):
        check_ranking(wrong, exercise=2)
