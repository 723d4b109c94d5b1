"""Every attribution method by name, run over the photos, and one leaderboard of tests.

Shared by notebooks 07 and 08.

- ``make_methods(settings)`` -> ``{name: Method}``: the course's Saliency, IG and SmoothGrad,
  Captum's Grad-CAM, Guided Backprop, Guided Grad-CAM, Occlusion, GradientShap and LIME,
  and two model-blind controls (a random map, an edge detector). Each ``Method`` is called
  as ``method(classifier_or_model, x, target)`` and returns a map of shape (1, C, H, W)
  or (1, 1, H, W) for one image x (1, C, H, W) in [0, 1].
- ``run_methods`` runs several methods over several photos and times them.
- ``faithfulness_scores``, ``randomization_scores``, ``robustness_scores`` measure the
  maps (one row per photo and method); ``leaderboard`` turns the rows into the sorted
  table (mean and spread over the photos).
- ``cascade`` is the cascading randomization of Adebayo et al. (2018), maps included.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from helpers.attribution import check_count, integrated_gradients, smoothgrad, vanilla_gradient
from helpers.evaluation import (
    FORWARD_BATCH, blurred, curve_auc, deletion_curve, insertion_curve, random_attribution, randomization_sanity_check,
)

# Deep layers of the course's models (helpers.models), found by name in any wrapper or copy.
DEEP_LAYER_NAMES = ("features.16", "features.denseblock4", "layer4", "_blocks.15")


@dataclass(frozen=True)
class MethodSettings:
    """Every knob of the methods (plain values, so results can be cached by them)."""

    ig_steps: int = 32                # IG: Gauss-Legendre points, black baseline
    sg_samples: int = 16              # SmoothGrad: noisy copies
    sg_noise: float = 0.15            # SmoothGrad: noise sigma / (max - min) of the image
    occlusion_window: int = 32        # Occlusion: side of the black square, pixels
    occlusion_stride: int = 16        # Occlusion: step between squares, pixels
    shap_samples: int = 16            # GradientShap: random (baseline, alpha) draws
    shap_stdevs: float = 0.1          # GradientShap: noise added to the input at each draw
    lime_samples: int = 64            # LIME: random on/off patterns of the superpixels
    lime_segments: int = 50           # LIME: SLIC superpixels asked for
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
        return integrated_gradients(_module(obj), x, target, n_steps=s.ig_steps, method="gausslegendre")

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
        "IG": Method("IG", ig, True, about=f"Integrated Gradients from black, {s.ig_steps} Gauss-Legendre points"),
        "SmoothGrad": Method("SmoothGrad", smooth, False,
                             about=f"|gradient averaged over {s.sg_samples} noisy copies| (noise {s.sg_noise})"),
        "Grad-CAM": Method("Grad-CAM", gradcam, False,
                           about="ReLU(sum_k mean(dy/dA_k) A_k) on the deep layer, upsampled bilinearly"),
        "Guided Backprop": Method("Guided Backprop", guided_backprop, True,
                                  about="gradient with negative signals stopped at every ReLU on the way back"),
        "Guided Grad-CAM": Method("Guided Grad-CAM", guided_gradcam, True, about="Guided Backprop x Grad-CAM"),
        "Occlusion": Method("Occlusion", occlusion, True,
                            about=f"score drop when a {s.occlusion_window}-px black square covers the pixel "
                                  f"(stride {s.occlusion_stride})"),
        "GradientShap": Method("GradientShap", gradient_shap, True,
                               about=f"expected gradients over black/blurred references, {s.shap_samples} draws"),
        "LIME": Method("LIME", lime, True,
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


@contextmanager
def seeded(seed: int):
    """Seed torch's and numpy's global generators inside the block (Captum draws from both), restore them after."""
    state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(state)


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
    parameter = next(model.parameters(), None)
    return x.detach().float().to(parameter.device if parameter is not None else x.device)


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


# --------------------------------------------------------------------------- running and scoring


def run_methods(model, images: dict, targets: dict, methods: dict) -> tuple[dict, dict]:
    """Run every method on every photo.

    ``images``: {photo: (1, C, H, W) tensor}; ``targets``: {photo: class index};
    ``methods``: {name: Method} (from ``make_methods``). Returns (maps, seconds), both
    ``{method: {photo: ...}}``: the maps on the CPU and the wall-clock seconds of each call.
    Each method is first called once untimed on the first photo: a first call pays one-off
    set-up costs (IG on chelsea: 1.8 s against 0.8 s on the next photos).
    """
    _check_photos(images, targets)
    maps, seconds = {}, {}
    first = next(iter(images), None)
    for name, method in methods.items():
        maps[name], seconds[name] = {}, {}
        if first is not None:
            method(model, images[first], targets[first])  # warm-up, not timed
        for photo, x in images.items():
            start = time.perf_counter()
            maps[name][photo] = method(model, x, targets[photo])
            seconds[name][photo] = time.perf_counter() - start
    return maps, seconds


FAITHFULNESS = ("deletion AUC (black)", "deletion AUC (blurred)", "insertion AUC")


def faithfulness_scores(model: nn.Module, images: dict, targets: dict, maps: dict, steps: int = 20,
                        keep_curves: bool = False, kinds=FAITHFULNESS):
    """Deletion AUC (black and blurred reference) and insertion AUC per photo and method.

    ``model`` returns logits (the curves apply the softmax). Pixels are ranked by the map
    summed over channels (a (1, 1, H, W) map is used as it is). Returns a DataFrame with
    columns photo, method and the ``kinds`` asked for (default all of ``FAITHFULNESS``:
    "deletion AUC (black)", "deletion AUC (blurred)", "insertion AUC"); with
    ``keep_curves=True`` also ``{(photo, method): {"fractions": ..., kind: probabilities}}``.
    """
    _check_photos(images, targets)
    unknown = [kind for kind in kinds if kind not in FAITHFULNESS]
    if unknown or not kinds:
        raise ValueError(f"kinds must be some of {FAITHFULNESS}, got {list(kinds)}.")
    rows, curves = [], {}
    for method, per_photo in maps.items():
        for photo, x in images.items():
            attribution, target = per_photo[photo], targets[photo]
            row, curve = {"photo": photo, "method": method}, {}
            for kind in kinds:
                if kind == "insertion AUC":
                    fractions, probabilities = insertion_curve(model, x, target, attribution, steps=steps)
                else:
                    reference = blurred(x) if "blurred" in kind else None
                    fractions, probabilities = deletion_curve(model, x, target, attribution, steps=steps,
                                                              baseline=reference)
                curve["fractions"], curve[kind] = fractions, probabilities
                row[kind] = curve_auc(fractions, probabilities)
            rows.append(row)
            curves[photo, method] = curve
    table = pd.DataFrame(rows)
    return (table, curves) if keep_curves else table


def randomization_scores(model: nn.Module, images: dict, targets: dict, methods: dict, maps: dict,
                         seed: int = 0) -> pd.DataFrame:
    """Spearman correlation of |map| before and after re-initialising *all* layers at once.

    Uses ``helpers.evaluation.randomization_sanity_check`` with one group; the maps of the
    trained model are taken from ``maps`` rather than recomputed. A method that explains the
    model scores near 0; a model-blind one scores 1. Columns: photo, method,
    "randomization correlation".
    """
    _check_photos(images, targets)
    rows = []
    for name, method in methods.items():
        for photo, x in images.items():
            def attribute(m, image, target, _method=method, _photo=photo):
                return maps[name][_photo] if m is model else _method(m, image, target)
            result = randomization_sanity_check(model, x, targets[photo], attribute, n_groups=1, seed=seed)
            rows.append({"photo": photo, "method": name, "randomization correlation": result[-1][1]})
    return pd.DataFrame(rows)


def robustness_scores(model: nn.Module, images: dict, targets: dict, methods: dict, maps: dict,
                      infidelity_samples: int = 16, noise: float = 0.1, sensitivity_samples: int = 3,
                      radius: float = 0.02, seed: int = 0, metrics=("infidelity", "sensitivity")) -> pd.DataFrame:
    """Captum's ``infidelity`` and ``sensitivity_max`` per photo and method (``metrics``: either or both).

    - infidelity (Yeh et al., 2019): E[(map . I - (f(x) - f(x - I)))^2] over Gaussian
      perturbations I of std ``noise``, with the map rescaled optimally (``normalize=True``),
      so the map's scale does not matter; lower is better. A (1, 1, H, W) map counts for
      every channel of its pixel.
    - sensitivity_max: the largest relative change ||map(x + d) - map(x)|| / ||map(x)|| over
      ``sensitivity_samples`` uniform perturbations |d| <= ``radius``; lower is more stable.
    ``f`` is ``model``'s output for the target (the logit for the course's classifiers).
    """
    from captum.metrics import infidelity, sensitivity_max

    _check_photos(images, targets)
    if not metrics or any(metric not in ("infidelity", "sensitivity") for metric in metrics):
        raise ValueError(f"metrics must be 'infidelity' and/or 'sensitivity', got {list(metrics)}.")
    rows = []
    for name, method in methods.items():
        for photo, x in images.items():
            x, target = _on(model, x), targets[photo]
            attribution = maps[name][photo].to(x.device).expand_as(x)
            generator = torch.Generator().manual_seed(seed)

            def perturb(inputs):
                shift = (torch.randn(inputs.shape, generator=generator) * noise).to(inputs.device)
                return shift, inputs - shift

            row = {"photo": photo, "method": name}
            if "infidelity" in metrics:
                with torch.no_grad():
                    row["infidelity"] = infidelity(model, perturb, x, attribution, target=target,
                                                   n_perturb_samples=infidelity_samples, normalize=True,
                                                   max_examples_per_batch=min(FORWARD_BATCH, infidelity_samples)).item()

            def explain(inputs, target=None, _method=method, _x=x, _map=attribution[:, :maps[name][photo].shape[1]]):
                inputs = inputs[0] if isinstance(inputs, tuple) else inputs  # Captum passes a tuple
                if torch.equal(inputs, _x):  # the unperturbed image: its map is known already
                    return (_map,)
                return (torch.cat([_method(model, inputs[i:i + 1], targets[photo]).to(inputs.device).contiguous()
                                   for i in range(len(inputs))]),)  # a tuple, as the inputs; Captum calls .view

            if "sensitivity" in metrics:
                with seeded(seed):
                    row["sensitivity"] = sensitivity_max(explain, x, perturb_radius=radius,
                                                         n_perturb_samples=sensitivity_samples).item()
            rows.append(row)
    return pd.DataFrame(rows)


# What each leaderboard column means: True if higher is better.
METRICS = {
    "deletion AUC (black)": False,
    "deletion AUC (blurred)": False,
    "insertion AUC": True,
    "randomization correlation": False,
    "infidelity": False,
    "sensitivity": False,
    "seconds per image": False,
}


def seconds_table(seconds: dict) -> pd.DataFrame:
    """The ``seconds`` of ``run_methods`` as rows (photo, method, "seconds per image")."""
    return pd.DataFrame([{"photo": photo, "method": method, "seconds per image": value}
                         for method, per_photo in seconds.items() for photo, value in per_photo.items()])


def leaderboard(*tables: pd.DataFrame, sort_by: str = "deletion AUC (blurred)") -> pd.DataFrame:
    """One row per method: the mean and the spread (std over photos) of every metric.

    ``tables`` have one row per (photo, method) and metric columns (the outputs of the
    ``*_scores`` functions and ``seconds_table``); they are joined on photo and method.
    Columns are a MultiIndex (metric, "mean" | "std"); rows sorted by the mean of
    ``sort_by``, best first (``METRICS`` says which direction is better).
    """
    if not tables:
        raise ValueError("leaderboard needs at least one table of scores.")
    scores = tables[0]
    for table in tables[1:]:
        scores = scores.merge(table, on=["photo", "method"], how="outer")
    metrics = [column for column in scores.columns if column not in ("photo", "method")]
    if sort_by not in metrics:
        raise ValueError(f"Cannot sort by {sort_by!r}: the scores have {metrics}.")
    grouped = scores.groupby("method", sort=False)[metrics]
    table = pd.concat({"mean": grouped.mean(), "std": grouped.std(ddof=0)}, axis=1).swaplevel(axis=1)
    table = table[[(metric, stat) for metric in metrics for stat in ("mean", "std")]]
    return table.sort_values((sort_by, "mean"), ascending=not METRICS.get(sort_by, False))


def format_leaderboard(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The leaderboard as strings "mean ± std", one column per metric (for display)."""
    metrics = list(dict.fromkeys(metric for metric, _ in table.columns))
    return pd.DataFrame({
        metric + (" ↑" if METRICS.get(metric) else " ↓"):
            [f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in zip(table[metric, "mean"], table[metric, "std"])]
        for metric in metrics
    }, index=table.index)


