"""The checks of notebook 03's exercises: pass on a correct answer, fail with a hint on typical mistakes."""

import pytest
import torch
from torch import nn

from helpers.attribution import integrated_gradients
from helpers.checks import check_batch_explainer, check_batch_ig, check_fixed_grid_prediction, check_ranking


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


def batch_ig(model, x, n_steps=32, bug=None):
    """The notebook's solution of the debug exercise, with one of the typical bugs on request."""
    model.eval()
    with torch.no_grad():
        targets = model(x).argmax(dim=1)
    alphas = torch.linspace(0, 1, n_steps)
    weights = torch.full((n_steps,), 1 / (n_steps - 1))
    weights[[0, -1]] /= 2
    total = torch.zeros_like(x)
    for alpha, weight in zip(alphas, weights):
        path = (alpha * x).requires_grad_(True)
        scores = model(path)
        if bug == "softmax":
            scores = torch.softmax(scores, dim=1)
        selected = scores[:, targets] if bug == "planted" else scores.gather(1, targets[:, None])
        (grads,) = torch.autograd.grad(selected.sum(), path)
        total += weight * grads
    return total if bug == "no_delta" else x * total


def test_batch_ig_passes_the_fixed_code(tiny, capsys):
    model, x, _ = tiny
    check_batch_ig(batch_ig, model, x, exercise=2)
    assert capsys.readouterr().out.startswith("Exercise 2 passed: each of the 3 maps")


@pytest.mark.parametrize("bug, hint", [
    ("planted", "an image explained alone gets the right map, but in a batch of 3 it does not"),
    ("softmax", "add up to the change of the class \\*probability\\*"),
    ("no_delta", "even for an image alone"),
])
def test_batch_ig_fails_on_typical_bugs_with_their_symptom(tiny, bug, hint):
    model, x, _ = tiny
    with pytest.raises(AssertionError, match=f"^Exercise 2: .*{hint}"):
        check_batch_ig(lambda m, x, n_steps: batch_ig(m, x, n_steps, bug=bug), model, x, exercise=2)


def test_batch_ig_not_done(tiny):
    def stub(model, x, n_steps=32):
        raise NotImplementedError("Exercise 2: fix batch_ig")
    with pytest.raises(AssertionError, match="Exercise 2 is not done yet"):
        check_batch_ig(stub, *tiny[:2], exercise=2)


@pytest.fixture
def fixed_run(tmp_path):
    path = tmp_path / "summary.csv"
    path.write_text("file,confidence,completeness_gap,steps,error\n"
                    "a.png,0.9,0.004,8,\nb.png,0.3,0.2,8,\nc.png,0.6,0.05,8,\nbroken.jpg,,,,not an image\n")
    return path


def test_fixed_grid_prediction_passes_and_explains(fixed_run, capsys):
    check_fixed_grid_prediction(1, fixed_run, exercise=1)
    out = capsys.readouterr().out
    assert "confidence  30.0%  gap  20.00%  over the 1% bar" in out and "Exercise 1 passed: 1 of 3, as predicted" in out


@pytest.mark.parametrize("prediction, hint", [
    (3, "you predicted 3, the run gives 1. 1 of 3 are under the bar"),
    (0, "you predicted 0, the run gives 1"),
    (4, "prediction should be between 0 and 3"),
    ("all", "prediction should be a whole number of images"),
    (None, " is not done yet: prediction is still None"),
])
def test_fixed_grid_prediction_fails_on_wrong_predictions(fixed_run, prediction, hint):
    with pytest.raises(AssertionError, match=f"^Exercise 1.*{hint}"):
        check_fixed_grid_prediction(prediction, fixed_run, exercise=1)
