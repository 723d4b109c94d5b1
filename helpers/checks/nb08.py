"""The checks of notebook 08's exercises."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from helpers.checks.common import fail, passed, resolve, as_array, _diagnose, fresh


def _layer_activations_and_gradients(model, layer, x, target):
    """The layer's output A and d model(x)[0, target] / dA, both (1, K, h, w), detached."""
    recorded = {}
    handle = layer.register_forward_hook(lambda module, inputs, output: recorded.update(A=output))
    try:
        with torch.enable_grad():
            score = model(x.detach().clone().requires_grad_(True))[0, target]
            (grads,) = torch.autograd.grad(score, recorded["A"])
    finally:
        handle.remove()
    return recorded["A"].detach(), grads.detach()


def _matches(value, expected) -> bool:
    if tuple(value.shape) != tuple(expected.shape):
        return False
    scale = float(expected.abs().max()) or 1.0
    return bool(torch.allclose(value, expected, rtol=1e-3, atol=1e-4 * scale))


def check_gradcam_by_hand(student_fn, model, layer, x, target, *, exercise: int) -> None:
    """``student_fn(model, layer, x, target)`` is Grad-CAM at the layer's resolution, (1, 1, h, w),
    as Captum's ``LayerGradCam(model, layer).attribute(x, target, relu_attributions=True)``."""
    from captum.attr import LayerGradCam

    value = resolve(lambda: student_fn(*fresh((model, layer, x, target))), exercise, "gradcam_by_hand(...)")
    if not isinstance(value, torch.Tensor):
        fail(exercise, f"return a torch.Tensor, got {type(value).__name__}.")
    expected = LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True).detach()
    value = value.detach().to(expected.device, expected.dtype)
    activations, grads = _layer_activations_and_gradients(model, layer, x, target)
    per_position = torch.relu((grads.mean(dim=1, keepdim=True) * activations).sum(dim=1, keepdim=True))
    if _matches(value, per_position) and not _matches(value, expected):
        fail(exercise, "the map is what you get when every *position* has its own weight, shared by all "
                       "channels. Grad-CAM gives each *channel* one weight, the same at every position: over "
                       "which axes should the gradient be averaged?")
    if tuple(value.shape) != tuple(expected.shape):
        fail(exercise, f"expected shape {tuple(expected.shape)} (one channel at the layer's resolution), got "
                       f"{tuple(value.shape)}: sum the weighted channels with keepdim=True and do not upsample.")
    if float(value.min()) < 0:
        fail(exercise, "the map has negative values: Grad-CAM keeps only the positive part of the weighted sum.")
    scale = float(expected.abs().max()) or 1.0
    if not torch.allclose(value, expected, rtol=1e-3, atol=1e-4 * scale):
        hint = _diagnose(value.cpu().double().numpy(), expected.cpu().double().numpy())
        worst = float((value - expected).abs().max())
        fail(exercise, f"the map differs from Captum's LayerGradCam by up to {worst:.3g} (largest value "
                       f"{scale:.3g}). {hint} Each channel's weight is the *mean* of its gradient over the "
                       f"spatial positions, and the gradient is taken of the class score, not of the probability."
                       .strip())
    passed(exercise, f"Grad-CAM by hand equals Captum's LayerGradCam, shape {tuple(expected.shape)}.")


