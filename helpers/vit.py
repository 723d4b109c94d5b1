"""Vision transformers explained: a tiny ViT, its attention, rollout, gradient-weighted rollout, Grad-CAM on tokens.

Works on torchvision's ``VisionTransformer`` (the course's tiny ViT and ``vit_b_16``), also when it
sits inside the course's ``nn.Sequential(Normalize, net)`` wrapper. Attention matrices have the
shape (N, heads, T, T) with T = 1 + number of patches; token 0 is the class token and the patches
follow row by row (token 1 + i * w + j is the patch in row i, column j of the grid).

- ``recording_attention``: the softmax attention of every block, kept in the autograd graph.
- ``attention_rollout`` (Abnar & Zuidema, 2020): R = Â_L ... Â_1, Â = rows-normalised (A_fused + I) / 2.
- ``gradient_weighted_rollout`` (Chefer et al., 2021): R = (I + Ā_L) ... (I + Ā_1), Ā = E_h[(∇A ⊙ A)+].
- ``token_grid``: the ``reshape_transform`` that pytorch-grad-cam needs for a ViT.
- ``gradcam_tokens``: Grad-CAM on the token grid, by hand.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Subset
from torchvision.models import VisionTransformer

from helpers.validate import check_count
from helpers.models import Normalize, load_checkpoint, save_checkpoint
from helpers.settings import progress

# The course's tiny ViT: 32x32 images cut into an 8x8 grid of 4x4 patches, 4 blocks of 4 heads.
TINY_VIT = {"image_size": 32, "patch_size": 4, "num_layers": 4, "num_heads": 4, "hidden_dim": 64, "mlp_dim": 128}
HEAD_FUSIONS = ("mean", "min")


# --------------------------------------------------------------------------- the model


def tiny_vit(num_classes: int = 10, **config) -> nn.Sequential:
    """torchvision's ``VisionTransformer`` with ``TINY_VIT``'s sizes behind a (0.5, 0.5) normalisation."""
    return nn.Sequential(Normalize((0.5,) * 3, (0.5,) * 3),
                         VisionTransformer(**{**TINY_VIT, **config}, num_classes=num_classes))


def find_vit(model: nn.Module) -> VisionTransformer:
    """The ``VisionTransformer`` inside ``model`` (the model itself or a submodule)."""
    for module in model.modules():
        if isinstance(module, VisionTransformer):
            return module
    raise TypeError(f"{type(model).__name__} contains no torchvision VisionTransformer: the attention methods "
                    "need a transformer (a CNN has no attention to read).")


def train_classifier(model: nn.Module, data, epochs: int = 1, batch_size: int = 128, learning_rate: float = 2e-3,
                     seed: int = 0, device="cpu"):
    """Train ``model`` in place with AdamW and a one-cycle schedule; return it in eval mode and the batch losses."""
    check_count(epochs, "epochs")
    torch.manual_seed(seed)
    loader = DataLoader(data, batch_size=check_count(batch_size, "batch_size"), shuffle=True, drop_last=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=epochs * len(loader))
    losses = []
    model.to(device).train()
    for epoch in range(epochs):
        bar = progress(loader, desc=f"epoch {epoch + 1}/{epochs}", mininterval=1)
        for images, labels in bar:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images.to(device)), labels.to(device))
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            if len(losses) % 50 == 0:
                bar.set_postfix(loss=f"{sum(losses[-50:]) / 50:.3f}")
    return model.eval(), losses


@torch.no_grad()
def accuracy(model: nn.Module, data, batch_size: int = 500) -> float:
    """Share of ``data`` (image, label) that ``model`` classifies right."""
    device = next(model.parameters()).device
    right = total = 0
    for images, labels in DataLoader(data, batch_size=batch_size):
        right += int((model(images.to(device)).argmax(1).cpu() == labels).sum())
        total += len(labels)
    return right / total


def load_tiny_vit(path) -> tuple[nn.Sequential, dict]:
    """A checkpoint written by ``load_or_train_tiny_vit``: the model (eval mode) and its metadata."""
    return load_checkpoint(path, lambda meta: tiny_vit(len(meta["classes"]), **meta["config"]), "tiny ViT",
                           "train it first (load_or_train_tiny_vit)")


def load_or_train_tiny_vit(dataset, path, training: dict, device="cpu"):
    """Load the tiny ViT from ``path`` if it was trained with exactly ``training``; train and save it otherwise.

    ``training``: epochs, batch_size, learning_rate, seed, train_subset (None = every image).
    Returns (model, metadata, seconds spent training or None when loaded).
    """
    path = Path(path)
    wanted = {**training, "dataset": dataset.name, "config": TINY_VIT}
    if path.is_file():
        model, meta = load_tiny_vit(path)
        if meta.get("training") == wanted:
            return model.to(device), meta, None
    subset = training.get("train_subset")
    data = dataset.train if subset is None else Subset(dataset.train, range(subset))
    start = time.perf_counter()
    model, losses = train_classifier(tiny_vit(len(dataset.classes)), data, training["epochs"], training["batch_size"],
                                     training["learning_rate"], training["seed"], device)
    seconds = time.perf_counter() - start
    meta = {"dataset": dataset.name, "classes": list(dataset.classes), "config": TINY_VIT, "training": wanted,
            "accuracy": accuracy(model, dataset.test), "train_images": len(data), "final_loss": losses[-1]}
    save_checkpoint(model, path, **meta)
    return model, meta, seconds


# --------------------------------------------------------------------------- attention


def _attention_forward(mha: nn.MultiheadAttention, store: list):
    """A forward for ``mha`` that computes self-attention explicitly and appends its weights to ``store``."""
    def forward(query, key, value, **_):
        if not (query is key is value):
            raise ValueError("recording_attention supports self-attention only (query, key and value the same).")
        n, t, d = query.shape
        heads = mha.num_heads
        q, k, v = F.linear(query, mha.in_proj_weight, mha.in_proj_bias).view(n, t, 3, heads, d // heads).permute(
            2, 0, 3, 1, 4)
        attention = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // heads), dim=-1)  # (N, heads, T, T)
        store.append(attention)
        return mha.out_proj((attention @ v).transpose(1, 2).reshape(n, t, d)), None
    return forward


@contextmanager
def recording_attention(model: nn.Module):
    """Within the block, every forward pass appends each encoder block's attention (N, heads, T, T) to a list."""
    blocks = list(find_vit(model).encoder.layers)
    store: list[torch.Tensor] = []
    for block in blocks:
        block.self_attention.forward = _attention_forward(block.self_attention, store)
    try:
        yield store
    finally:
        for block in blocks:
            del block.self_attention.forward  # back to nn.MultiheadAttention.forward


