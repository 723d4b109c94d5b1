import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from helpers import visualize  # noqa: E402


def test_to_hwc_converts_and_rejects_batches():
    assert visualize.to_hwc(torch.zeros(1, 3, 5, 7)).shape == (5, 7, 3)
    with pytest.raises(ValueError, match="single image, got a batch of 2"):
        visualize.to_hwc(torch.zeros(2, 3, 5, 7))
    with pytest.raises(ValueError, match="shape"):
        visualize.to_hwc(torch.zeros(5, 7))


def test_plot_explanation_has_image_heatmap_overlay_and_colorbars():
    image, attribution = torch.rand(1, 3, 16, 16), torch.randn(1, 3, 16, 16)
    fig = visualize.plot_explanation(image, attribution, visualize.prediction_title("cat", 0.9), sign="all")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["image", "attribution (all)", "overlay"]
    assert len(fig.axes) == 5  # two colour bars
    assert fig._suptitle.get_text() == "prediction: cat (90.0%)"
    plt.close(fig)


def test_grid_has_one_column_per_method_and_accepts_zero_maps():
    images = [np.random.rand(8, 8, 3) for _ in range(2)]
    maps = {"A": [torch.randn(3, 8, 8)] * 2, "B": [torch.zeros(3, 8, 8)] * 2}
    fig = visualize.plot_attribution_grid(images, maps, row_titles=["one", "two"], title="grid")
    image_axes = [ax for ax in fig.axes if ax.get_title() or ax.images]
    assert len(image_axes) >= 6
    assert fig.axes[0].get_title() == "one"
    plt.close(fig)


def test_overlay_heatmap_resizes_and_rejects_bad_shapes():
    fig, ax = plt.subplots()
    visualize.overlay_heatmap(ax, np.random.rand(32, 32, 3), np.random.randn(4, 4), title="layer")
    assert ax.images[-1].get_array().shape == (32, 32, 4)  # the RGBA overlay, at the image's size
    with pytest.raises(ValueError, match="2-D heat map"):
        visualize.overlay_heatmap(ax, np.random.rand(32, 32, 3), np.random.randn(3, 4, 4))
    plt.close(fig)


def test_an_unknown_sign_is_a_clear_error():
    import matplotlib.pyplot as plt
    import pytest
    import torch

    from helpers.visualize import plot_attribution

    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="Unknown sign 'both': choose one of absolute_value, positive"):
        plot_attribution(ax, torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), sign="both")
    plt.close(fig)


def test_display_map_caps_at_the_percentile_and_keeps_signs():
    from helpers.visualize import display_map
    attribution = np.zeros((1, 3, 40, 40))
    attribution[0, 0] = np.linspace(-1, 1, 1600).reshape(40, 40)
    attribution[0, 0, 0, 0] = -1000.0  # one extreme pixel
    shown = display_map(torch.tensor(attribution), "all", percentile=99)
    assert shown.shape == (40, 40) and shown.min() == -1.0 and shown.max() <= 1.0
    # the outlier is clipped, so ordinary pixels keep a visible share instead of ~0.001
    assert abs(shown[39, 39]) > 0.5
    assert (display_map(torch.tensor(attribution), "positive") >= 0).all()
    negative = display_map(torch.tensor(attribution), "negative")
    assert negative[0, 0] == 1.0 and negative[39, 39] == 0.0


def test_display_map_sums_channels_for_signs_and_abs_sums_for_magnitudes():
    from helpers.visualize import display_map
    attribution = np.zeros((2, 4, 4))
    attribution[0], attribution[1] = 1.0, -1.0  # channels cancel
    assert np.all(display_map(attribution, "all", percentile=100) == 0)
    assert np.all(display_map(attribution, "absolute_value", percentile=100) == 1.0)


def test_display_map_rejects_bad_arguments():
    from helpers.visualize import display_map
    with pytest.raises(ValueError, match="percentile must be in"):
        display_map(np.ones((4, 4)), "all", percentile=0)
    with pytest.raises(ValueError, match="Unknown sign"):
        display_map(np.ones((4, 4)), "both")


def test_overlay_draws_zero_transparent():
    from helpers.visualize import plot_attribution
    fig, ax = plt.subplots()
    attribution = np.zeros((4, 4)); attribution[0, 0] = 1.0
    plot_attribution(ax, attribution, np.ones((4, 4, 3)), "blended_heat_map", "all", colorbar=False)
    overlay = ax.get_images()[-1].get_array()
    assert overlay[0, 0, 3] > 0.5 and overlay[3, 3, 3] == 0.0  # the white image shows through where the map is 0
    plt.close(fig)
