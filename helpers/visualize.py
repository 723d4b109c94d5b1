"""Figures: "image | heat map | overlay" rows and method grids, over captum's visualisation."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from captum.attr import visualization as viz
from matplotlib.colors import LinearSegmentedColormap

# The course's one colour convention: signed maps run from red (negative: against the class)
# through white (zero) to green (positive: for the class), as Captum's own default does.
SIGNED_CMAP = LinearSegmentedColormap.from_list("RdWhGn", ["red", "white", "green"])
# Colour maps by sign: one colour for magnitudes, the diverging map when sign matters.
SIGN_CMAPS = {"absolute_value": "Blues", "positive": "Greens", "negative": "Reds", "all": SIGNED_CMAP}


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


def plot_attribution(ax, attribution, image, method="blended_heat_map", sign="absolute_value",
                     title="", colorbar=True):
    """Draw one captum attribution view into ``ax`` (tensors or HWC arrays accepted)."""
    if sign not in SIGN_CMAPS:
        raise ValueError(f"Unknown sign {sign!r}: choose one of {', '.join(SIGN_CMAPS)}.")
    attribution, image = _hwc(attribution), _hwc(image)
    if not np.any(attribution):  # captum cannot normalise an all-zero map
        attribution = attribution + 1e-12
    viz.visualize_image_attr(
        attribution, image, method=method, sign=sign, plt_fig_axis=(ax.figure, ax),
        cmap=SIGN_CMAPS[sign], show_colorbar=colorbar, title=title, use_pyplot=False,
    )
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


def overlay_heatmap(ax, image, heatmap, title="", cmap=SIGNED_CMAP, alpha=0.6, symmetric=True):
    """Draw a 2-D ``heatmap`` (resized to the image) over ``image`` with a colour bar (green +, red -)."""
    image = _hwc(image)
    heatmap = np.asarray(heatmap.detach().cpu() if isinstance(heatmap, torch.Tensor) else heatmap, dtype=float)
    if heatmap.ndim != 2:
        raise ValueError(f"Expected a 2-D heat map, got shape {heatmap.shape}.")
    if heatmap.shape != image.shape[:2]:
        resized = torch.nn.functional.interpolate(
            torch.as_tensor(heatmap)[None, None], size=image.shape[:2], mode="bilinear", align_corners=False
        )
        heatmap = resized[0, 0].numpy()
    limit = np.abs(heatmap).max() or 1.0
    vmin, vmax = (-limit, limit) if symmetric else (heatmap.min(), heatmap.max())
    ax.imshow(np.clip(image, 0, 1).mean(axis=2), cmap="gray")
    shown = ax.imshow(heatmap, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax)
    ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    return ax


def _hwc(image) -> np.ndarray:
    """Accept (H, W, C) arrays as they are and CHW tensors/arrays converted."""
    array = np.asarray(image.detach().cpu()) if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.ndim == 3 and array.shape[-1] in (1, 3) and array.shape[0] not in (1, 3):
        return array.astype(np.float64)
    return to_hwc(array)
