"""The exercise checks of notebook 04: VarGrad (extend), a batched SmoothGrad (debug), which knob (predict)."""

import pytest
import torch

from helpers.attribution import vanilla_gradient
from helpers.checks import ExerciseFailed, check_batched_smoothgrad, check_squared_prediction, check_vargrad


def vargrad(mistake=None):
    """VarGrad as the notebook's solution writes it, optionally with a typical slip."""
    def fn(model, x, target, n_samples, noise_level):
        sigma = noise_level * float(x.max() - x.min())
        if mistake == "no range":
            sigma = noise_level
        grads = torch.stack([vanilla_gradient(model, x + sigma * torch.randn_like(x), target)
                             for _ in range(n_samples)])
        if mistake == "mean of squares":
            return (grads ** 2).mean(dim=0)
        if mistake == "std":
            return grads.std(dim=0)
        return grads.var(dim=0, correction=0 if mistake == "population" else 1)
    return fn


def batched_smoothgrad(mistake=None):
    """The debug exercise's function: fixed, with its planted bug, or with another slip."""
    def fn(model, x, target, n_samples, noise_level, batch_size=8, seed=0):
        generator = torch.Generator().manual_seed(seed)
        sigma = noise_level * float(x.max() - x.min())
        total = torch.zeros_like(x[0])
        for start in range(0, n_samples, batch_size):
            count = min(batch_size, n_samples - start)
            if mistake == "planted":
                noise = sigma * torch.randn(x.shape, generator=generator).repeat(count, 1, 1, 1)
            else:
                noise = sigma * torch.randn((count, *x.shape[1:]), generator=generator)
            if mistake == "no range":
                noise = noise / sigma * noise_level if sigma else noise
            noisy = (x + noise.to(x.device)).requires_grad_(True)
            grads = torch.autograd.grad(model(noisy)[:, target].sum(), noisy)[0]
            total += grads.mean(dim=0) if mistake == "batch mean" else grads.sum(dim=0)
        return (total / n_samples).unsqueeze(0)
    return fn


@pytest.mark.parametrize("variant", [None, "population"])
def test_vargrad_passes(variant, capsys):
    torch.manual_seed(0)
    check_vargrad(vargrad(variant), exercise=1)
    out = capsys.readouterr().out
    assert out.startswith("Exercise 1 passed: ") and out.count("\n") == 1


@pytest.mark.parametrize("mistake, hint", [("mean of squares", "Subtract the mean gradient"),
                                           ("std", "not the standard deviation"),
                                           ("no range", "value range")])
def test_vargrad_fails_with_a_hint(mistake, hint):
    torch.manual_seed(0)
    with pytest.raises(ExerciseFailed, match=r"^Exercise 1: ") as error:
        check_vargrad(vargrad(mistake), exercise=1)
    assert hint in str(error.value)


def test_vargrad_not_done():
    def stub(model, x, target, n_samples, noise_level):
        raise NotImplementedError("Exercise 1: the variance of the gradients over noisy copies")
    with pytest.raises(ExerciseFailed, match="Exercise 1 is not done yet"):
        check_vargrad(stub, exercise=1)


def test_batched_smoothgrad_passes(capsys):
    check_batched_smoothgrad(batched_smoothgrad(), exercise=2)
    out = capsys.readouterr().out
    assert out.startswith("Exercise 2 passed: ") and out.count("\n") == 1


@pytest.mark.parametrize("mistake, hint", [("planted", "do all the copies of a batch get their own noise"),
                                           ("batch mean", "divided by n_samples"),
                                           ("no range", "value range")])
def test_batched_smoothgrad_fails_with_a_hint(mistake, hint):
    with pytest.raises(ExerciseFailed, match=r"^Exercise 2: ") as error:
        check_batched_smoothgrad(batched_smoothgrad(mistake), exercise=2)
    assert hint in str(error.value)


MEASURED = {"signed": 0.52, "magnitude": 0.90}


def test_squared_prediction(capsys):
    check_squared_prediction("magnitude", 0.87, MEASURED, exercise=3)
    out = capsys.readouterr().out
    assert out.startswith("Exercise 3 passed: measured: ") and "closer to the magnitude one" in out
    with pytest.raises(ExerciseFailed, match=r"^Exercise 3: measured: .*closer to the magnitude one \(a square"):
        check_squared_prediction("signed", 0.87, MEASURED, exercise=3)
    with pytest.raises(ExerciseFailed, match=r"closer to the signed one"):
        check_squared_prediction("magnitude", 0.55, MEASURED, exercise=3)
    with pytest.raises(ExerciseFailed, match="should be one of"):
        check_squared_prediction("squared", 0.87, MEASURED, exercise=3)
    with pytest.raises(ExerciseFailed, match="Exercise 3 is not done yet"):
        check_squared_prediction(None, 0.87, MEASURED, exercise=3)
