"""Every attribution method of the course by name: one registry, run as ``method(model, x, target)``.

``make_methods(settings)`` -> ``{name: Method}``: the course's Saliency, IG and SmoothGrad,
Captum's Grad-CAM, Guided Backprop, Guided Grad-CAM, Occlusion, GradientShap and LIME, and
two model-blind controls (a random map, an edge detector). Each ``Method`` is called as
``method(classifier_or_model, x, target)`` and returns a map of shape (1, C, H, W) or
(1, 1, H, W) for one image x (1, C, H, W) in [0, 1]. Shared by notebooks 07 and 08, and
scored by ``helpers.leaderboard``.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from helpers.attribution import adaptive_integrated_gradients, smoothgrad, vanilla_gradient

from helpers.randomness import seeded
from helpers.validate import check_count, model_device
from helpers.evaluation import (
    FORWARD_BATCH, blurred, random_attribution,
)

# Deep layers of the course's models (helpers.models), found by name in any wrapper or copy.
DEEP_LAYER_NAMES = ("features.16", "features.denseblock4", "layer4", "_blocks.15")


@dataclass(frozen=True)
class MethodSettings:
    """Every knob of the methods (plain values, so results can be cached by them)."""

    ig_target_gap: float = 0.01       # IG (adaptive, black baseline): relative completeness gap to reach
    ig_max_steps: int = 1024          # IG: most gradient evaluations per image (a warning if reached)
    sg_samples: int = 16              # SmoothGrad: noisy copies
    sg_noise: float = 0.15            # SmoothGrad: noise sigma / (max - min) of the image
    occlusion_window: int = 32        # Occlusion: side of the black square, pixels
    occlusion_stride: int = 16        # Occlusion: step between squares, pixels
    shap_samples: int = 16            # GradientShap: random (baseline, alpha) draws
    shap_stdevs: float = 0.1          # GradientShap: noise added to the input at each draw
    lime_samples: int = 100           # LIME: random on/off patterns of the superpixels (>= 4 per superpixel)
    lime_segments: int = 25           # LIME: SLIC superpixels asked for
    layer: str | None = None          # Grad-CAM layer (dotted name in the model); None: the deep layer
    batch: int = FORWARD_BATCH        # model evaluations per pass for Occlusion and LIME
    seed: int = 0


@dataclass(frozen=True)
class Method:
    """An attribution method: ``method(classifier_or_model, x, target) -> map``."""

    name: str
    fn: Callable = field(repr=False)
    signed: bool            # True: the sign means something (plot green/red); False: magnitudes
    model_blind: bool = False
    about: str = ""
    references: str = "none"  # the images the method compares the photo with (its baselines), if any

    def __call__(self, classifier_or_model, x: torch.Tensor, target: int) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or len(x) != 1:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{self.name}: x must be one image of shape (1, C, H, W), got {shape}.")
        with warnings.catch_warnings():  # Captum's notes on gradient hooks, not problems
            warnings.filterwarnings("ignore", message="Input Tensor .* did not already require gradients")
            warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations")
            attribution = self.fn(classifier_or_model, x, int(target))
        return attribution.detach().float().cpu().contiguous()  # channels_last models give channels_last maps


COURSE_METHODS = ("Saliency", "IG", "SmoothGrad")
CAPTUM_METHODS = ("Grad-CAM", "Guided Backprop", "Guided Grad-CAM", "Occlusion", "GradientShap", "LIME")
CONTROLS = ("random", "edge detector")
METHOD_NAMES = COURSE_METHODS + CAPTUM_METHODS + CONTROLS


def make_methods(settings: MethodSettings | None = None, names=None) -> dict[str, Method]:
    """The registry: ``{name: Method}`` for ``names`` (default: all of ``METHOD_NAMES``)."""
    s = settings or MethodSettings()
    if not isinstance(s, MethodSettings):
        raise TypeError(f"settings must be a MethodSettings, got {type(s).__name__}.")
    from captum.attr import (
        GradientShap, GuidedBackprop, GuidedGradCam, LayerAttribution, LayerGradCam, Lime, Occlusion,
    )
    from captum.attr._core.lime import get_exp_kernel_similarity_function
    from captum._utils.models.linear_model import SkLearnLinearRegression

    def saliency(obj, x, target):
        return vanilla_gradient(_module(obj), x, target).abs()

    def ig(obj, x, target):
        model = _module(obj)  # a RuntimeWarning names the image if max_steps comes before the target gap
        attribution, _ = adaptive_integrated_gradients(model, _on(model, x), target, target_gap=s.ig_target_gap,
                                                       max_steps=s.ig_max_steps)
        return attribution

    def smooth(obj, x, target):
        return smoothgrad(_module(obj), x, target, n_samples=s.sg_samples, noise_level=s.sg_noise, seed=s.seed).abs()

    def gradcam(obj, x, target):
        model, layer = _module(obj), _layer(obj, s.layer)
        coarse = LayerGradCam(model, layer).attribute(_on(model, x), target=target, relu_attributions=True)
        return LayerAttribution.interpolate(coarse, tuple(x.shape[-2:]), interpolate_mode="bilinear")

    def guided_backprop(obj, x, target):
        model = guided_model(_module(obj))
        return GuidedBackprop(model).attribute(_on(model, x), target=target)

    def guided_gradcam(obj, x, target):
        name = _layer_name(_module(obj), s.layer if s.layer else _classifier_layer(obj))
        model = guided_model(_module(obj))
        return GuidedGradCam(model, model.get_submodule(name)).attribute(_on(model, x), target=target)

    def occlusion(obj, x, target):
        model = _module(obj)
        window, stride = (x.shape[1], s.occlusion_window, s.occlusion_window), (x.shape[1], s.occlusion_stride,
                                                                                   s.occlusion_stride)
        return Occlusion(model).attribute(_on(model, x), sliding_window_shapes=window, strides=stride,
                                          baselines=0.0, target=target, perturbations_per_eval=s.batch)

    def gradient_shap(obj, x, target):
        model = _module(obj)
        x = _on(model, x)
        references = torch.cat([torch.zeros_like(x), blurred(x)])  # black and blurred references
        with seeded(s.seed):
            return GradientShap(model).attribute(x, baselines=references, n_samples=s.shap_samples,
                                                 stdevs=s.shap_stdevs, target=target)

    def lime(obj, x, target):
        model = _module(obj)
        x = _on(model, x)
        segments = superpixels(x, s.lime_segments)
        explainer = Lime(model, interpretable_model=SkLearnLinearRegression(),
                         similarity_func=get_exp_kernel_similarity_function("euclidean", kernel_width=1000))
        with seeded(s.seed):
            weights = explainer.attribute(x, target=target, feature_mask=segments, baselines=0.0,
                                          n_samples=s.lime_samples, perturbations_per_eval=s.batch)
        return weights[:, :1]  # one value per superpixel, the same in every channel

    def random_map(obj, x, target):
        return random_attribution(x, seed=s.seed)

    registry = {
        "Saliency": Method("Saliency", saliency, False, about="|gradient|: one backward pass"),
        "IG": Method("IG", ig, True, references="black",
                     about=f"Integrated Gradients from black, adaptive path points until the completeness gap "
                           f"is under {s.ig_target_gap:.0%} (at most {s.ig_max_steps})"),
        "SmoothGrad": Method("SmoothGrad", smooth, False, references="noisy copies of the photo",
                             about=f"|gradient averaged over {s.sg_samples} noisy copies| (noise {s.sg_noise})"),
        "Grad-CAM": Method("Grad-CAM", gradcam, False,
                           about="ReLU(sum_k mean(dy/dA_k) A_k) on the deep layer, upsampled bilinearly"),
        "Guided Backprop": Method("Guided Backprop", guided_backprop, True,
                                  about="gradient with negative signals stopped at every ReLU on the way back"),
        "Guided Grad-CAM": Method("Guided Grad-CAM", guided_gradcam, True, about="Guided Backprop x Grad-CAM"),
        "Occlusion": Method("Occlusion", occlusion, True, references="black squares",
                            about=f"score drop when a {s.occlusion_window}-px black square covers the pixel "
                                  f"(stride {s.occlusion_stride})"),
        "GradientShap": Method("GradientShap", gradient_shap, True, references="black, blurred photo",
                               about=f"expected gradients over black/blurred references, {s.shap_samples} draws"),
        "LIME": Method("LIME", lime, True, references="black superpixels",
                       about=f"linear model of the score on {s.lime_segments} SLIC superpixels, "
                             f"{s.lime_samples} samples"),
        "random": Method("random", random_map, False, model_blind=True, about="uniform noise: the chance level"),
        "edge detector": Method("edge detector", lambda obj, x, target: edge_map(x), False, model_blind=True,
                                about="|image - blurred image|: looks like a saliency map, ignores the model"),
    }
    names = list(METHOD_NAMES) if names is None else list(names)
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}: choose from {', '.join(METHOD_NAMES)}.")
    return {name: registry[name] for name in names}


def edge_map(x: torch.Tensor) -> torch.Tensor:
    """A model-blind 'explanation': the image's edges, |x - x blurred| (5x5 Gaussian, sigma 1.5)."""
    return (x - gaussian_blur(x, [5, 5], [1.5, 1.5])).abs()