def check_guided_backprop_closed_form(student_fn, *, exercise: int, trials: int = 3) -> None:
    """``student_fn(W1, W2, x, c)`` equals Captum's GuidedBackprop on f(x) = W2 relu(W1 x), on random nets."""
    from captum.attr import GuidedBackprop
    from torch import nn

    generator = torch.Generator().manual_seed(8)
    for trial in range(trials):
        W1 = torch.randn(16, 6, generator=generator)
        W2 = torch.randn(4, 16, generator=generator)
        x = torch.randn(6, generator=generator)
        net = nn.Sequential(nn.Linear(6, 16, bias=False), nn.ReLU(), nn.Linear(16, 4, bias=False))
        with torch.no_grad():
            net[0].weight.copy_(W1)
            net[2].weight.copy_(W2)
        for c in range(4):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = GuidedBackprop(net).attribute(x[None].clone(), target=c)[0].detach()
            value = resolve(lambda: student_fn(*fresh((W1, W2, x, c))), exercise,
                            "guided_backprop_closed_form(...)")
            value = torch.as_tensor(as_array(value, exercise), dtype=torch.float32).flatten()
            if value.shape != expected.shape:
                fail(exercise, f"expected a vector of x's length {tuple(expected.shape)}, got {tuple(value.shape)}: "
                               f"the map lives in input space (multiply by W1 transposed at the end).")
            if torch.allclose(value, expected, rtol=1e-4, atol=1e-5):
                continue
            active = (W1 @ x > 0).float()
            if torch.allclose(value, W1.T @ (active * W2[c]), rtol=1e-4, atol=1e-5):
                fail(exercise, "that is the plain gradient. The guided rule also stops negative signals on the "
                               "way back through the ReLU: which factor can be negative there?")
            if torch.allclose(value, W1.T @ W2[c].clamp(min=0), rtol=1e-4, atol=1e-5):
                fail(exercise, "the units that are off for this x (W1 x <= 0) must pass nothing back, as in the "
                               "ordinary gradient of a ReLU.")
            fail(exercise, f"for class {c} of random net {trial + 1} the map differs from Captum's GuidedBackprop "
                           f"by up to {float((value - expected).abs().max()):.3g}. "
                           f"{_diagnose(value.double().numpy(), expected.double().numpy())} Go backwards: "
                           f"d f_c / d hidden = W2[c]; at the ReLU, keep it where the unit is on *and* the signal "
                           f"is positive; then map to the input with W1.".strip())
    passed(exercise, f"the closed form equals Captum's GuidedBackprop on {trials} random networks x 4 classes.")


def reference_gradcam_plus_plus(model, layer, x, target) -> torch.Tensor:
    """Grad-CAM++ at the layer's resolution, (1, 1, h, w), with pytorch-grad-cam's channel weights."""
    from pytorch_grad_cam import GradCAMPlusPlus

    activations, grads = _layer_activations_and_gradients(model, layer, x, target)
    # the library's weight formula on our recorded A and dy/dA (it uses no state of the object)
    weights = GradCAMPlusPlus.get_cam_weights(None, None, None, None, activations.cpu().numpy(), grads.cpu().numpy())
    weights = torch.as_tensor(np.asarray(weights), dtype=activations.dtype, device=activations.device)
    return torch.relu((weights[:, :, None, None] * activations).sum(dim=1, keepdim=True))


