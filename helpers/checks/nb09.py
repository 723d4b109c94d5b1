"""The checks of notebook 09's exercises (vision transformers)."""

from __future__ import annotations

import numpy as np
import torch

from helpers.checks.common import fail, passed, resolve

FUSION_CHOICES = ("mean", "min", "both", "neither")


def measure_fusions_first_stage(model, images, targets, groups) -> dict:
    """Per head fusion, the rank correlations of rollout's map before/after randomizing ``groups[0]`` alone."""
    from helpers.evaluation import randomization_sanity_check
    from helpers.vit import token_methods

    return {fusion: [randomization_sanity_check(model, x[None], int(t), token_methods(fusion)["rollout"],
                                                groups=groups[:1])[1][1] for x, t in zip(images, targets)]
            for fusion in ("mean", "min")}


def check_fusion_prediction(prediction, model, images, targets, groups, *, exercise: int) -> None:
    """``prediction``: which head fusion of rollout passes the first stage of the cascade (output layer alone).

    Runs the experiment and explains its outcome whatever was predicted; a wrong prediction fails with the
    measured numbers and the reason.
    """
    prediction = resolve(prediction, exercise, "prediction")
    if not isinstance(prediction, str) or prediction.strip().lower() not in FUSION_CHOICES:
        fail(exercise, f"prediction must be one of {', '.join(map(repr, FUSION_CHOICES))}, got {prediction!r}.")
    prediction = prediction.strip().lower()
    measured = measure_fusions_first_stage(model, images, targets, groups)
    passing = [fusion for fusion, values in measured.items() if np.nanmax(values) < 0.5]
    outcome = {0: "neither", 2: "both"}.get(len(passing), passing[0] if passing else "neither")
    numbers = "; ".join(f"{fusion}: rank correlation {np.nanmean(values):.3f} (min {np.nanmin(values):.3f}) over "
                        f"{len(values)} images" for fusion, values in measured.items())
    unchanged = all(np.allclose(values, 1.0) for values in measured.values())
    why = ("Rollout is computed from the attention matrices alone, and randomizing the output layer changes "
           "the class scores but not one attention weight: whatever the head fusion, the map cannot change, "
           "so it says nothing about which class the model chose." if unchanged else
           "The maps changed after the output layer alone was randomized; look at which fusion moved most.")
    if prediction != outcome:
        fail(exercise, f"you predicted {prediction!r}, the experiment says {outcome!r} ({numbers}). {why}")
    passed(exercise, f"you predicted {prediction!r}, and so it is ({numbers}). {why}")


def reference_max_rollout(attentions) -> torch.Tensor:
    """Rollout with max head fusion: R = Â_L ... Â_1, Â = rows-normalised (max_h A_h + I) / 2."""
    t = attentions[0].shape[-1]
    identity = torch.eye(t, device=attentions[0].device).expand(attentions[0].shape[0], t, t)
    rollout = identity
    for attention in attentions:
        mixed = (attention.max(dim=1).values + identity) / 2
        rollout = (mixed / mixed.sum(dim=-1, keepdim=True)) @ rollout
    return rollout


def check_max_rollout(student_fn, attentions, *, exercise: int) -> None:
    """``student_fn(attentions)`` is attention rollout with the heads fused by their elementwise maximum."""
    from helpers.vit import attention_rollout

    attentions = [a.detach() for a in attentions]
    cases = [("a hand-made 2-block, 2-head example", _toy_attentions()), ("the tiny ViT's attention", attentions)]
    for name, case in cases:
        value = resolve(lambda: student_fn([a.clone() for a in case]), exercise, "rollout_max(...)")
        if not isinstance(value, torch.Tensor):
            fail(exercise, f"return a torch.Tensor (N, T, T), got {type(value).__name__}.")
        expected = reference_max_rollout(case)
        if tuple(value.shape) != tuple(expected.shape):
            fail(exercise, f"on {name} expected shape {tuple(expected.shape)} (N, T, T), got {tuple(value.shape)}: "
                           f"fuse over the heads (dim 1) and keep the batch and both token dimensions.")
        value = value.detach().to(expected.dtype)
        if torch.allclose(value, expected, atol=1e-5):
            continue
        fail(exercise, f"on {name} your rollout differs from the expected one by up to "
                       f"{float((value - expected).abs().max()):.3g}. {_diagnose_rollout(value, case)}")
    passed(exercise, f"max-fusion rollout is right on {len(cases)} cases, among them {len(attentions)} blocks of the "
                     f"tiny ViT (the class token's row differs from mean fusion's by "
                     f"{float((reference_max_rollout(attentions) - attention_rollout(attentions))[:, 0].abs().max()):.3g}).")