def superpixels(x: torch.Tensor, n_segments: int = 50) -> torch.Tensor:
    """SLIC superpixels of one image as a (1, 1, H, W) long tensor of segment ids 0..K-1."""
    from skimage.segmentation import slic

    image = x[0].detach().permute(1, 2, 0).cpu().double().numpy()
    segments = slic(image, n_segments=check_count(n_segments, "n_segments"), compactness=10, start_label=0,
                    channel_axis=-1 if image.shape[-1] > 1 else None)
    return torch.as_tensor(segments, device=x.device).long()[None, None]


# --------------------------------------------------------------------------- Guided Backprop on any ReLU


class _ClampedReLU(nn.ReLU):
    """nn.ReLU6's forward as an nn.ReLU subclass, so Captum's guided hooks see it."""

    def forward(self, x):
        return F.relu6(x)


def guided_model(model: nn.Module) -> nn.Module:
    """``model`` ready for Captum's GuidedBackprop/Deconvolution (same forward, same outputs).

    Captum overrides the backward pass of ``nn.ReLU`` modules only: an ``nn.ReLU6`` (e.g. in
    EfficientNet-Lite0) would silently keep its plain gradient. Returns ``model`` itself when
    nothing needs changing, otherwise a copy where every ReLU6 is an ``nn.ReLU`` subclass with
    ReLU6's forward and no ReLU works in place.
    """
    if not any(isinstance(m, nn.ReLU6) or (isinstance(m, nn.ReLU) and m.inplace) for m in model.modules()):
        return model
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for child_name, child in module.named_children():
            if isinstance(child, nn.ReLU6):
                setattr(module, child_name, _ClampedReLU())
            elif isinstance(child, nn.ReLU):
                child.inplace = False
    return model


