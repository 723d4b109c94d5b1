"""Figures: "image | heat map | overlay" rows and method grids, all drawn with one display convention."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LinearSegmentedColormap

# The course's one colour convention: signed maps run from red (negative: against the class)
# through white (zero) to green (positive: for the class), as Captum's own default does.
SIGNED_CMAP = LinearSegmentedColormap.from_list("RdWhGn", ["red", "white", "green"])
# Colour maps by sign: one colour for magnitudes, the diverging map when sign matters.
SIGN_CMAPS = {"absolute_value": "Blues", "positive": "Greens", "negative": "Reds", "all": SIGNED_CMAP}
DISPLAY_PERCENTILE = 99.0  # maps are capped at this percentile of |value| before they are drawn
OVERLAY_OPACITY = 0.85  # opacity of a pixel at the cap in an overlay (zero is transparent)


def to_hwc(tensor) -> np.ndarray:
    """A (1, C, H, W) or (C, H, W) tensor/array as a float (H, W, C) numpy array."""
    array = tensor.detach().cpu().numpy() if isinstance(tensor, torch.Tensor) else np.asarray(tensor)
    if array.ndim == 4:
        if array.shape[0] != 1:
            raise ValueError(f"Expected a single image, got a batch of {array.shape[0]}.")
        array = array[0]
    if array.ndim != 3:
        raise ValueError(f"Expected an image of shape (C, H, W), got shape {array.shape}.")
    return np.transpose(array, (1, 2, 0)).astype(np.float64)


def prediction_title(label: str, confidence: float) -> str:
    return f"prediction: {label} ({confidence:.1%})"


def display_map(attribution, sign: str = "absolute_value", percentile: float = DISPLAY_PERCENTILE) -> np.ndarray:
    """The course's one way to turn a pixel map into what is drawn: a 2-D array, capped and scaled.

    Channels are summed for the signed views (``all``, ``positive``, ``negative``) and their
    absolute values summed for ``absolute_value``; a 2-D map is taken as it is. Values beyond
    the ``percentile``-th percentile of |map| are clipped to it (the SmoothGrad paper's and
    Captum's ``outlier_perc`` idea: a few extreme pixels no longer wash out the rest), then the
    map is divided by that cap: ``all`` lands in [-1, 1], the other views in [0, 1]
    (``negative`` shows the size of the negative part).
    """
    if sign not in SIGN_CMAPS:
        raise ValueError(f"Unknown sign {sign!r}: choose one of {', '.join(SIGN_CMAPS)}.")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}.")
    array = np.asarray(attribution.detach().cpu() if isinstance(attribution, torch.Tensor) else attribution,
                       dtype=np.float64)
    if array.ndim != 2:
        array = _hwc(array)
        array = np.abs(array).sum(axis=2) if sign == "absolute_value" else array.sum(axis=2)
    if sign == "positive":
        array = np.maximum(array, 0)
    elif sign == "negative":
        array = np.maximum(-array, 0)
    cap = np.percentile(np.abs(array), percentile)
    if cap == 0:
        cap = np.abs(array).max()
    if cap == 0:  # an all-zero map is drawn as zero
        return array
    return np.clip(array / cap, -1.0, 1.0)


def plot_attribution(ax, attribution, image, method="blended_heat_map", sign="absolute_value",
                     title="", colorbar=True, percentile: float = DISPLAY_PERCENTILE):
    """Draw one attribution view into ``ax``: ``heat_map`` alone, or ``blended_heat_map`` over the image.

    The map goes through ``display_map``. In the overlay, each pixel's opacity follows its |value|,
    so zero is transparent and a bright image never looks like "no attribution".
    """
    if method not in ("heat_map", "blended_heat_map"):
        raise ValueError(f"Unknown method {method!r}: choose heat_map or blended_heat_map.")
    shown = display_map(attribution, sign, percentile)
    cmap = plt.get_cmap(SIGN_CMAPS[sign])
    vmin = -1.0 if sign == "all" else 0.0
    if method == "heat_map":
        drawn = ax.imshow(shown, cmap=cmap, vmin=vmin, vmax=1.0)
    else:
        ax.imshow(np.clip(_hwc(image), 0, 1).mean(axis=2), cmap="gray", vmin=0, vmax=1)
        colours = cmap((shown - vmin) / (1.0 - vmin))
        colours[..., 3] = np.abs(shown) * OVERLAY_OPACITY
        ax.imshow(colours)
        drawn = plt.cm.ScalarMappable(norm=plt.Normalize(vmin, 1.0), cmap=cmap)
    if colorbar:
        bar = ax.figure.colorbar(drawn, ax=ax, fraction=0.046, pad=0.04)
        bar.set_label(f"share of the {percentile:g}th-percentile cap", fontsize=7)
        bar.ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    return ax


def plot_explanation(image, attribution, title: str, sign: str = "absolute_value"):
    """One row: the image | the attribution heat map | the heat map blended over the image."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    image = _hwc(image)
    axes[0].imshow(np.clip(image, 0, 1))
    axes[0].set_title("image")
    axes[0].axis("off")
    plot_attribution(axes[1], attribution, image, "heat_map", sign, f"attribution ({sign})")
    plot_attribution(axes[2], attribution, image, "blended_heat_map", sign, "overlay")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_attribution_grid(images, attributions: dict, row_titles=None, signs=None,
                          method="blended_heat_map", title=""):
    """Rows of images, columns: the original then one overlay per attribution method.

    ``attributions`` maps a method name to a list with one attribution per image.
    """
    signs = signs or {}
    n_rows, n_cols = len(images), 1 + len(attributions)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 3.0 * n_rows), squeeze=False)
    for row, image in enumerate(images):
        image = _hwc(image)
        axes[row, 0].imshow(np.clip(image, 0, 1))
        axes[row, 0].set_title(row_titles[row] if row_titles else "image", fontsize=9)
        axes[row, 0].axis("off")
        for col, (name, maps) in enumerate(attributions.items(), start=1):
            plot_attribution(axes[row, col], maps[row], image, method,
                             signs.get(name, "absolute_value"), name if row == 0 else "")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def overlay_heatmap(ax, image, heatmap, title="", sign="all", percentile: float = DISPLAY_PERCENTILE):
    """Draw a 2-D ``heatmap`` (a layer's map, resized to the image) over ``image``, with a colour bar.

    ``sign="all"`` shows both signs (green for, red against); ``"absolute_value"`` the magnitude.
    """
    image = _hwc(image)
    heatmap = np.asarray(heatmap.detach().cpu() if isinstance(heatmap, torch.Tensor) else heatmap, dtype=float)
    if heatmap.ndim != 2:
        raise ValueError(f"Expected a 2-D heat map, got shape {heatmap.shape}.")
    if heatmap.shape != image.shape[:2]:
        resized = torch.nn.functional.interpolate(
            torch.as_tensor(heatmap)[None, None], size=image.shape[:2], mode="bilinear", align_corners=False
        )
        heatmap = resized[0, 0].numpy()
    return plot_attribution(ax, heatmap, image, "blended_heat_map", sign, title, percentile=percentile)


def _hwc(image) -> np.ndarray:
    """Accept (H, W, C) arrays as they are and CHW tensors/arrays converted."""
    array = np.asarray(image.detach().cpu()) if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.ndim == 3 and array.shape[-1] in (1, 3) and array.shape[0] not in (1, 3):
        return array.astype(np.float64)
    return to_hwc(array)
