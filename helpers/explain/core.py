"""The batch explainer's core: what is computed (``Options``), one image explained, its summary row.

Everything else in ``helpers.explain`` builds on this module, and it imports none of them.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from helpers.attribution import integrated_gradients, smoothgrad, vanilla_gradient

from helpers.validate import check_count
from helpers.images import load_image
from helpers.models import Classifier
from helpers.visualize import plot_explanation

METHODS = {"ig": "Integrated Gradients", "saliency": "Saliency (gradient)", "smoothgrad": "SmoothGrad"}
FIGURE_MODES = ("all", "none")
GAP_THRESHOLD = 0.01  # the course's bar for IG (notebook 07): completeness gap < 1% of |F(x) - F(x')|
SUMMARY_FIELDS = ["file", "top1_label", "top1_index", "confidence", "completeness_gap", "convergence_delta",
                  "seconds", "figure", "map", "error"]


def check_method(method: str) -> str:
    """``method`` if it is one of ``METHODS``, else a ``ValueError`` listing them."""
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: choose one of {', '.join(METHODS)}.")
    return method


@dataclass(frozen=True)
class Options:
    """What is computed for each image (``n_steps``: IG steps or SmoothGrad samples) and what is written."""

    method: str = "ig"
    n_steps: int = 50
    internal_batch_size: int | None = None
    figures: str = "all"
    save_maps: bool = False

    def __post_init__(self):
        check_method(self.method)
        check_count(self.n_steps, "n_steps")
        if self.internal_batch_size is not None:
            check_count(self.internal_batch_size, "internal_batch_size")
        if self.figures not in FIGURE_MODES:
            raise ValueError(f"figures must be one of {', '.join(FIGURE_MODES)}, got {self.figures!r}.")

    def settings(self, classifier: Classifier) -> dict:
        """Everything the maps depend on: the key under which a run can be resumed."""
        computed = {k: v for k, v in asdict(self).items() if k in ("method", "n_steps")}
        rule = {"ig": "riemann_trapezoid, black baseline", "smoothgrad": "noise 0.15, seed 0", "saliency": ""}
        return {"model": classifier.name, "weights": Path(classifier.weights).name, **computed,
                "details": rule[self.method]}


class EngineError(RuntimeError):
    """The chosen engine cannot run (Ray missing, cluster unreachable)."""


# --------------------------------------------------------------------------- one image


@dataclass
class Explanation:
    attribution: torch.Tensor  # (1, C, H, W), signed
    top3: list  # (label, probability, class index)
    delta: float | None = None  # IG: |sum(attribution) - (F(x) - F(x'))|, in logits
    relative_gap: float | None = None  # IG: delta / |F(x) - F(x')|


def explain_image(classifier: Classifier, image, method: str = "ig", n_steps: int = 50,
                  internal_batch_size: int | None = None) -> Explanation:
    """Explain the top-1 class of one image (PIL image or preprocessed (1, C, H, W) tensor)."""
    check_method(method)
    model = classifier.model
    x = image.to(classifier.device) if isinstance(image, torch.Tensor) else classifier.input_batch(image)
    with torch.no_grad():
        logits = model(torch.cat([x, torch.zeros_like(x)]))  # the image and IG's black baseline
    probs, indices = torch.softmax(logits[0], dim=0).topk(3)
    top3 = [(classifier.categories[i], float(p), int(i)) for p, i in zip(probs, indices)]
    target = top3[0][2]
    if method == "saliency":
        return Explanation(vanilla_gradient(model, x, target), top3)
    if method == "smoothgrad":
        return Explanation(smoothgrad(model, x, target, n_samples=n_steps, batch_size=internal_batch_size, seed=0),
                           top3)
    attribution = integrated_gradients(model, x, target, n_steps=n_steps, internal_batch_size=internal_batch_size)
    change = float(logits[0, target] - logits[1, target])  # F(x) - F(x')
    delta = abs(float(attribution.sum()) - change)
    return Explanation(attribution, top3, delta, delta / abs(change) if change else float("inf"))


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
    result = explain_image(classifier, x, options.method, options.n_steps, options.internal_batch_size)
    stem = f"{output_name(file)}_{options.method}"
    row.update(top1_label=result.top3[0][0], top1_index=str(result.top3[0][2]), confidence=f"{result.top3[0][1]:.4f}")
    if result.delta is not None:
        row.update(completeness_gap=f"{result.relative_gap:.4g}", convergence_delta=f"{result.delta:.4g}")
    if options.save_maps:
        row["map"] = _write_map(result.attribution, Path(out_dir), f"maps/{stem}.npy")
    if options.figures == "all":
        row["figure"] = _write_figure(x, result, Path(out_dir), f"figures/{stem}.png", file, options.method)
    row["seconds"] = f"{time.perf_counter() - start:.2f}"
    return row


def _atomic_target(out_dir: Path, relative: str) -> tuple[Path, Path]:
    """(final path, temporary path beside it): written, then renamed, so a kill never leaves half a file."""
    final = out_dir / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    return final, final.with_name(f".{final.stem}.{os.getpid()}.tmp{final.suffix}")


def _write_map(attribution, out_dir: Path, relative: str) -> str:
    final, temporary = _atomic_target(out_dir, relative)
    np.save(temporary, attribution[0].detach().cpu().numpy().astype(np.float16))
    os.replace(temporary, final)
    return relative


def _write_figure(x, result: Explanation, out_dir: Path, relative: str, file: str, method: str) -> str:
    predictions = " | ".join(f"{label} {p:.1%}" for label, p, _ in result.top3)
    title = f"{Path(file).name}: {METHODS[method]} for '{result.top3[0][0]}'\ntop-3: {predictions}"
    fig = plot_explanation(x, result.attribution, title, sign="all" if method == "ig" else "absolute_value")
    final, temporary = _atomic_target(out_dir, relative)
    fig.savefig(temporary, dpi=100)
    plt.close(fig)
    os.replace(temporary, final)
    return relative


def decode(file: str, preprocess) -> tuple:
    """``(file, preprocessed tensor, "")``, or ``(file, None, error message)`` for a bad file."""
    try:
        return file, preprocess(load_image(file)), ""
    except (ValueError, OSError) as error:
        return file, None, str(error)