# --------------------------------------------------------------------------- models and layers


def _module(obj) -> nn.Module:
    """The nn.Module of a helpers.models.Classifier, or the module itself."""
    model = getattr(obj, "model", obj)
    if not isinstance(model, nn.Module):
        raise TypeError(f"Expected a Classifier or a torch.nn.Module, got {type(obj).__name__}.")
    return model


def _on(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` detached, on the model's device, in its own dtype."""
    return x.detach().to(model_device(model, default=x.device))


def _classifier_layer(obj) -> str | None:
    deep = getattr(obj, "deep_layer", None)  # a Classifier names its layers inside model[1]
    return None if deep is None else f"1.{deep}"


def _layer_name(model: nn.Module, name: str | None = None) -> str:
    """The dotted name of the Grad-CAM layer in ``model``: ``name``, else a known deep layer, else the last conv."""
    names = [n for n, _ in model.named_modules()]
    if name is not None:
        if name not in names:
            raise ValueError(f"The model has no layer {name!r}.")
        return name
    deep = [n for n in names if any(n == d or n.endswith("." + d) for d in DEEP_LAYER_NAMES)]
    if deep:
        return deep[-1]
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("Grad-CAM needs a convolutional layer; the model has none (set MethodSettings.layer).")
    return convs[-1]


def _layer(obj, name: str | None) -> nn.Module:
    model = _module(obj)
    return model.get_submodule(_layer_name(model, name if name else _classifier_layer(obj)))
