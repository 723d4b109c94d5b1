import numpy as np
import pytest
import torch
from torch import nn

from conftest import Evidence

from helpers.attribution import integrated_gradients, vanilla_gradient
from helpers.evaluation import (
    blurred, cascade_groups, curve_auc, deletion_curve, group_label, insertion_curve, normalised_auc,
    passes_randomization, pixel_order,
    random_attribution, randomization_sanity_check, randomized_copy,
)


@pytest.fixture
def linear_case():
    model = Evidence(side=6).eval()
    x = torch.rand((1, 1, 6, 6), generator=torch.Generator().manual_seed(3))
    true_map = model.linear.weight.view(1, 1, 6, 6) * x  # exact contribution of every pixel
    return model, x, true_map


def test_ig_recovers_the_exact_contributions_of_a_linear_model(linear_case):
    model, x, true_map = linear_case
    assert torch.allclose(integrated_gradients(model, x, 0, n_steps=3), true_map, atol=1e-6)


def test_deletion_falls_fastest_under_the_true_weights(linear_case):
    model, x, true_map = linear_case
    fractions, truth = deletion_curve(model, x, 0, true_map, steps=12)
    _, chance = deletion_curve(model, x, 0, random_attribution(x, seed=1), steps=12)
    _, backwards = deletion_curve(model, x, 0, -true_map, steps=12)
    assert fractions[0] == 0 and fractions[-1] == 1 and len(truth) == 13
    assert truth[0] == pytest.approx(chance[0]) and truth[-1] == pytest.approx(chance[-1])
    assert np.all(truth <= chance + 1e-6) and np.all(truth <= backwards + 1e-6)
    assert curve_auc(fractions, truth) < curve_auc(fractions, chance) < curve_auc(fractions, backwards)


def test_insertion_rises_fastest_under_the_true_weights(linear_case):
    model, x, true_map = linear_case
    start = torch.zeros_like(x)
    fractions, truth = insertion_curve(model, x, 0, true_map, steps=12, start=start)
    _, chance = insertion_curve(model, x, 0, random_attribution(x, seed=2), steps=12, start=start)
    assert np.all(truth >= chance - 1e-6)
    assert curve_auc(fractions, truth) > curve_auc(fractions, chance)


def test_insertion_starts_from_a_blurred_image_by_default(linear_case):
    model, x, true_map = linear_case
    _, default = insertion_curve(model, x, 0, true_map, steps=4)
    _, explicit = insertion_curve(model, x, 0, true_map, steps=4, start=blurred(x))
    _, from_black = insertion_curve(model, x, 0, true_map, steps=4, start=torch.zeros_like(x))
    p_blurred, p_image = (torch.softmax(model(image), dim=1)[0, 0].item() for image in (blurred(x), x))
    assert len(default) == 5 and np.allclose(default, explicit)
    assert default[0] == pytest.approx(p_blurred) and default[-1] == pytest.approx(p_image)
    assert not np.isclose(default[0], from_black[0])  # the start really is the blurred image, not black


def test_curve_auc_is_the_trapezoid_area():
    assert curve_auc([0, 0.5, 1], [1, 1, 0]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="same length"):
        curve_auc([0, 1], [1])


