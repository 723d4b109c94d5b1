"""The batch explainer's core: what is computed (``Options``), one image explained, its summary row.

Everything else in ``helpers.explain`` builds on this module, and it imports none of them.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch

from helpers.attribution import (
    adaptive_integrated_gradients, check_max_steps, check_target_gap, integrated_gradients, smoothgrad,
    vanilla_gradient,
)
from helpers.images import load_image
from helpers.models import Classifier
from helpers.validate import check_count
from helpers.visualize import plot_explanation

METHODS = {"ig": "Integrated Gradients", "saliency": "Saliency (gradient)", "smoothgrad": "SmoothGrad"}
FIGURE_MODES = ("all", "none")
GAP_THRESHOLD = 0.01  # the course's bar for IG (notebook 07): completeness gap < 1% of |F(x) - F(x')|
SUMMARY_FIELDS = ["file", "top1_label", "top1_index", "confidence", "completeness_gap", "convergence_delta",
                  "steps", "converged", "seconds", "figure", "map", "error"]
DEFAULT_SAMPLES = 50  # SmoothGrad's noisy copies when n_steps is not given
ATTRIBUTION_FUNCTIONS = {"ig": integrated_gradients, "ig_adaptive": adaptive_integrated_gradients,
                         "saliency": vanilla_gradient, "smoothgrad": smoothgrad}
FIXED_ARGUMENTS = {"ig": {}, "ig_adaptive": {}, "saliency": {}, "smoothgrad": {"seed": 0}}  # passed besides steps
NOT_IN_THE_MAP = {"model", "x", "target", "n_steps", "n_samples", "internal_batch_size", "batch_size",
                  "target_gap", "max_steps"}


def check_method(method: str) -> str:
    """``method`` if it is one of ``METHODS``, else a ``ValueError`` listing them."""
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: choose one of {', '.join(METHODS)}.")
    return method


@dataclass(frozen=True)
class Options:
    """What is computed for each image and what is written.

    IG is adaptive (``adaptive_integrated_gradients``: ``target_gap``, ``max_steps``) unless ``n_steps``
    is given, which switches to a fixed trapezoid grid of ``n_steps`` points. SmoothGrad: ``n_steps``
    noisy samples (default ``DEFAULT_SAMPLES``).
    """

    method: str = "ig"
    n_steps: int | None = None
    internal_batch_size: int | None = None
    figures: str = "all"
    save_maps: bool = False
    target_gap: float = 0.01
    max_steps: int = 4096

    @property
    def adaptive(self) -> bool:
        return self.method == "ig" and self.n_steps is None

    def __post_init__(self):
        check_method(self.method)
        if self.n_steps is not None:
            check_count(self.n_steps, "n_steps")
        check_target_gap(self.target_gap)
        check_max_steps(self.max_steps)
        if self.internal_batch_size is not None:
            check_count(self.internal_batch_size, "internal_batch_size")
        if self.figures not in FIGURE_MODES:
            raise ValueError(f"figures must be one of {', '.join(FIGURE_MODES)}, got {self.figures!r}.")

    def settings(self, classifier: Classifier) -> dict:
        """Everything the maps depend on: the key under which a run can be resumed."""
        steps = DEFAULT_SAMPLES if self.method == "smoothgrad" and self.n_steps is None else self.n_steps
        computed = {"method": self.method, "n_steps": None if self.method == "saliency" else steps,
                    "target_gap": self.target_gap if self.adaptive else None,
                    "max_steps": self.max_steps if self.adaptive else None}
        return {"model": classifier.name, "weights": Path(classifier.weights).name, **computed,
                "details": method_details("ig_adaptive" if self.adaptive else self.method)}


def method_details(method: str) -> dict:
    """The arguments the attribution function of ``method`` runs with, other than the model, the image,
    the target, the step count and the batch size (which does not change the map): its defaults,
    read from its signature, overridden by what ``explain_image`` passes (``FIXED_ARGUMENTS``)."""
    parameters = inspect.signature(ATTRIBUTION_FUNCTIONS[method]).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.default is not p.empty and p.name not in NOT_IN_THE_MAP}
    return json.loads(json.dumps({**defaults, **FIXED_ARGUMENTS[method]}, default=repr))  # as run.json reads back


class EngineError(RuntimeError):
    """The chosen engine cannot run (Ray missing, cluster unreachable)."""


# --------------------------------------------------------------------------- one image


@dataclass
class Explanation:
    attribution: torch.Tensor  # (1, C, H, W), signed
    top3: list  # (label, probability, class index)
    delta: float | None = None  # IG: |sum(attribution) - (F(x) - F(x'))|, in logits
    relative_gap: float | None = None  # IG: delta / |F(x) - F(x')|
    steps: int | None = None  # IG: gradient evaluations used
    converged: bool | None = None  # IG: adaptive's verdict; fixed grid: relative_gap <= GAP_THRESHOLD


def explain_image(classifier: Classifier, image, method: str = "ig", n_steps: int | None = None,
                  internal_batch_size: int | None = None, target_gap: float = 0.01,
                  max_steps: int = 4096) -> Explanation:
    """Explain the top-1 class of one image (PIL image or preprocessed (1, C, H, W) tensor).

    IG: adaptive (``target_gap``, ``max_steps``) unless ``n_steps`` is given (a fixed trapezoid grid).
    """
    check_method(method)
    model = classifier.model
    x = image.to(classifier.device) if isinstance(image, torch.Tensor) else classifier.input_batch(image)
    with torch.no_grad():
        logits = model(torch.cat([x, torch.zeros_like(x)]))  # the image and IG's black baseline
    probs, indices = torch.softmax(logits[0], dim=0).topk(3)
    top3 = [(classifier.categories[i], float(p), int(i)) for p, i in zip(probs, indices)]
    target = top3[0][2]
    fixed = FIXED_ARGUMENTS[method]
    if method == "saliency":
        return Explanation(vanilla_gradient(model, x, target, **fixed), top3)
    if method == "smoothgrad":
        return Explanation(smoothgrad(model, x, target, n_samples=n_steps or DEFAULT_SAMPLES,
                                      batch_size=internal_batch_size, **fixed), top3)
    change = float(logits[0, target] - logits[1, target])  # F(x) - F(x')
    if n_steps is None:
        attribution, info = adaptive_integrated_gradients(model, x, target, target_gap=target_gap, max_steps=max_steps,
                                                          internal_batch_size=internal_batch_size)
        steps, converged = int(info["steps"][0]), bool(info["converged"][0])
    else:
        attribution = integrated_gradients(model, x, target, n_steps=n_steps, internal_batch_size=internal_batch_size,
                                           **fixed)
        steps, converged = n_steps, None
    delta = abs(float(attribution.sum()) - change)
    gap = delta / abs(change) if change else float("inf")
    return Explanation(attribution, top3, delta, gap, steps, gap <= GAP_THRESHOLD if converged is None else converged)


def output_name(path) -> str:
    """A file name stem unique to ``path``: ``a/cat.jpg`` and ``b/cat.jpg`` or ``cat.png`` never collide."""
    path = str(path)
    digest = hashlib.sha1(path.encode()).hexdigest()[:8]
    name = Path(path).name.replace(".", "_")
    return f"{name}-{digest}"


def explain_input(classifier: Classifier, item, out_dir, options: Options) -> dict:
    """Explain one decoded input ``(file, x or None, error)``; write its figure/map; return its summary row."""
    file, x, error = item
    row = dict.fromkeys(SUMMARY_FIELDS, "")
    row["file"] = file
    if x is None:
        row["error"] = error
        return row
    start = time.perf_counter()
    x = x.unsqueeze(0) if x.dim() == 3 else x
    result = explain_image(classifier, x, options.method, options.n_steps, options.internal_batch_size,
                           options.target_gap, options.max_steps)
    stem = f"{output_name(file)}_{options.method}"
    row.update(top1_label=result.top3[0][0], top1_index=str(result.top3[0][2]), confidence=f"{result.top3[0][1]:.4f}")
    if result.delta is not None:
        row.update(completeness_gap=f"{result.relative_gap:.4g}", convergence_delta=f"{result.delta:.4g}",
                   steps=str(result.steps), converged=str(result.converged))
    if options.save_maps:
        row["map"] = _write_map(result.attribution, Path(out_dir), f"maps/{stem}.npy")
    if options.figures == "all":
        row["figure"] = _write_figure(x, result, Path(out_dir), f"figures/{stem}.png", file, options.method)
    row["seconds"] = f"{time.perf_counter() - start:.2f}"
    return row


def write_atomic(path, write: Callable[[Path], object]) -> None:
    """Write ``path`` whole or not at all: ``write(temporary)`` fills a temporary file beside it, which is
    then renamed over ``path``; a kill or an error leaves the old file (or none) and no temporary.

    The temporary keeps the suffix (``savefig`` and ``np.save`` read it) and has this process's id.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _write_map(attribution, out_dir: Path, relative: str) -> str:
    write_atomic(out_dir / relative,
                 lambda temporary: np.save(temporary, attribution[0].detach().cpu().numpy().astype(np.float16)))
    return relative