def _toy_attentions() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(9)
    return [torch.softmax(3 * torch.randn(1, 2, 5, 5, generator=generator), dim=-1) for _ in range(2)]


def _diagnose_rollout(value: torch.Tensor, attentions) -> str:
    from helpers.vit import attention_rollout

    t = attentions[0].shape[-1]
    identity = torch.eye(t).expand(attentions[0].shape[0], t, t)
    fused = [a.max(dim=1).values for a in attentions]
    no_residual, unnormalised, reversed_order = identity, identity, identity
    for f in fused:
        no_residual = (f / f.sum(-1, keepdim=True)) @ no_residual
        unnormalised = ((f + identity) / 2) @ unnormalised
        reversed_order = reversed_order @ (((f + identity) / 2) / ((f + identity) / 2).sum(-1, keepdim=True))
    if torch.allclose(value, attention_rollout(attentions), atol=1e-5):
        return "It equals mean-fusion rollout: take the elementwise maximum over the heads instead of their mean."
    if torch.allclose(value, no_residual, atol=1e-5) or torch.allclose(value, _plain_product(fused), atol=1e-5):
        return "The residual connection is missing: each block's token also keeps itself, (A + I) / 2."
    if torch.allclose(value, unnormalised, atol=1e-5):
        return ("Its rows do not sum to 1: the maximum of several heads' rows sums to more than 1, so renormalise "
                "each block's rows after adding the identity.")
    if torch.allclose(value, reversed_order, atol=1e-5):
        return "The blocks are multiplied in the wrong order: a later block's matrix goes on the left."
    rows = value.sum(-1)
    if not torch.allclose(rows, torch.ones_like(rows), atol=1e-4):
        return (f"Its rows sum to {float(rows.min()):.3g}..{float(rows.max()):.3g}, not 1: every block's matrix "
                "must be a row-normalised mix of the fused attention and the identity.")
    return "Compare one block at a time with mean fusion: fuse, add the identity, halve, renormalise, multiply."


def _plain_product(fused) -> torch.Tensor:
    t = fused[0].shape[-1]
    product = torch.eye(t).expand(fused[0].shape[0], t, t)
    for f in fused:
        product = f @ product
    return product



# --------------------------------------------------------------------------- exercise 3: token Grad-CAM (debug)


def token_layer_recording(model, images, targets, layer) -> tuple[torch.Tensor, torch.Tensor]:
    """``layer``'s output tokens (N, T, D) for ``images`` and the gradient of each image's target score on them."""
    recorded = {}
    handle = layer.register_forward_hook(lambda module, inputs, output: recorded.update(tokens=output))
    try:
        with torch.enable_grad():
            scores = model(images.detach().clone().requires_grad_(True))
            score = scores.gather(1, torch.as_tensor(targets).view(-1, 1)).sum()
            (gradient,) = torch.autograd.grad(score, recorded["tokens"])
    finally:
        handle.remove()
    return recorded["tokens"].detach(), gradient.detach()


def _one_bright_patch(side: int = 4, depth: int = 3, row: int = 1, column: int = 2):
    """Tokens (1, 1 + side², depth): one bright patch at (row, column), a brighter class token, all gradients 1."""
    activations = torch.zeros(1, 1 + side * side, depth)
    activations[0, 0] = 2.0                          # the class token
    activations[0, 1 + row * side + column, 0] = 1.0  # one patch, channel 0
    gradients = torch.zeros_like(activations)
    gradients[..., 0] = 1.0                          # only channel 0 matters, with weight 1
    expected = torch.zeros(1, side, side)
    expected[0, row, column] = 1.0
    return activations, gradients, expected