def test_bad_inputs_are_clear_errors(linear_case):
    model, x, true_map = linear_case
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        deletion_curve(model, x, 0, true_map, steps=0)
    with pytest.raises(ValueError, match="does not match the image"):
        deletion_curve(model, x, 0, torch.zeros(1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"shape \(1, C, H, W\)"):
        pixel_order(torch.zeros(2, 1, 6, 6))


@pytest.mark.parametrize("curve", [deletion_curve, insertion_curve])
def test_curves_take_one_image_and_one_target(linear_case, curve):
    model, x, true_map = linear_case
    two_images = torch.cat([x, x])
    with pytest.raises(ValueError, match=r"one image of shape \(1, C, H, W\), got \(2, 1, 6, 6\)"):
        curve(model, two_images, 0, true_map.repeat(2, 1, 1, 1), steps=4)
    for bad in ([0, 1], torch.tensor([0, 1]), 0.0, -1, True):
        with pytest.raises(ValueError, match="target must be one class index"):
            curve(model, x, bad, true_map, steps=4)
    with pytest.raises(ValueError, match="target 5 out of range: the model has 2 classes"):
        curve(model, x, 5, true_map, steps=4)
    fractions, as_tensor = curve(model, x, torch.tensor([0]), true_map, steps=4)  # a one-element tensor is fine
    assert len(fractions) == len(as_tensor) == 5
    assert np.allclose(as_tensor, curve(model, x, 0, true_map, steps=4)[1])


def test_a_constant_map_is_a_nan_failure_not_a_pass(tiny_model, tiny_input):
    with pytest.warns(RuntimeWarning, match="constant.*NaN.*failure"):
        flat = randomization_sanity_check(tiny_model, tiny_input, 1, lambda m, x, t: torch.ones_like(x), n_groups=2)
    assert all(np.isnan(c) for _, c in flat)
    assert not passes_randomization(flat)

    def dies_when_randomised(model, x, target):  # a real map that turns constant once the model changes
        return vanilla_gradient(model, x, target) if model is tiny_model else torch.zeros_like(x)

    with pytest.warns(RuntimeWarning, match="after randomising down to 'fc'"):
        dead = randomization_sanity_check(tiny_model, tiny_input, 1, dies_when_randomised, n_groups=2)
    assert dead[0] == ("none", 1.0) and np.isnan(dead[1][1]) and not passes_randomization(dead)


def test_passes_randomization_needs_a_low_final_correlation():
    assert passes_randomization([("none", 1.0), ("fc", 0.1)])
    assert not passes_randomization([("none", 1.0), ("fc", 0.9)])
    assert not passes_randomization([("none", 1.0), ("fc", float("nan"))])


def test_randomization_leaves_the_global_random_state_alone(tiny_model, tiny_input):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = randomization_sanity_check(tiny_model, tiny_input, 1, vanilla_gradient, n_groups=2, seed=7)
    assert torch.equal(torch.rand(3), expected)
    second = randomization_sanity_check(tiny_model, tiny_input, 1, vanilla_gradient, n_groups=2, seed=7)
    assert first == second  # the seed alone fixes the randomised weights


def test_randomized_copy_changes_every_layer_and_not_the_original(tiny_model):
    before = [p.clone() for p in tiny_model.parameters()]
    copy_ = randomized_copy(tiny_model, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_model.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(before, copy_.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(copy_.parameters(), randomized_copy(tiny_model, seed=0).parameters()))


def test_gradient_maps_fail_to_survive_randomization_but_a_model_blind_map_does(tiny_model, tiny_input):
    gradient = randomization_sanity_check(tiny_model, tiny_input, 1, vanilla_gradient, n_groups=2)
    blind = randomization_sanity_check(tiny_model, tiny_input, 1, lambda m, x, t: x.clone(), n_groups=2)
    assert [name for name, _ in gradient] == ["none", "fc", "conv"]
    assert gradient[0][1] == 1.0 and abs(gradient[-1][1]) < 0.5
    assert all(correlation == pytest.approx(1.0) for _, correlation in blind)


def test_randomization_does_not_touch_the_original_model(tiny_model, tiny_input):
    before = [p.clone() for p in tiny_model.parameters()]
    randomization_sanity_check(tiny_model, tiny_input, 0, vanilla_gradient, n_groups=2)
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_model.parameters()))


def test_cascade_groups_run_from_output_to_input(tiny_model):
    assert cascade_groups(tiny_model, n_groups=5) == [["fc"], ["conv"]]
    with pytest.raises(ValueError, match="no parameters"):
        cascade_groups(nn.ReLU())


def test_normalised_auc_puts_every_photo_on_one_scale():
    """A curve that stays at P(x) scores 1 whatever P(x) is; works on numbers and columns alike."""
    import pandas as pd

    fractions = np.linspace(0, 1, 11)
    assert normalised_auc(curve_auc(fractions, np.full(11, 0.13)), 0.13) == pytest.approx(1.0)
    assert normalised_auc(curve_auc(fractions, np.full(11, 0.96)), 0.96) == pytest.approx(1.0)
    column = normalised_auc(pd.Series([0.05, 0.2]), np.array([0.1, 0.8]))
    assert column.tolist() == pytest.approx([0.5, 0.25])
    with pytest.raises(ValueError, match="P\\(x\\) must be > 0"):
        normalised_auc(0.1, 0.0)


def test_group_label_names_the_whole_group():
    assert group_label(["0.1._fc", "0.1._conv_head", "0.1._bn1"], prefix="0.1.") == "_fc … _bn1 (3 layers)"
    assert group_label(["fc"]) == "fc"
    with pytest.raises(ValueError, match="at least one"):
        group_label([])


def test_seeded_restores_every_accelerator_generator(monkeypatch):
    """Seeding inside the block reseeds CUDA/MPS too, so their states must be put back afterwards."""
    import numpy as np

    from helpers.randomness import seeded

    restored = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: ["cuda state before"])
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: restored.setdefault("cuda", states))
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: "mps state before")
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda state: restored.setdefault("mps", state))
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: None)
    monkeypatch.setattr(torch.mps, "manual_seed", lambda seed: None, raising=False)
    cpu, numpy_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    with seeded(3):
        first = torch.rand(2)
    with seeded(3):
        assert torch.equal(torch.rand(2), first)
    assert restored == {"cuda": ["cuda state before"], "mps": "mps state before"}
    assert torch.equal(torch.get_rng_state(), cpu) and np.array_equal(np.random.get_state()[1], numpy_state)


def test_blur_kernel_reaches_three_sigma():
    """A kernel cut at ±2σ drops 4.6% of the Gaussian's weight; ±3σ keeps all but 0.3%."""
    x = torch.zeros(1, 1, 201, 201)
    x[0, 0, 100, 100] = 1.0
    spread = blurred(x, sigma=10.0)[0, 0, 100]
    assert spread[100 - 29] > 0  # 2.9σ from the centre still gets weight
