"""The command line ``python -m helpers.explain`` (``--help`` lists every option)::

    python -m helpers.explain photos/ cat.jpg --model mobilenet_v3_large --method ig --target-gap 0.01 --out build/explain
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers.attribution import DEFAULT_BATCH, INITIAL_INTERVALS

from helpers.validate import check_count
from helpers.explain.core import FIGURE_MODES, METHODS, EngineError, Options
from helpers.explain.stream import explain_stream
from helpers.models import MODEL_NAMES
from helpers.settings import display_path


class _OneLineErrors(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _integer_at_least(minimum: int):
    """An argparse ``type``: an integer >= ``minimum``, or a one-line error."""
    def parse(text: str) -> int:
        try:
            return check_count(int(text), "value", minimum=minimum)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}") from None
    return parse


def _positive_number(text: str) -> float:
    """An argparse ``type``: a finite number > 0, or a one-line error."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0 (the course's bar: 0.01), got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(
        prog="python -m helpers.explain",
        description="Explain the top-1 prediction of an ImageNet classifier for each image; write one "
                    "figure per image (image | attribution | overlay, top-3 predictions) and summary.csv.",
    )
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR",
                        help="image files and/or folders (folders: every jpg/png/webp/bmp/gif/tif file in the "
                             "whole tree, read once, lazily: the run starts at once, whatever the size; the "
                             "progress bar gets its total when a background count ends)")
    parser.add_argument("--model", default="mobilenet_v3_large", choices=MODEL_NAMES,
                        help="classifier to explain (default: %(default)s; offline it falls back to efficientnet_lite0)")
    parser.add_argument("--method", default="ig", choices=list(METHODS),
                        help="ig = Integrated Gradients, saliency = plain gradient, smoothgrad = SmoothGrad "
                             "(default: %(default)s)")
    parser.add_argument("--n-steps", type=_integer_at_least(1), default=None,
                        help="IG: a fixed grid of N_STEPS points instead of adaptive IG; SmoothGrad: noisy "
                             "samples (default: adaptive IG; 50 SmoothGrad samples)")
    parser.add_argument("--target-gap", type=_positive_number, default=None,
                        help="adaptive IG: refine the path until the relative completeness gap and the estimated "
                             "map error are under this (default: 0.01)")
    parser.add_argument("--max-steps", type=_integer_at_least(4 * INITIAL_INTERVALS + 1), default=None,
                        help="adaptive IG: at most this many gradient evaluations per image; an image that needs "
                             "more is written with converged=False and a warning (default: 4096)")
    parser.add_argument("--batch-size", type=_integer_at_least(1), default=None,
                        help=f"path points / noisy copies per forward pass; bounds memory (default: {DEFAULT_BATCH})")
    parser.add_argument("--out", default="build/explain", type=Path,
                        help="output folder for figures/, maps/, summary.csv and run.json (default: %(default)s)")
    parser.add_argument("--figures", default="all", choices=FIGURE_MODES,
                        help="draw one figure per image, or none (default: %(default)s)")
    parser.add_argument("--save-maps", action="store_true",
                        help="save each attribution map as float16 .npy in OUT/maps/ (column 'map' of summary.csv)")
    parser.add_argument("--resume", action="store_true",
                        help="skip the files already in OUT/summary.csv (same model, method and settings, "
                             "checked against OUT/run.json) and append the others; files are matched by their "
                             "resolved path (photos/, ./photos and /abs/photos are the same). Files whose row "
                             "has an error are tried again: their rows are first removed from summary.csv "
                             "(rewritten atomically; rows of files no longer among the inputs go too), so "
                             "every file appears once")
    parser.add_argument("--workers", type=_integer_at_least(0), default=None,
                        help="local engine: DataLoader processes that read and decode images (default: 2; "
                             "0 = in the main process)")
    parser.add_argument("--engine", default="local", choices=["local", "ray"],
                        help="local = this process + DataLoader workers; ray = Ray Data actors "
                             "(needs pip install -e '.[scale]') (default: %(default)s)")
    parser.add_argument("--address", default=None,
                        help="--engine ray: address of a running Ray cluster, e.g. 10.0.0.5:6379 or auto "
                             "(default: start a local Ray instance)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.address and args.engine != "ray":
        print("python -m helpers.explain: error: --address needs --engine ray", file=sys.stderr)
        return 2
    adaptive = {"target_gap": args.target_gap, "max_steps": args.max_steps}
    given = [f"--{name.replace('_', '-')}" for name, value in adaptive.items() if value is not None]
    if given and (args.method != "ig" or args.n_steps is not None):
        verb = "applies" if len(given) == 1 else "apply"
        print(f"python -m helpers.explain: error: {' and '.join(given)} {verb} only to adaptive IG "
              f"(--method ig without --n-steps)", file=sys.stderr)
        return 2
    options = Options(args.method, args.n_steps, args.batch_size, args.figures, args.save_maps,
                      **{name: value for name, value in adaptive.items() if value is not None})
    explained = failed = 0
    try:
        for row in explain_stream(args.inputs, args.out, args.model, options, resume=args.resume,
                                  workers=args.workers, engine=args.engine, address=args.address,
                                  progress=not args.quiet):
            failed += bool(row["error"])
            explained += not row["error"]
    except (EngineError, ValueError) as error:
        print(f"python -m helpers.explain: error: {error}", file=sys.stderr)
        return 2
    print(f"{explained} image(s) explained, {failed} failed; summary: {display_path(args.out / 'summary.csv')}")
    return 1 if failed and not explained else 0
