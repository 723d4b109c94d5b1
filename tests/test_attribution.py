import pytest
import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
from torch import nn

from helpers.attribution import (
    adaptive_integrated_gradients, completeness_gap, ig_alphas_and_weights, integrated_gradients, output_change,
    smoothgrad, vanilla_gradient,
)


@pytest.mark.parametrize("method", ["riemann_left", "riemann_right", "riemann_middle", "gausslegendre"])
def test_ig_agrees_with_captum_on_the_same_alphas(tiny_model, tiny_input, method):
    ours = integrated_gradients(tiny_model, tiny_input, target=2, n_steps=25, method=method, internal_batch_size=7)
    captum = IntegratedGradients(tiny_model).attribute(tiny_input, target=2, n_steps=25, method=method)
    assert ours.shape == tiny_input.shape
    assert torch.allclose(ours, captum, atol=1e-6, rtol=1e-4)


def test_trapezoid_weights_sum_to_one_where_captums_sum_to_n_minus_1_over_n(tiny_model, tiny_input):
    n = 25
    _, weights = ig_alphas_and_weights(n, "riemann_trapezoid")
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-6)
    ours = integrated_gradients(tiny_model, tiny_input, target=1, n_steps=n)
    captum = IntegratedGradients(tiny_model).attribute(tiny_input, target=1, n_steps=n, method="riemann_trapezoid")
    assert torch.allclose(ours * (n - 1) / n, captum, atol=1e-6, rtol=1e-4)


def test_ig_is_exact_for_a_linear_model(tiny_input):
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 3))
    attributions = integrated_gradients(linear, tiny_input, target=0, n_steps=2)
    expected = (linear[1].weight[0].view(3, 8, 8) * tiny_input[0]).unsqueeze(0)
    assert torch.allclose(attributions, expected, atol=1e-6)
    assert completeness_gap(linear, tiny_input, 0, attributions).item() < 1e-5


def test_completeness_gap_shrinks_with_more_steps(tiny_model, tiny_input):
    baseline = torch.full_like(tiny_input, 0.5)
    gaps = [
        completeness_gap(tiny_model, tiny_input, 3,
                         integrated_gradients(tiny_model, tiny_input, 3, baseline, n, "riemann_left"), baseline).item()
        for n in (2, 20, 200)
    ]
    assert gaps[0] > gaps[1] > gaps[2]
    difference = (tiny_model(tiny_input) - tiny_model(baseline))[0, 3].abs().item()
    assert gaps[2] < 0.01 * difference + 1e-6


def test_ig_handles_a_batch_with_one_target_per_image(tiny_model):
    x = torch.rand(3, 3, 8, 8)
    together = integrated_gradients(tiny_model, x, target=[0, 1, 2], n_steps=10, method="gausslegendre")
    alone = integrated_gradients(tiny_model, x[1:2], target=1, n_steps=10, method="gausslegendre")
    assert torch.allclose(together[1:2], alone, atol=1e-6)


@pytest.mark.parametrize("n_steps", [0, -3, 2.5, "10", True])
def test_ig_rejects_bad_n_steps(tiny_model, tiny_input, n_steps):
    with pytest.raises(ValueError, match="n_steps must be an integer >= 1"):
        integrated_gradients(tiny_model, tiny_input, 0, n_steps=n_steps, method="riemann_middle")


def test_ig_rejects_bad_method_shapes_and_targets(tiny_model, tiny_input):
    with pytest.raises(ValueError, match="n_steps must be an integer >= 2"):
        integrated_gradients(tiny_model, tiny_input, 0, n_steps=1)
    with pytest.raises(ValueError, match="Unknown method 'simpson'"):
        integrated_gradients(tiny_model, tiny_input, 0, method="simpson")
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\), got \(3, 8, 8\)"):
        integrated_gradients(tiny_model, tiny_input[0], 0)
    with pytest.raises(ValueError, match="target out of range: the model has 4 classes"):
        integrated_gradients(tiny_model, tiny_input, 7, n_steps=4)
    with pytest.raises(ValueError, match="one per image"):
        integrated_gradients(tiny_model, tiny_input, [0, 1], n_steps=4)
    with pytest.raises(ValueError, match="internal_batch_size must be an integer >= 1"):
        integrated_gradients(tiny_model, tiny_input, 0, internal_batch_size=-1)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        integrated_gradients(lambda t: t, tiny_input, 0)


def test_smoothgrad_matches_captum_when_both_see_the_same_noise(tiny_model, tiny_input):
    sigma = 0.2 * float(tiny_input.max() - tiny_input.min())
    ours = smoothgrad(tiny_model, tiny_input, 1, n_samples=20, noise_level=0.2, batch_size=6, seed=7)
    torch.manual_seed(7)  # captum draws from torch's global generator, in the same order
    captum = NoiseTunnel(Saliency(tiny_model)).attribute(
        tiny_input, nt_type="smoothgrad", nt_samples=20, stdevs=sigma, target=1, abs=False
    )
    assert torch.allclose(ours, captum, atol=1e-6)


