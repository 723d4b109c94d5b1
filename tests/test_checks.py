"""Each generic exercise check passes a correct answer and fails typical wrong ones with a hint."""

import numpy as np
import pytest
import torch

from helpers.attribution import integrated_gradients, smoothgrad, vanilla_gradient
from helpers.checks import (
    check_additivity, check_beats_random, check_close, check_completeness, check_function_matches,
    check_randomization, check_shape_device, check_smoothgrad_no_noise,
)


def fails(match):
    return pytest.raises(AssertionError, match=match)


def test_check_close_passes_and_diagnoses_sign_and_factor(capsys):
    expected = torch.tensor([1.0, -2.0, 3.0])
    check_close(expected.clone(), expected, exercise=1, what="the map")
    assert capsys.readouterr().out.startswith("Exercise 1 passed: the map")
    with fails(r"^Exercise 1: the map is off .*opposite sign"):
        check_close(-expected, expected, exercise=1, what="the map")
    with fails(r"times 8.*summed instead of averaged"):
        check_close(8 * expected, expected, exercise=1, what="the map")
    with fails(r"absolute value"):
        check_close(expected.abs(), expected, exercise=1, what="the map")
    with fails(r"expected shape \(3,\), got \(1, 3\)"):
        check_close(expected[None], expected, exercise=1, what="the map")


def test_unfinished_exercise_is_reported_as_not_done():
    def stub():
        raise NotImplementedError("Exercise 2: write the loop")

    with fails(r"^Exercise 2 is not done yet: write the loop"):
        check_close(stub, 1.0, exercise=2, what="x")
    with fails(r"^Exercise 2 is not done yet: your answer is still None"):
        check_close(None, 1.0, exercise=2, what="x")


def test_check_function_matches_compares_with_the_reference(tiny_model, tiny_input, capsys):
    def right(model, x, target):
        return vanilla_gradient(model, x, target)

    check_function_matches(right, vanilla_gradient, tiny_model, tiny_input, 1, exercise=3, what="the gradient")
    assert capsys.readouterr().out.count("Exercise 3 passed") == 1
    with fails("opposite sign"):
        check_function_matches(lambda m, x, t: -vanilla_gradient(m, x, t), vanilla_gradient,
                               tiny_model, tiny_input, 1, exercise=3, what="the gradient")
    with fails("absolute value"):
        check_function_matches(lambda m, x, t: vanilla_gradient(m, x, t).abs(), vanilla_gradient,
                               tiny_model, tiny_input, 1, exercise=3, what="the gradient")


def test_check_shape_device_names_the_broken_contract(capsys):
    check_shape_device(torch.zeros(2, 3, 4, 4), (2, 3, 4, 4), device="cpu", exercise=4)
    assert "Exercise 4 passed" in capsys.readouterr().out
    with fails(r"shape \(2, 3, 4, 4\), got \(3, 4, 4\)"):
        check_shape_device(torch.zeros(3, 4, 4), (2, 3, 4, 4), exercise=4)
    with fails("torch.Tensor, got ndarray"):
        check_shape_device(np.zeros((2, 3, 4, 4)), (2, 3, 4, 4), exercise=4)
    with fails("dtype"):
        check_shape_device(torch.zeros(2, 2, dtype=torch.float64), (2, 2), dtype=torch.float32, exercise=4)
    with fails("should be on cpu, got meta"):  # a tensor left on another device than the model's (meta stands in for a GPU)
        check_shape_device(torch.zeros(2, 3, 4, 4, device="meta"), (2, 3, 4, 4), device="cpu", exercise=4)


