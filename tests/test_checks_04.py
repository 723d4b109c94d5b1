"""The exercise checks of notebook 04: SmoothGrad by hand (generic check) and SmoothGrad + IG."""

import pytest
import torch

from helpers.attribution import integrated_gradients, vanilla_gradient
from helpers.checks import ExerciseFailed, check_smooth_ig, check_smoothgrad_no_noise


def smooth_ig(mistake=None):
    """SmoothGrad + IG, optionally with a typical slip."""
    def fn(model, x, target, n_samples, noise_level, n_steps):
        generator = torch.Generator().manual_seed(0)
        sigma = noise_level * float(x.max() - x.min())
        maps = []
        for _ in range(n_samples):
            noisy = x + sigma * torch.randn(x.shape, generator=generator)
            if mistake == "no noise":
                noisy = x
            maps.append(integrated_gradients(model, noisy, target, None, n_steps))
        total = torch.stack(maps).sum(dim=0)
        return total if mistake == "summed" else total / n_samples
    return fn


def my_smoothgrad(mistake=None):
    def fn(model, x, target, n_samples, noise_level):
        sigma = noise_level * float(x.max() - x.min())
        total = sum(vanilla_gradient(model, x + sigma * torch.randn_like(x), target) for _ in range(n_samples))
        return total if mistake == "summed" else total / n_samples
    return fn


def test_smooth_ig_passes(tiny_model, tiny_input, capsys):
    check_smooth_ig(smooth_ig(), tiny_model, tiny_input, 1, n_samples=2, n_steps=6, exercise=2)
    out = capsys.readouterr().out
    assert out.startswith("Exercise 2 passed: ") and out.count("\n") == 1


@pytest.mark.parametrize("mistake, hint", [("summed", "times"), ("no noise", "equals plain IG")])
def test_smooth_ig_fails_with_a_hint(tiny_model, tiny_input, mistake, hint):
    with pytest.raises(ExerciseFailed, match=r"^Exercise 2") as error:
        check_smooth_ig(smooth_ig(mistake), tiny_model, tiny_input, 1, n_samples=2, n_steps=6, exercise=2)
    assert hint in str(error.value)


def test_smooth_ig_wrong_rule_and_not_done(tiny_model, tiny_input):
    def left_rule(model, x, target, n_samples, noise_level, n_steps):
        return integrated_gradients(model, x, target, None, n_steps, "riemann_left")
    with pytest.raises(ExerciseFailed, match="Exercise 2: with noise_level=0"):
        check_smooth_ig(left_rule, tiny_model, tiny_input, 1, n_steps=6, exercise=2)

    def stub(model, x, target, n_samples, noise_level, n_steps):
        raise NotImplementedError("Exercise 2: average IG maps over noisy copies")
    with pytest.raises(ExerciseFailed, match="Exercise 2 is not done yet"):
        check_smooth_ig(stub, tiny_model, tiny_input, 1, exercise=2)


def test_generic_smoothgrad_check_as_notebook_04_uses_it(tiny_model, tiny_input, capsys):
    check_smoothgrad_no_noise(my_smoothgrad(), tiny_model, tiny_input, 1, exercise=1)
    assert capsys.readouterr().out.startswith("Exercise 1 passed: ")
    with pytest.raises(ExerciseFailed, match=r"^Exercise 1.*(times|normalisation)"):
        check_smoothgrad_no_noise(my_smoothgrad("summed"), tiny_model, tiny_input, 1, exercise=1)