def test_smoothgrad_squared_matches_captum_smoothgrad_sq(tiny_model, tiny_input):
    sigma = 0.1 * float(tiny_input.max() - tiny_input.min())
    ours = smoothgrad(tiny_model, tiny_input, 0, n_samples=8, noise_level=0.1, seed=3, squared=True)
    torch.manual_seed(3)
    captum = NoiseTunnel(Saliency(tiny_model)).attribute(
        tiny_input, nt_type="smoothgrad_sq", nt_samples=8, stdevs=sigma, target=0, abs=False
    )
    assert torch.allclose(ours, captum, atol=1e-7)


def test_smoothgrad_is_reproducible_with_a_seed(tiny_model, tiny_input):
    first = smoothgrad(tiny_model, tiny_input, 2, n_samples=10, seed=11, batch_size=3)
    again = smoothgrad(tiny_model, tiny_input, 2, n_samples=10, seed=11, batch_size=10)
    other = smoothgrad(tiny_model, tiny_input, 2, n_samples=10, seed=12)
    assert torch.allclose(first, again, atol=1e-7)
    assert not torch.allclose(first, other, atol=1e-4)


def test_smoothgrad_without_noise_is_the_vanilla_gradient(tiny_model, tiny_input):
    assert torch.allclose(smoothgrad(tiny_model, tiny_input, 1, n_samples=3, noise_level=0.0),
                          vanilla_gradient(tiny_model, tiny_input, 1), atol=1e-7)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_samples": 0}, "n_samples must be an integer >= 1"),
    ({"noise_level": -0.1}, "noise_level must be a number >= 0"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
])
def test_smoothgrad_rejects_bad_arguments(tiny_model, tiny_input, kwargs, message):
    with pytest.raises(ValueError, match=message):
        smoothgrad(tiny_model, tiny_input, 0, **kwargs)


class ConvNet33(torch.nn.Module):
    """A conv net on 3x33x33 images: 3*33*33 = 3267 values, not a multiple of 16."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 2, 3)
        self.fc = torch.nn.Linear(2 * 31 * 31, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def test_smoothgrad_noise_does_not_depend_on_batching():
    model = ConvNet33().eval()
    x = torch.rand((2, 3, 33, 33), generator=torch.Generator().manual_seed(3))
    maps = [smoothgrad(model, x, 1, n_samples=10, batch_size=b, seed=0) for b in (1, 3, 8, 10)]
    scale = maps[0].abs().max()
    for other in maps[1:]:  # equal up to float summation order
        assert (maps[0] - other).abs().max() < 1e-5 * scale
    # an image's map does not depend on its position in the batch either
    alone = smoothgrad(model, x[1:], 1, n_samples=10, batch_size=4, seed=0)
    assert (alone[0] - maps[0][1]).abs().max() < 1e-5 * scale
    # ...while other noise does change it: the comparison above can fail
    other_seed = smoothgrad(model, x, 1, n_samples=10, batch_size=3, seed=1)
    assert (other_seed - maps[0]).abs().max() > 1e-2 * scale


def test_a_model_without_parameters_is_explained_on_the_inputs_device():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Softmax(dim=1))
    x = torch.rand((1, 1, 2, 2))
    gradient = vanilla_gradient(model, x, 0)
    assert gradient.shape == x.shape


def test_a_float64_model_keeps_float64_end_to_end(tiny_model, tiny_input):
    """The input's dtype is kept (as Captum does): a float64 model works and converges further than float32."""
    model64, x64 = tiny_model.double(), tiny_input.double()
    attributions = integrated_gradients(model64, x64, target=1, n_steps=4096, method="gausslegendre")
    assert attributions.dtype == torch.float64
    gap = completeness_gap(model64, x64, 1, attributions).item()
    assert gap < 1e-9, f"float64 IG should be exact to ~1e-12 with 4096 Gauss-Legendre points, gap {gap:.2e}"
    alphas, weights = ig_alphas_and_weights(7, "gausslegendre", torch.float64)
    assert alphas.dtype == weights.dtype == torch.float64
    assert ig_alphas_and_weights(7, "gausslegendre")[0].dtype == torch.float32  # the default, as before


def test_a_fractional_target_is_a_clear_error(tiny_model, tiny_input):
    with pytest.raises(ValueError, match="whole class indices"):
        vanilla_gradient(tiny_model, tiny_input, 1.5)
    assert torch.equal(vanilla_gradient(tiny_model, tiny_input, 1.0), vanilla_gradient(tiny_model, tiny_input, 1))


def test_output_change_is_f_x_minus_f_baseline_and_refuses_zero(tiny_model, tiny_input):
    baseline = torch.full_like(tiny_input, 0.3)
    with torch.no_grad():
        expected = (tiny_model(tiny_input) - tiny_model(baseline))[0, 2].item()
    assert output_change(tiny_model, tiny_input, 2, baseline) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match=r"F\(x\) = F\(x'\).*the baseline scores exactly as the image"):
        output_change(tiny_model, tiny_input, 2, tiny_input.clone())