# --------------------------------------------------------------------------- cascading randomization


def cascade(model: nn.Module, x: torch.Tensor, target: int, methods: dict, n_groups: int = 8,
            seed: int = 0) -> tuple[list[str], dict, dict]:
    """Cascading randomization (Adebayo et al., 2018) with the maps kept, for several methods.

    Runs ``helpers.evaluation.randomization_sanity_check`` for every method (the same
    layer groups and seed for all). Returns (stages, correlations, maps): stages are
    ["none", first layer of each randomised group...]; correlations[method] and
    maps[method] are lists aligned with stages (maps on the CPU).
    """
    correlations, maps, stages = {}, {}, []
    for name, method in methods.items():
        recorded = []

        def attribute(m, image, t, _method=method, _recorded=recorded):
            _recorded.append(_method(m, image, t))
            return _recorded[-1]

        results = randomization_sanity_check(model, x, target, attribute, n_groups=n_groups, seed=seed)
        stages = [stage for stage, _ in results]
        correlations[name] = [value for _, value in results]
        maps[name] = recorded
    return stages, correlations, maps


def _check_photos(images: dict, targets: dict) -> None:
    if not isinstance(images, dict) or not isinstance(targets, dict):
        raise TypeError("images and targets must be dicts keyed by photo name.")
    missing = [photo for photo in images if photo not in targets]
    if missing:
        raise ValueError(f"No target for photo(s) {missing}.")


def settings_dict(settings: MethodSettings) -> dict:
    """The settings as a plain dict (for printing and cache keys)."""
    return asdict(settings)