def attention_and_gradients(model: nn.Module, x: torch.Tensor, target=None):
    """(attentions, gradients of the target logit with respect to them or None, logits); lists over the blocks."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"x must be a batch of images (N, C, H, W), got {getattr(x, 'shape', type(x).__name__)}.")
    with torch.enable_grad(), recording_attention(model) as attentions:
        logits = model(x.detach().requires_grad_(target is not None))
        if target is None:
            return [a.detach() for a in attentions], None, logits.detach()
        targets = torch.as_tensor(target, device=logits.device).long().flatten().expand(len(x))
        if int(targets.max()) >= logits.shape[1] or int(targets.min()) < 0:
            raise ValueError(f"target out of range: the model has {logits.shape[1]} classes.")
        gradients = torch.autograd.grad(logits.gather(1, targets.view(-1, 1)).sum(), attentions)
    return [a.detach() for a in attentions], [g.detach() for g in gradients], logits.detach()


def _check_attentions(attentions) -> list[torch.Tensor]:
    attentions = list(attentions)
    if not attentions:
        raise ValueError("attentions is empty: pass one (N, heads, T, T) tensor per block.")
    shape = attentions[0].shape
    for a in attentions:
        if a.dim() != 4 or a.shape[-1] != a.shape[-2] or a.shape != shape:
            raise ValueError(f"every attention must have the same shape (N, heads, T, T), got {tuple(a.shape)} "
                             f"and {tuple(shape)}.")
    return attentions


def fuse_heads(attention: torch.Tensor, head_fusion: str = "mean") -> torch.Tensor:
    """One (N, T, T) matrix from the heads of (N, heads, T, T): their mean or their elementwise minimum."""
    if head_fusion == "mean":
        return attention.mean(dim=1)
    if head_fusion == "min":
        return attention.min(dim=1).values
    raise ValueError(f"Unknown head_fusion {head_fusion!r}: choose one of {', '.join(HEAD_FUSIONS)}.")


def attention_rollout(attentions, head_fusion: str = "mean") -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020): (N, T, T), how much each token flows into each after all blocks.

    Each block's fused attention gets the residual connection, Â = (A + I) / 2, rows normalised to 1;
    the blocks multiply in order, R = Â_L ... Â_2 Â_1.
    """
    attentions = _check_attentions(attentions)
    n, _, t, _ = attentions[0].shape
    identity = torch.eye(t, device=attentions[0].device).expand(n, t, t)
    rollout = identity
    for attention in attentions:
        mixed = (fuse_heads(attention, head_fusion) + identity) / 2
        rollout = (mixed / mixed.sum(dim=-1, keepdim=True)) @ rollout
    return rollout


def gradient_weighted_rollout(attentions, gradients) -> torch.Tensor:
    """Chefer et al. (2021): R = (I + Ā_L) ... (I + Ā_1) with Ā = mean over heads of (∇A ⊙ A)+, shape (N, T, T)."""
    attentions = _check_attentions(attentions)
    gradients = list(gradients)
    if len(gradients) != len(attentions) or any(g.shape != a.shape for g, a in zip(gradients, attentions)):
        raise ValueError("gradients must be one tensor per block, each of its attention's shape.")
    n, _, t, _ = attentions[0].shape
    rollout = torch.eye(t, device=attentions[0].device).expand(n, t, t)
    for attention, gradient in zip(attentions, gradients):
        rollout = rollout + (gradient * attention).clamp(min=0).mean(dim=1) @ rollout
    return rollout


