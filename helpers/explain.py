"""Batch explanations: many images in, one figure per image and a summary.csv out.

Command line (``python -m helpers.explain --help``)::

    python -m helpers.explain photos/ cat.jpg --model mobilenet_v3_large --method ig --n-steps 50 --out build/explain
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import matplotlib

if __name__ == "__main__":
    matplotlib.use("Agg")  # the command line only writes files

import matplotlib.pyplot as plt
from tqdm.auto import tqdm

from helpers.attribution import DEFAULT_BATCH, check_count, completeness_gap, integrated_gradients, smoothgrad, vanilla_gradient
from helpers.images import list_images, load_image
from helpers.models import MODEL_NAMES, Classifier, load_classifier
from helpers.visualize import plot_explanation

METHODS = {"ig": "Integrated Gradients", "saliency": "Saliency (gradient)", "smoothgrad": "SmoothGrad"}
SUMMARY_FIELDS = ["file", "top1_label", "confidence", "convergence_delta", "seconds", "figure", "error"]


def expand_inputs(inputs) -> list[Path]:
    """Files as given, folders replaced by the image files they contain (sorted)."""
    paths = []
    for item in inputs:
        item = Path(item).expanduser()
        paths.extend(list_images(item) if item.is_dir() else [item])
    return paths


def check_method(method: str) -> str:
    """``method`` if it is one of ``METHODS``, else a ``ValueError`` listing them."""
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: choose one of {', '.join(METHODS)}.")
    return method


def explain_image(classifier: Classifier, image, method: str = "ig", n_steps: int = 50,
                  internal_batch_size: int | None = None):
    """Explain the top-1 class of one PIL image: (input, attribution, top-3, convergence delta)."""
    check_method(method)
    x = classifier.input_batch(image)
    top3 = classifier.top_k(x, k=3)
    target = top3[0][2]
    delta = None
    if method == "ig":
        attribution = integrated_gradients(classifier.model, x, target, n_steps=n_steps,
                                           internal_batch_size=internal_batch_size)
        delta = completeness_gap(classifier.model, x, target, attribution).item()
    elif method == "smoothgrad":
        attribution = smoothgrad(classifier.model, x, target, n_samples=n_steps, batch_size=internal_batch_size, seed=0)
    else:
        attribution = vanilla_gradient(classifier.model, x, target)
    return x, attribution, top3, delta


def explain_files(inputs, out_dir, model: str | Classifier = "mobilenet_v3_large", method: str = "ig",
                  n_steps: int = 50, internal_batch_size: int | None = None, progress: bool = True) -> list[dict]:
    """Explain every image in ``inputs`` (files and folders); write figures and ``summary.csv``.

    A bad file is recorded in the summary with its error and the batch goes on. Images are
    processed one at a time and every figure is closed, so memory does not grow with the
    number of images. Returns the summary rows.
    """
    n_steps = check_count(n_steps, "n_steps")
    check_method(method)
    classifier = model if isinstance(model, Classifier) else load_classifier(model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with open(out_dir / "summary.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_FIELDS)
        writer.writeheader()
        for path in tqdm(expand_inputs(inputs), desc="explaining", unit="image", disable=not progress):
            row = _explain_one(classifier, path, out_dir, method, n_steps, internal_batch_size)
            writer.writerow(row)
            handle.flush()
            rows.append(row)
    return rows


def _explain_one(classifier, path, out_dir, method, n_steps, internal_batch_size) -> dict:
    start = time.perf_counter()
    row = dict.fromkeys(SUMMARY_FIELDS, "")
    row["file"] = str(path)
    try:
        image = load_image(path)
        x, attribution, top3, delta = explain_image(classifier, image, method, n_steps, internal_batch_size)
    except (ValueError, OSError) as error:
        row["error"] = str(error)
        row["seconds"] = f"{time.perf_counter() - start:.2f}"
        return row
    predictions = " | ".join(f"{label} {p:.1%}" for label, p, _ in top3)
    title = f"{path.name}: {METHODS[method]} for '{top3[0][0]}'\ntop-3: {predictions}"
    fig = plot_explanation(x, attribution, title, sign="all" if method == "ig" else "absolute_value")
    figure = out_dir / f"{path.stem}_{method}.png"
    fig.savefig(figure, dpi=100)
    plt.close(fig)
    row.update(
        top1_label=top3[0][0], confidence=f"{top3[0][1]:.4f}",
        convergence_delta="" if delta is None else f"{delta:.4g}",
        seconds=f"{time.perf_counter() - start:.2f}", figure=str(figure),
    )
    return row


# --------------------------------------------------------------------------- command line


class _OneLineErrors(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        return check_count(int(text), "n_steps")
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(
        prog="python -m helpers.explain",
        description="Explain the top-1 prediction of an ImageNet classifier for each image; write one "
                    "figure per image (image | attribution | overlay, top-3 predictions) and summary.csv.",
    )
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR",
                        help="image files and/or folders (folders: every jpg/png/webp/bmp/gif/tif file inside)")
    parser.add_argument("--model", default="mobilenet_v3_large", choices=MODEL_NAMES,
                        help="classifier to explain (default: %(default)s; offline it falls back to efficientnet_lite0)")
    parser.add_argument("--method", default="ig", choices=list(METHODS),
                        help="ig = Integrated Gradients, saliency = plain gradient, smoothgrad = SmoothGrad "
                             "(default: %(default)s)")
    parser.add_argument("--n-steps", type=_positive_int, default=50,
                        help="IG integration steps, or SmoothGrad noisy samples (default: %(default)s)")
    parser.add_argument("--batch-size", type=_positive_int, default=None,
                        help=f"path points / noisy copies per forward pass; bounds memory (default: {DEFAULT_BATCH})")
    parser.add_argument("--out", default="build/explain", type=Path,
                        help="output folder for figures and summary.csv (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    rows = explain_files(args.inputs, args.out, args.model, args.method, args.n_steps, args.batch_size,
                         progress=not args.quiet)
    failed = sum(1 for row in rows if row["error"])
    print(f"{len(rows) - failed} image(s) explained, {failed} failed; summary: {args.out / 'summary.csv'}")
    return 1 if rows and failed == len(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
