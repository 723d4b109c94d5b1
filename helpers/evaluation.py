"""Testing explanations: deletion/insertion curves and the model randomization check.

- Deletion / insertion (Petsiuk et al., 2018): remove (or reveal) pixels in the order an
  attribution ranks them and follow the target probability. A faithful map makes it fall
  fast (deletion) or rise fast (insertion); a random order is the reference to beat.
- Model randomization (Adebayo et al., 2018): randomise the model's layers from the top
  down; a map that stays the same does not depend on what the model learned.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from helpers.randomness import seeded
from helpers.validate import check_count, prepare_inputs


FORWARD_BATCH = 4  # images per forward pass: on 2 CPU cores 4 ran at 20 ms per 224x224 image, 16 at 33 ms


def pixel_order(attribution: torch.Tensor) -> torch.Tensor:
    """Pixel indices (H*W) from most to least important; channels are summed."""
    if attribution.dim() != 4 or len(attribution) != 1:
        raise ValueError(f"attribution must have shape (1, C, H, W), got {tuple(attribution.shape)}.")
    return attribution.sum(dim=1).flatten().argsort(descending=True)


def random_attribution(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A random map of x's shape: the reference order every method must beat."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(x.shape, generator=generator).to(x.device)


def blurred(x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """A heavily blurred copy of x (sigma: 1/20 of the image side by default), the insertion start."""
    side = min(x.shape[-2:])
    sigma = sigma or max(1.0, side / 20)
    kernel = min(int(6 * sigma) | 1, side if side % 2 else side - 1)  # ±3 sigma, odd, no larger than the image
    return gaussian_blur(x, [kernel, kernel], [sigma, sigma])


def deletion_curve(model: nn.Module, x: torch.Tensor, target: int, attribution: torch.Tensor,
                   steps: int = 20, baseline=None, batch_size: int = FORWARD_BATCH):
    """Target probability as the most important pixels are replaced by ``baseline`` (default black).

    One image ``x`` (1, C, H, W) and one class index ``target`` (an int); ``model`` returns
    logits, the softmax is applied here.
    Returns (fractions of pixels removed, probabilities), both of length ``steps + 1``.
    """
    target = _one_image_one_target(x, target)
    x, _, baseline = prepare_inputs(model, x, target, baseline)
    return _path_curve(model, x, baseline, target, attribution, steps, batch_size)


def insertion_curve(model: nn.Module, x: torch.Tensor, target: int, attribution: torch.Tensor,
                    steps: int = 20, start=None, batch_size: int = FORWARD_BATCH):
    """Target probability as the most important pixels of x are pasted into ``start`` (default: x blurred).

    One image ``x`` (1, C, H, W) and one class index ``target`` (an int); ``model`` returns
    logits, the softmax is applied here.
    Returns (fractions of pixels revealed, probabilities), both of length ``steps + 1``.
    """
    target = _one_image_one_target(x, target)
    x, _, _ = prepare_inputs(model, x, target, None)
    start = blurred(x) if start is None else torch.as_tensor(start, dtype=x.dtype, device=x.device).expand_as(x)
    return _path_curve(model, start, x, target, attribution, steps, batch_size)


def _one_image_one_target(x, target) -> int:
    """The curves follow one probability of one image: check it, and return ``target`` as an int."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or len(x) != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be one image of shape (1, C, H, W), got {shape}; "
                         "call the curve once per image.")
    if isinstance(target, torch.Tensor) and target.numel() == 1 and not target.is_floating_point():
        target = target.item()
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 0:
        raise ValueError(f"target must be one class index (an int >= 0), got {target!r}.")
    return int(target)


def _path_curve(model, source, replacement, target, attribution, steps, batch_size):
    """Probabilities of ``source`` with the top-k pixels (by attribution) taken from ``replacement``."""
    steps = check_count(steps, "steps")
    if attribution.shape[-2:] != source.shape[-2:]:
        raise ValueError(f"attribution {tuple(attribution.shape)} does not match the image {tuple(source.shape)}.")
    order = pixel_order(attribution.to(source.device))
    n_pixels = order.numel()
    counts = [round(n_pixels * k / steps) for k in range(steps + 1)]
    probabilities = []
    for first in range(0, len(counts), batch_size):
        images = []
        for count in counts[first:first + batch_size]:
            mask = torch.zeros(n_pixels, device=source.device)
            mask[order[:count]] = 1
            mask = mask.view(1, 1, *source.shape[-2:])
            images.append(source * (1 - mask) + replacement * mask)
        with torch.no_grad():
            logits = model(torch.cat(images))
        if target >= logits.shape[1]:
            raise ValueError(f"target {target} out of range: the model has {logits.shape[1]} classes.")
        probabilities.append(torch.softmax(logits, dim=1)[:, target].cpu())
    fractions = np.array(counts) / n_pixels
    return fractions, torch.cat(probabilities).numpy()


def curve_auc(fractions, probabilities) -> float:
    """Area under a deletion/insertion curve (trapezoid rule over the pixel fraction)."""
    fractions, probabilities = np.asarray(fractions, float), np.asarray(probabilities, float)
    if fractions.shape != probabilities.shape or fractions.ndim != 1 or len(fractions) < 2:
        raise ValueError("fractions and probabilities must be 1-D arrays of the same length (>= 2).")
    return float(np.trapezoid(probabilities, fractions))


