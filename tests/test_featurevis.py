"""Feature visualization by hand (helpers.featurevis): known optima, round trips, clear errors."""

import pytest
import torch
from PIL import Image
from torch import nn

from helpers import featurevis as fv


def linear_unit(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2)).eval()


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3)).eval()


def test_under_a_norm_constraint_a_linear_unit_is_maximised_by_its_weight_direction():
    model = linear_unit()
    result = fv.visualize(model, fv.class_logit(1), shape=(1, 3, 8, 8), steps=300, parameterisation="sphere",
                          robust=False, lr=0.05)
    weight = model[1].weight[1].detach()
    found = result["image"].flatten()
    cosine = float(found @ weight / (found.norm() * weight.norm()))
    assert cosine > 0.999, cosine
    assert result["history"][-1] > result["history"][0]
    assert abs(float(found.norm()) - 1) < 1e-5  # the constraint holds


def test_the_other_class_gives_the_other_direction():
    model = linear_unit()
    result = fv.visualize(model, fv.class_logit(0), shape=(1, 3, 8, 8), steps=300, parameterisation="sphere",
                          robust=False)
    weight = model[1].weight[0].detach()
    assert float(result["image"].flatten() @ weight) / float(weight.norm()) > 0.999


def test_fourier_parameterisation_round_trips_an_image():
    torch.manual_seed(0)
    image = torch.rand(2, 3, 20, 17) * 0.9 + 0.05
    param = fv.FourierImage.from_image(image)
    assert torch.allclose(param(), image, atol=1e-4)
    assert param().shape == image.shape


def test_fourier_images_start_grey_and_smooth_and_stay_in_range():
    param = fv.FourierImage((1, 3, 32, 32), seed=1)
    image = param()
    assert image.min() > 0 and image.max() < 1
    assert (image - 0.5).abs().max() < 0.1


def test_colour_basis_is_a_symmetric_square_root_of_a_covariance():
    basis = fv.photo_colour_basis()
    assert basis.shape == (3, 3)
    assert torch.allclose(basis, basis.T, atol=1e-6)
    assert torch.linalg.eigvalsh(basis).min() > 0
    assert abs(float(basis.norm(dim=0).max()) - 1) < 1e-6


def test_channel_and_neuron_objectives_read_the_named_layer():
    model = small_cnn()
    images = torch.rand(2, 3, 9, 9)
    with fv.recording(model, "2") as record:
        model(images)
    expected = record["output"]
    assert torch.allclose(fv.scores(model, fv.channel("2", 4), images), expected[:, 4].mean(dim=(1, 2)))
    assert torch.allclose(fv.scores(model, fv.neuron("2", 1), images), expected[:, 1, 4, 4])
    assert torch.allclose(fv.scores(model, fv.channel("2", (0, 5)), images),
                          torch.stack([expected[0, 0].mean(), expected[1, 5].mean()]))
    assert torch.allclose(fv.scores(model, fv.class_logit(2), images), model(images)[:, 2])


def test_a_channel_objective_stops_the_forward_pass_at_its_layer():
    model = small_cnn()
    calls = []
    model[6].register_forward_hook(lambda *args: calls.append(1))
    fv.scores(model, fv.channel("0", 1), torch.rand(1, 3, 8, 8))
    assert calls == []


def test_robust_channel_visualization_raises_its_channel():
    model = small_cnn()
    objective = fv.channel("2", 3)
    result = fv.visualize(model, objective, shape=(1, 3, 16, 16), steps=30, parameterisation="fourier")
    assert result["history"][-1] > result["history"][0]
    assert result["image"].shape == (1, 3, 16, 16)


@pytest.mark.parametrize("call, message", [
    (lambda m: fv.scores(m, fv.channel("conv9", 0), torch.rand(1, 3, 8, 8)), "Unknown layer 'conv9'"),
    (lambda m: fv.scores(m, fv.channel("2", 6), torch.rand(1, 3, 8, 8)), "channel 6 is out of range: .* 6 channels"),
    (lambda m: fv.scores(m, fv.class_logit(3), torch.rand(1, 3, 8, 8)), "class 3 is out of range"),
    (lambda m: fv.visualize(m, fv.class_logit(0), shape=(1, 3, 8, 8), steps=0), "steps must be an integer >= 1"),
    (lambda m: fv.visualize(m, fv.class_logit(0), shape=(1, 3, 8, 8), steps=-3), "steps must be an integer >= 1"),
    (lambda m: fv.visualize(m, fv.class_logit(0), steps=2, parameterisation="wavelet"), "Unknown parameterisation"),
    (lambda m: fv.channel("2", -1), "index must be an integer >= 0"),
    (lambda m: fv.jitter_survival(m, torch.rand(1, 3, 8, 8), 0, n=0), "n must be"),
])
def test_bad_arguments_give_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(small_cnn())


def test_jitter_survival_is_one_for_a_shift_invariant_model():
    model = small_cnn()  # global average pooling after padded convolutions: nearly shift-invariant
    image = torch.rand(1, 3, 16, 16)
    result = fv.jitter_survival(model, image, 1, jitter=2, n=4)
    assert abs(float(result["survival"][0]) - 1) < 0.1
    assert float(result["clean"][0]) == pytest.approx(float(torch.softmax(model(image), 1)[0, 1].detach()))


def test_random_transform_without_change_is_the_identity():
    image = torch.rand(2, 3, 10, 12)
    same = fv.random_transform(image, torch.Generator().manual_seed(0), jitter=0, scales=(1, 1), degrees=0)
    assert torch.allclose(same, image, atol=1e-5)


def test_total_variation_of_a_constant_is_zero_and_of_stripes_is_one():
    assert float(fv.total_variation(torch.full((1, 3, 5, 5), 0.3))) == 0
    stripes = torch.zeros(1, 1, 4, 4)
    stripes[..., ::2] = 1  # vertical stripes: every horizontal neighbour differs by 1
    assert float(fv.total_variation(stripes)) == pytest.approx(1.0)


def test_data_set_examples_find_the_brightest_crops():
    photos = {"dark": Image.new("RGB", (40, 30), (10, 10, 10)), "bright": Image.new("RGB", (40, 30), (250, 250, 250))}
    crops, labels = fv.random_crops(photos, per_photo=3, size=16)
    assert crops.shape == (6, 3, 16, 16) and len(labels) == 6 and labels[3].startswith("bright (")
    brightness = nn.Sequential(nn.Identity())
    brightness.add_module("1", nn.Conv2d(3, 1, 1, bias=False))
    brightness[1].weight.data.fill_(1.0)
    brightness.register_parameter("dummy", nn.Parameter(torch.zeros(1)))
    table = fv.activation_table(brightness, "1", crops, batch=4)
    assert table.shape == (6, 1)
    assert sorted(fv.top_examples(table, 0, k=3)) == [3, 4, 5]
    with pytest.raises(ValueError, match="channel 1 is out of range"):
        fv.top_examples(table, 1)