class SharpStep(nn.Module):
    """Class 0: 10 sigmoid(k (mean(x) - 0.3)); class 1: 0. From a black baseline, F rises within ~1/k of
    alpha = 0.3 / mean(x), and IG's exact map is known: x_i / sum(x) * (F(x) - F(0))."""

    def __init__(self, k: float):
        super().__init__()
        self.k = k

    def forward(self, x):
        rise = 10 * torch.sigmoid(self.k * (x.flatten(1).mean(1) - 0.3))
        return torch.stack([rise, torch.zeros_like(rise)], dim=1)


def sharp_case(k):
    x = torch.rand((1, 3, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = SharpStep(k)
    exact = x / x.sum() * output_change(model, x, 0)
    return model, x, lambda attribution: float((attribution - exact).norm() / exact.norm())


def test_adaptive_ig_reaches_the_exact_integral_with_far_fewer_points_than_a_uniform_grid():
    model, x, error = sharp_case(k=5000.0)
    attributions, info = adaptive_integrated_gradients(model, x, 0, target_gap=0.01)
    assert info["converged"].item() and info["gap"].item() <= 0.01
    assert error(attributions) <= 0.01
    uniform = next(n for n in (65, 129, 257, 513, 1025, 2049, 4097)
                   if error(integrated_gradients(model, x, 0, n_steps=n)) <= error(attributions))
    steps = info["steps"].item()
    assert steps * 4 < uniform, f"adaptive used {steps} gradients, a uniform trapezoid grid of the same accuracy {uniform}"
    alphas = torch.tensor(info["alphas"])
    near_the_rise = ((alphas - 0.3 / x.mean()).abs() < 0.01).float().mean().item()
    assert near_the_rise > 0.3, f"the points should crowd where F rises (2% of the path): {near_the_rise:.0%} there"


def test_adaptive_ig_finds_a_rise_that_falls_between_its_first_samples():
    """With k = 50000 every first sample sees a zero gradient; F(b) - F(a) gives the rise away."""
    model, x, error = sharp_case(k=50000.0)
    attributions, info = adaptive_integrated_gradients(model, x, 0, target_gap=0.01)
    assert info["converged"].item() and error(attributions) <= 0.01


def test_adaptive_ig_says_when_max_steps_comes_first():
    model, x, _ = sharp_case(k=5000.0)
    with pytest.warns(RuntimeWarning, match=r"image 0 did not converge: completeness gap .*% \(target 1.00%\) after "
                                            r"\d+ gradient evaluations \(max_steps=40\)"):
        _, info = adaptive_integrated_gradients(model, x, 0, target_gap=0.01, max_steps=40)
    assert not info["converged"].item() and info["steps"].item() <= 40


def test_adaptive_ig_stops_at_the_smallest_budget_too():
    """The smallest budget is spent by the first pass (17 points): the loop stops there (it once looped forever)."""
    model, x, _ = sharp_case(k=5000.0)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        _, info = adaptive_integrated_gradients(model, x, 0, target_gap=0.01, max_steps=17)
    assert not info["converged"].item() and info["steps"].item() == 17


def test_adaptive_ig_handles_a_batch_and_matches_fixed_ig_on_a_smooth_model(tiny_model, tiny_input):
    batch = torch.cat([tiny_input, tiny_input.flip(-1)])
    attributions, info = adaptive_integrated_gradients(tiny_model, batch, torch.tensor([1, 2]), target_gap=1e-3)
    reference = integrated_gradients(tiny_model, batch, torch.tensor([1, 2]), n_steps=512, method="gausslegendre")
    assert attributions.shape == batch.shape and info["steps"].shape == (2,)
    assert torch.allclose(attributions, reference, atol=1e-4, rtol=1e-2)
    assert bool(info["converged"].all()) and float(info["gap"].max()) <= 1e-3


@pytest.mark.parametrize("kwargs, message", [
    ({"target_gap": 0}, "target_gap must be a number > 0"),
    ({"target_gap": -0.01}, "target_gap must be a number > 0"),
    ({"max_steps": 1}, "max_steps must be an integer >= 17"),
    ({"max_steps": 2.5}, "max_steps must be an integer"),
])
def test_adaptive_ig_rejects_bad_arguments(tiny_model, tiny_input, kwargs, message):
    with pytest.raises(ValueError, match=message):
        adaptive_integrated_gradients(tiny_model, tiny_input, 0, **kwargs)


@pytest.mark.parametrize("method", ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"])
def test_float32_nodes_are_exactly_captums_float32_linspace(method):
    """On a ReLU network a node 1e-8 off can flip an activation: float32 inputs get float32 linspace nodes."""
    n = 9
    alphas, _ = ig_alphas_and_weights(n, method, torch.float32)
    expected = {"riemann_left": torch.linspace(0, 1 - 1 / n, n), "riemann_right": torch.linspace(1 / n, 1, n),
                "riemann_middle": torch.linspace(1 / (2 * n), 1 - 1 / (2 * n), n),
                "riemann_trapezoid": torch.linspace(0, 1, n)}[method]
    assert alphas.dtype == torch.float32 and torch.equal(alphas, expected)