def normalised_auc(auc, probability):
    """A deletion or insertion AUC divided by P(x), the target probability of the intact image.

    Raw AUCs are in probability units, so a photo at P(x) = 96% outweighs one at 13% in a mean;
    divided by P(x), every photo is on one scale (1 = the probability never left P(x)).
    Works on numbers, arrays and pandas columns; P(x) must be > 0.
    """
    probability = np.asarray(probability, dtype=float)
    if not np.all(probability > 0):
        raise ValueError(f"P(x) must be > 0 to normalise an AUC, got {probability}.")
    return auc / probability if np.ndim(auc) else float(auc / probability)


def group_label(group: list[str], prefix: str = "") -> str:
    """A tick label naming a whole ``cascade_groups`` group: its first and last module (``prefix`` dropped)
    and how many modules it holds, e.g. "_fc … _blocks.15._bn2 (5 layers)"."""
    if not group:
        raise ValueError("a group holds at least one module name.")
    names = [name.removeprefix(prefix) for name in group]
    return names[0] if len(names) == 1 else f"{names[0]} … {names[-1]} ({len(names)} layers)"


def cascade_groups(model: nn.Module, n_groups: int = 8) -> list[list[str]]:
    """The model's parametrised modules from the output back to the input, in ``n_groups`` groups."""
    n_groups = check_count(n_groups, "n_groups")
    names = [name for name, module in model.named_modules() if list(module.parameters(recurse=False))]
    if not names:
        raise ValueError("The model has no parameters to randomise.")
    names.reverse()
    return [list(chunk) for chunk in np.array_split(np.array(names, dtype=object), min(n_groups, len(names)))]


def randomization_sanity_check(model: nn.Module, x: torch.Tensor, target: int, attribute, n_groups: int = 8,
                               seed: int = 0, groups: list[list[str]] | None = None) -> list[tuple[str, float]]:
    """Cascading model randomization: Spearman correlation of |map| before and after.

    ``attribute(model, x, target)`` returns a map of x's shape. The layers are re-initialised
    group by group from the top (``cascade_groups``, or the module names of ``groups`` when given),
    cumulatively, on a copy of the model.
    Returns [(first layer of the last randomised group, correlation)], starting with
    ("none", 1.0). A method that passes shows correlations falling towards 0.

    A constant map (before or after) ranks no pixels, so its correlation is undefined: it is
    returned as NaN, with a warning, and counts as a failure (``passes_randomization``), never as
    a correlation of 0. The random re-initialisation draws from a forked RNG seeded with
    ``seed``: the caller's global random state is left as it was.
    """
    reference = _map_magnitudes(attribute(model, x, target))
    results = [("none", 1.0 if np.ptp(reference) > 0 else _undefined("the original map", "before randomization"))]
    for group, randomised in _randomise_in_stages(model, n_groups, seed, groups):
        results.append((group[0], _spearman(reference, _map_magnitudes(attribute(randomised, x, target)), group[0])))
    return results


def passes_randomization(results: list[tuple[str, float]], threshold: float = 0.5) -> bool:
    """True when the last correlation of ``randomization_sanity_check`` is a number below ``threshold``.

    NaN (a constant map, see ``randomization_sanity_check``) is a failure.
    """
    final = results[-1][1]
    return bool(np.isfinite(final) and final < threshold)


def randomized_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of ``model`` with every parametrised layer re-initialised (the end of the cascade)."""
    for _, randomised in _randomise_in_stages(model, 1, seed):
        pass
    return randomised


def _randomise_in_stages(model: nn.Module, n_groups: int, seed: int, groups: list[list[str]] | None = None):
    """Yield (group, copy of ``model``) after re-initialising each group of ``cascade_groups``, cumulatively.

    The same copy is yielded each time, further randomised; the draws come from a forked RNG
    seeded with ``seed`` (the caller's random state is restored when the stages are done).
    """
    randomised = copy.deepcopy(model)
    modules = dict(randomised.named_modules())
    if groups is not None:
        unknown = [name for group in groups for name in group if name not in modules]
        if unknown or not all(groups):
            raise ValueError(f"groups must be non-empty lists of the model's module names; unknown: {unknown}.")
    with seeded(seed):
        for group in cascade_groups(randomised, n_groups) if groups is None else groups:
            for name in group:
                _reinitialise(modules[name])
            yield group, randomised


def _spearman(reference: np.ndarray, other: np.ndarray, layer: str) -> float:
    if np.ptp(reference) == 0 or np.ptp(other) == 0:
        which = "the original map" if np.ptp(reference) == 0 else "the map"
        return _undefined(which, f"after randomising down to {layer!r}")
    return float(spearmanr(reference, other).statistic)


def _undefined(which: str, when: str) -> float:
    warnings.warn(f"randomization_sanity_check: {which} is constant {when}; its rank correlation is "
                  "undefined and reported as NaN, which counts as a failure (a constant map ranks no pixels).",
                  RuntimeWarning, stacklevel=3)
    return float("nan")



def _map_magnitudes(attribution: torch.Tensor) -> np.ndarray:
    """|attribution| summed over channels, flattened: what Spearman's correlation ranks."""
    return attribution.detach().abs().sum(dim=1).flatten().cpu().numpy()


def _reinitialise(module: nn.Module) -> None:
    if hasattr(module, "reset_parameters"):
        module.reset_parameters()
    else:  # e.g. a custom layer: replace its own parameters by Gaussian noise of the same scale
        for parameter in module.parameters(recurse=False):
            with torch.no_grad():
                parameter.normal_(0, float(parameter.std()) if parameter.numel() > 1 else 1.0)