def check_gradcam_plus_plus(student_fn, model, layer, x, target, *, exercise: int) -> None:
    """``student_fn(model, layer, x, target)`` is Grad-CAM++ at the layer's resolution, (1, 1, h, w),
    as pytorch-grad-cam's ``GradCAMPlusPlus`` computes it before its upsampling and min-max scaling."""
    value = resolve(lambda: student_fn(*fresh((model, layer, x, target))), exercise, "gradcam_plus_plus(...)")
    if not isinstance(value, torch.Tensor):
        fail(exercise, f"return a torch.Tensor, got {type(value).__name__}.")
    expected = reference_gradcam_plus_plus(model, layer, x, target)
    value = value.detach().to(expected.device, expected.dtype)
    if tuple(value.shape) != tuple(expected.shape):
        fail(exercise, f"expected shape {tuple(expected.shape)} (one channel at the layer's resolution), got "
                       f"{tuple(value.shape)}: sum the weighted channels with keepdim=True and do not upsample.")
    if _matches(value, expected):
        passed(exercise, f"your Grad-CAM++ equals pytorch-grad-cam's GradCAMPlusPlus weights on this layer, "
                         f"shape {tuple(expected.shape)}.")
        return
    activations, grads = _layer_activations_and_gradients(model, layer, x, target)
    gradcam = torch.relu((grads.mean(dim=(2, 3), keepdim=True) * activations).sum(dim=1, keepdim=True))
    if float(value.min()) < 0:
        fail(exercise, "the map has negative values: like Grad-CAM, Grad-CAM++ keeps only the positive part of "
                     "the weighted sum of channels.")
    if _matches(value / (float(value.max()) or 1.0), gradcam / (float(gradcam.max()) or 1.0)):
        fail(exercise, "your map is Grad-CAM's (up to a factor): every position of a channel counts equally. "
                       "Grad-CAM++ weighs each position's positive gradient by its own alpha.")
    alpha = grads ** 2 / (2 * grads ** 2 + activations.sum(dim=(2, 3), keepdim=True) * grads ** 3 + 1e-6)
    signed = torch.relu(((alpha * grads).sum(dim=(2, 3), keepdim=True) * activations).sum(dim=1, keepdim=True))
    if _matches(value, signed):
        fail(exercise, "negative gradients pull your channel weights down: in Grad-CAM++ only the positive "
                       "part of each gradient enters a channel's weight.")
    worst = float((value - expected).abs().max())
    hint = _diagnose(value.cpu().double().numpy(), expected.cpu().double().numpy())
    fail(exercise, f"the map differs from pytorch-grad-cam's GradCAMPlusPlus by up to {worst:.3g} (largest value "
                   f"{float(expected.abs().max()):.3g}). {hint} Check alpha: the squared gradient over twice the "
                   f"squared gradient plus the channel's *spatial sum* of activations times the cubed gradient "
                   f"(+ 1e-6).".replace("  ", " "))


CLASS_CHOICES = {"gradient": "gradient", "saliency": "gradient", "guided backprop": "Guided Backprop",
                 "guidedbackprop": "Guided Backprop", "gb": "Guided Backprop"}


def class_change_correlations(model, x, target, other) -> dict:
    """Spearman correlation of |map| for class ``target`` and for class ``other``: gradient and Guided Backprop."""
    from scipy.stats import spearmanr

    from helpers.methods import make_methods

    methods = make_methods(names=["Saliency", "Guided Backprop"])
    result = {}
    for label, name in (("gradient", "Saliency"), ("Guided Backprop", "Guided Backprop")):
        first, second = (methods[name](model, x, t).abs().sum(dim=1).flatten().numpy() for t in (target, other))
        result[label] = float(spearmanr(first, second).statistic)
    return result


def check_class_prediction(prediction, model, x, target, other, *, exercise: int) -> None:
    """``prediction``: which map, "gradient" or "Guided Backprop", changes less when it explains class
    ``other`` instead of ``target``. Runs the experiment and explains the outcome either way; a wrong
    prediction fails with the measured numbers."""
    prediction = resolve(prediction, exercise, "prediction")
    key = prediction.strip().lower() if isinstance(prediction, str) else None
    if key not in CLASS_CHOICES:
        fail(exercise, f"prediction must be 'gradient' or 'Guided Backprop', got {prediction!r}.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        measured = class_change_correlations(model, x, target, other)
    outcome = max(measured, key=measured.get)
    numbers = "; ".join(f"{label}: rank correlation {value:.2f}" for label, value in measured.items())
    why = ("Guided Backprop stops every negative signal on the way back, so what reaches the image depends "
           "mostly on which units the photo switches on, not on the class asked about: a map that barely "
           "changes with the class cannot tell you why the model chose its class."
           if outcome == "Guided Backprop" else
           "Here the gradient changed less than Guided Backprop: compare the two maps of both classes to see why.")
    if CLASS_CHOICES[key] != outcome:
        fail(exercise, f"you predicted {prediction!r}; the map that changed less with the class is {outcome!r} "
                       f"({numbers}; 1 = the same ranking of pixels). {why}")
    passed(exercise, f"you predicted {prediction!r}, and so it is ({numbers}; 1 = the same ranking of pixels). {why}")
