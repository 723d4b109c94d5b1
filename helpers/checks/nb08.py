"""The checks of notebook 08's exercises."""

from __future__ import annotations

import torch

from helpers.checks.common import fail, passed, resolve, as_array, _diagnose, fresh


def check_gradcam_by_hand(student_fn, model, layer, x, target, *, exercise: int) -> None:
    """``student_fn(model, layer, x, target)`` is Grad-CAM at the layer's resolution, (1, 1, h, w),
    as Captum's ``LayerGradCam(model, layer).attribute(x, target, relu_attributions=True)``."""
    from captum.attr import LayerGradCam

    value = resolve(lambda: student_fn(*fresh((model, layer, x, target))), exercise, "gradcam_by_hand(...)")
    if not isinstance(value, torch.Tensor):
        fail(exercise, f"return a torch.Tensor, got {type(value).__name__}.")
    expected = LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True).detach()
    value = value.detach().to(expected.device, expected.dtype)
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