def _where(grid: torch.Tensor) -> str:
    bright = torch.nonzero(grid[0] > 0.5 * grid[0].max()).tolist() if float(grid[0].max()) > 0 else []
    return ", ".join(f"(row {r}, column {c})" for r, c in bright[:4]) or "nowhere"


def check_token_gradcam(student_fn, model, images, targets, layer, *, exercise: int) -> None:
    """``student_fn(activations, gradients)``: Grad-CAM (N, g, g) from a ViT layer's tokens and their gradients,
    both (N, 1 + g*g, D) with the class token first. Checked on a hand-made example, then on the tiny ViT against
    ``helpers.vit.gradcam_tokens``."""
    from helpers.vit import gradcam_tokens

    activations, gradients, expected = _one_bright_patch()
    value = resolve(lambda: student_fn(activations.clone(), gradients.clone()), exercise, "token_gradcam(...)")
    if not isinstance(value, torch.Tensor):
        fail(exercise, f"return a torch.Tensor (N, g, g), got {type(value).__name__}.")
    if tuple(value.shape) != tuple(expected.shape):
        fail(exercise, f"on 16 patch tokens of 3 channels (a 4x4 grid) expected a map of shape {tuple(expected.shape)}, "
                       f"got {tuple(value.shape)}.")
    value = value.detach().float()
    if not torch.allclose(value, expected, atol=1e-5):
        seen = (f"On a hand-made 4x4 grid with one bright patch at (row 1, column 2) and a brighter class token, your "
                f"map lights {_where(value)}")
        if float(value[0, 0, 0]) > 1.5 and float(value[0, 1, 3]) > 0.5:
            fail(exercise, f"{seen}: the top-left square holds the class token's value, and the bright patch "
                           f"sits one square after its place in reading order. Every token is shifted by one.")
        if float(value[0, 2, 1]) > 0.5:
            fail(exercise, f"{seen}: rows and columns are swapped (the map is transposed).")
        if _where(value) == "(row 1, column 2)":
            fail(exercise, f"{seen}, the right square, but with the value {float(value[0, 1, 2]):.3g} instead of 1 "
                           f"(its only channel with a gradient has gradient 1 at every patch): each channel's weight "
                           f"is the mean of its gradient over the patch tokens.")
        fail(exercise, f"{seen}: the map is scrambled. Each token carries D channel values; fold the patch tokens "
                       f"into the grid with the channels last, then move the channels in front.")
    tokens, token_gradients = token_layer_recording(model, images, targets, layer)
    value = resolve(lambda: student_fn(tokens.clone(), token_gradients.clone()), exercise, "token_gradcam(...)")
    reference = torch.cat([gradcam_tokens(model, x[None], int(t), layer) for x, t in zip(images, targets)])
    value = torch.as_tensor(value).detach().float()
    if tuple(value.shape) != tuple(reference.shape):
        fail(exercise, f"on the tiny ViT expected shape {tuple(reference.shape)}, got {tuple(value.shape)}.")
    if float(value.min()) < 0:
        fail(exercise, f"on the tiny ViT your maps go down to {float(value.min()):.3g}: Grad-CAM keeps only the "
                       f"positive part of the weighted sum.")
    error = float((value - reference).abs().max() / reference.abs().max().clamp_min(1e-12))
    if error > 1e-4:
        fail(exercise, f"on the tiny ViT your maps differ from Grad-CAM's by up to {error:.1%} of its largest value: "
                       f"each channel's weight is the mean of its gradient over the patch tokens.")
    passed(exercise, f"token Grad-CAM is right on the hand-made grid and on {len(images)} images of the tiny ViT "
                     f"({reference.shape[-1]}x{reference.shape[-1]} grid, largest difference {error:.1e} of the "
                     f"maximum).")