def test_check_completeness_catches_a_forgotten_baseline_and_a_flipped_sign(tiny_model, tiny_input, capsys):
    gray = torch.full_like(tiny_input, 0.5)
    right = integrated_gradients(tiny_model, tiny_input, 2, baseline=gray, n_steps=64, method="gausslegendre")
    check_completeness(right, tiny_model, tiny_input, 2, baseline=0.5, exercise=1)
    assert "completeness holds" in capsys.readouterr().out
    from_black = integrated_gradients(tiny_model, tiny_input, 2, n_steps=64, method="gausslegendre")
    with fails("forget to pass the baseline"):
        check_completeness(from_black, tiny_model, tiny_input, 2, baseline=0.5, exercise=1)
    with fails("sign is flipped"):
        check_completeness(-right, tiny_model, tiny_input, 2, baseline=0.5, exercise=1)
    with fails("image's shape"):
        check_completeness(right[0], tiny_model, tiny_input, 2, baseline=0.5, exercise=1)


def test_check_additivity_catches_a_missing_base_value_and_the_wrong_axis(capsys):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(5, 3))
    base = 10.0
    outputs = base + values.sum(axis=1)
    check_additivity(values, base, outputs, exercise=2)
    assert "additivity holds" in capsys.readouterr().out
    with fails("add it twice"):
        check_additivity(values, base, values.sum(axis=1), exercise=2)
    with fails("one row of SHAP values per output"):
        check_additivity(values.T, base, outputs, exercise=2)
    with fails("misses the outputs"):
        check_additivity(values, 0.0, outputs, exercise=2)


def test_check_smoothgrad_no_noise_accepts_smoothgrad_and_rejects_sums_and_missing_noise(tiny_model, tiny_input,
                                                                                      capsys):
    def right(model, x, target, n_samples, noise_level):
        return smoothgrad(model, x, target, n_samples=n_samples, noise_level=noise_level, seed=0)

    def summed(model, x, target, n_samples, noise_level):
        return right(model, x, target, n_samples, noise_level) * n_samples

    def no_noise(model, x, target, n_samples, noise_level):
        return vanilla_gradient(model, x, target)

    check_smoothgrad_no_noise(right, tiny_model, tiny_input, 1, exercise=1)
    assert capsys.readouterr().out.count("Exercise 1 passed") == 1
    with fails("times 8"):
        check_smoothgrad_no_noise(summed, tiny_model, tiny_input, 1, exercise=1)
    with fails("is the noise added"):
        check_smoothgrad_no_noise(no_noise, tiny_model, tiny_input, 1, exercise=1)


def test_check_beats_random_both_directions(capsys):
    check_beats_random(0.1, 0.3, kind="deletion", exercise=2)
    check_beats_random(0.5, 0.3, kind="insertion", exercise=2)
    assert capsys.readouterr().out.count("passed") == 2
    with fails("should give a lower AUC"):
        check_beats_random(0.4, 0.3, kind="deletion", exercise=2)
    with fails("should give a higher AUC"):
        check_beats_random(0.2, 0.3, kind="insertion", exercise=2)
    with fails(r"lies in \[0, 1\]"):
        check_beats_random(3.0, 0.3, exercise=2)


def test_check_randomization_pass_and_fail(capsys):
    falling = [("none", 1.0), ("fc", 0.4), ("conv", 0.05)]
    staying = [("none", 1.0), ("fc", 1.0), ("conv", 1.0)]
    check_randomization(falling, expect="pass", exercise=3)
    check_randomization(staying, expect="fail", exercise=3)
    assert capsys.readouterr().out.count("passed") == 2
    with fails("still correlates 1.00"):
        check_randomization(staying, expect="pass", exercise=3)
    with fails("does depend on the weights"):
        check_randomization(falling, expect="fail", exercise=3)
    with fails("NaN"):
        check_randomization([("none", 1.0), ("fc", float("nan"))], expect="pass", exercise=3)


def test_every_exported_check_name_comes_from_one_module_only():
    """helpers.checks re-exports every nbNN module: a name defined in two would silently shadow the other."""
    import importlib
    import pkgutil

    import helpers.checks as package
    owners = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"helpers.checks.{info.name}")
        for name, value in vars(module).items():
            if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__:
                owners.setdefault(name, []).append(info.name)
    shared = {name: modules for name, modules in owners.items() if len(modules) > 1}
    assert not shared, f"defined in more than one checks module: {shared}"
