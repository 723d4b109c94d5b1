"""Input validation shared by the whole teaching library: one place, one wording for every error."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def check_count(value, name: str, minimum: int = 1) -> int:
    """An integer >= ``minimum``, or a ``ValueError`` that names the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def prepare_inputs(model, x, target, baseline):
    """Check the arguments shared by the attribution methods; put everything on the model's device.

    Returns (x in its own floating dtype (float32 for integer images), one target index per image,
    baseline of x's shape and dtype; zeros if None).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a tensor of shape (N, C, H, W), got {shape}.")
    device = model_device(model, default=x.device)
    x = x.detach().to(device, x.dtype if x.is_floating_point() else torch.float32)
    targets = torch.as_tensor(target, device=device).flatten()
    if targets.is_floating_point() and not torch.equal(targets, targets.round()):
        raise ValueError(f"target must be whole class indices, got {target!r}.")
    targets = targets.long()
    if targets.numel() == 1:
        targets = targets.repeat(len(x))
    if len(targets) != len(x):
        raise ValueError(f"target must be one class index or one per image ({len(x)}), got {len(targets)}.")
    if baseline is None:
        baseline = torch.zeros_like(x)
    baseline = torch.as_tensor(baseline, dtype=x.dtype, device=device).expand_as(x)
    return x, targets, baseline


def model_device(model: nn.Module, default=None) -> torch.device:
    """The device of the model's first parameter or buffer; ``default`` (or the CPU) for a model with neither."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device(default or "cpu")
