import numpy as np
import pytest
import torch
from torch import nn

from helpers.attribution import integrated_gradients, vanilla_gradient
from helpers.evaluation import (
    cascade_groups, curve_auc, deletion_curve, insertion_curve, pixel_order, random_attribution,
    randomization_sanity_check,
)


class EvidenceModel(nn.Module):
    """Two logits: w·x + b for class 0 and a constant 0 for class 1, so P(0) = sigmoid(w·x + b)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(1 * 6 * 6, 1)

    def forward(self, x):
        evidence = self.linear(x.flatten(1))
        return torch.cat([evidence, torch.zeros_like(evidence)], dim=1)


@pytest.fixture
def linear_case():
    model = EvidenceModel().eval()
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
    _, probabilities = insertion_curve(model, torch.rand(1, 1, 6, 6), 0, true_map, steps=4)
    assert len(probabilities) == 5 and np.all((0 <= probabilities) & (probabilities <= 1))


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