def class_token_map(matrix: torch.Tensor) -> torch.Tensor:
    """The class token's row over the patches, as the patch grid: (N, T, T) -> (N, h, w)."""
    if matrix.dim() != 3:
        raise ValueError(f"expected (N, T, T), got {tuple(matrix.shape)}.")
    return _as_grid(matrix[:, 0, 1:])


def _as_grid(patches: torch.Tensor) -> torch.Tensor:
    side = math.isqrt(patches.shape[-1])
    if side * side != patches.shape[-1]:
        raise ValueError(f"{patches.shape[-1]} patch tokens do not form a square grid.")
    return patches.reshape(*patches.shape[:-1], side, side)


def token_grid(tokens: torch.Tensor) -> torch.Tensor:
    """pytorch-grad-cam's ``reshape_transform`` for a ViT: (N, 1 + h*w, D) tokens -> (N, D, h, w), class token dropped."""
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 3:
        raise ValueError(f"expected tokens (N, 1 + patches, D), got {getattr(tokens, 'shape', type(tokens).__name__)}.")
    return _as_grid(tokens[:, 1:].transpose(1, 2))


def gradcam_tokens(model: nn.Module, x: torch.Tensor, target: int, layer: nn.Module) -> torch.Tensor:
    """Grad-CAM on the token grid of ``layer``'s output: relu(sum_d mean_tokens(dS/dA_d) A_d), shape (N, h, w)."""
    recorded = {}
    handle = layer.register_forward_hook(lambda module, inputs, output: recorded.update(tokens=output))
    try:
        with torch.enable_grad():
            score = model(x.detach().requires_grad_(True))[:, target].sum()
            (gradient,) = torch.autograd.grad(score, recorded["tokens"])
    finally:
        handle.remove()
    activations, gradient = token_grid(recorded["tokens"].detach()), token_grid(gradient)
    return torch.relu((gradient.mean(dim=(2, 3), keepdim=True) * activations).sum(dim=1))


def to_pixels(grid_map: torch.Tensor, image_size: int) -> torch.Tensor:
    """A (N, h, w) token map as a (N, 1, H, W) pixel map, each patch one constant block (what the model sees)."""
    return F.interpolate(grid_map[:, None].float(), size=(image_size, image_size), mode="nearest")


# --------------------------------------------------------------------------- methods and cascade


def token_methods(head_fusion: str = "mean") -> dict:
    """Name -> attribute(model, x, target) giving a (1, 1, H, W) map, for the token-grid methods."""
    def last_attention(model, x, target):
        attentions, _, _ = attention_and_gradients(model, x)
        return to_pixels(_as_grid(attentions[-1].mean(dim=1)[:, 0, 1:]), x.shape[-1])

    def rollout(model, x, target):
        attentions, _, _ = attention_and_gradients(model, x)
        return to_pixels(class_token_map(attention_rollout(attentions, head_fusion)), x.shape[-1])

    def weighted(model, x, target):
        attentions, gradients, _ = attention_and_gradients(model, x, target)
        return to_pixels(class_token_map(gradient_weighted_rollout(attentions, gradients)), x.shape[-1])

    def gradcam(model, x, target):
        return to_pixels(gradcam_tokens(model, x, target, gradcam_layer(model)), x.shape[-1])

    return {"last-layer attention": last_attention, "rollout": rollout,
            "gradient-weighted rollout": weighted, "Grad-CAM (tokens)": gradcam}


def gradcam_layer(model: nn.Module) -> nn.Module:
    """The layer Grad-CAM reads in a ViT: the last block's first LayerNorm (its patch tokens still reach the output)."""
    return find_vit(model).encoder.layers[-1].ln_1


def vit_cascade_groups(model: nn.Module) -> list[list[str]]:
    """Layers to randomise, top down: the output layer alone, then each block (last first), then the embeddings."""
    prefix = next(name for name, module in model.named_modules() if isinstance(module, VisionTransformer))
    prefix = f"{prefix}." if prefix else ""
    vit = find_vit(model)
    owns = {name for name, module in model.named_modules() if list(module.parameters(recurse=False))}

    def inside(path):
        return sorted(name for name in owns if name == path or name.startswith(path + "."))

    groups = [inside(f"{prefix}heads")]
    blocks = [f"{prefix}encoder.layers.{name}" for name, _ in vit.encoder.layers.named_children()]
    for index, block in enumerate(reversed(blocks)):
        groups.append(([f"{prefix}encoder.ln"] if index == 0 else []) + inside(block))
    groups.append(sorted({f"{prefix}conv_proj", f"{prefix}encoder", prefix.rstrip(".")} & owns))
    return groups