def _write_figure(x, result: Explanation, out_dir: Path, relative: str, file: str, method: str) -> str:
    predictions = " | ".join(f"{label} {p:.1%}" for label, p, _ in result.top3)
    title = f"{Path(file).name}: {METHODS[method]} for '{result.top3[0][0]}'\ntop-3: {predictions}"
    fig = plot_explanation(x, result.attribution, title, sign="all" if method == "ig" else "absolute_value")
    try:
        write_atomic(out_dir / relative, lambda temporary: fig.savefig(temporary, dpi=100))
    finally:
        plt.close(fig)
    return relative


def decode(path: str, file: str, preprocess) -> tuple:
    """``(file, preprocessed tensor, "")`` for the image at ``path``, or ``(file, None, error message)``.

    ``file`` is the name shown in the summary. Any error of reading, decoding (Pillow's
    ``DecompressionBombError`` too) or preprocessing becomes that image's message, not the batch's end.
    """
    try:
        image = load_image(path)
    except (ValueError, OSError) as error:  # load_image's own messages name the file
        return file, None, str(error)
    except Exception as error:  # noqa: BLE001 - a decoder may raise anything on a hostile file
        return file, None, f"{file} could not be decoded: {type(error).__name__}: {error}"
    try:
        return file, preprocess(image), ""
    except Exception as error:  # noqa: BLE001
        return file, None, f"{file} could not be preprocessed: {type(error).__name__}: {error}"
