"""`make bench`: speed and memory of the hand-written methods, measured in one run.

Prints one table (offline ImageNet model EfficientNet-Lite0, one 224x224 image, CPU):
hand-written IG vs Captum, IG per step vs a raw forward+backward, IG's peak memory at
several n_steps, hand-written SmoothGrad vs Captum's NoiseTunnel(Saliency), and the gradient
evaluations that converged IG costs on every course photo, adaptive against Captum's five fixed
rules (``tools.ig_bench``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

import torch

from helpers.attribution import DEFAULT_BATCH, integrated_gradients, smoothgrad
from helpers.data import sample_images
from helpers.models import load_classifier
from tools.ig_bench import measure_ig
from tools.notebooks import ROOT
from helpers.timing import PAIRED_REPEATS, Seconds, paired_seconds

N_STEPS = 50
N_SAMPLES = 50
MEMORY_STEPS = (50, 300, 1000)
PIPELINE_IMAGES, PIPELINE_STEPS = 12, 32  # pipeline vs its cost floor (images >= 2); steps: a multiple of DEFAULT_BATCH


def setup():
    """The offline model on the CPU, the cat photo and its top class."""
    classifier = load_classifier("efficientnet_lite0")
    x = classifier.input_batch(sample_images(["chelsea"])["chelsea"])
    return classifier.model, x, classifier.top_k(x, k=1)[0][2]




def peak_rss_mb(n_steps: int | None) -> float:
    """Peak resident memory (MB) of a fresh process that loads the model and runs IG (or nothing)."""
    command = [sys.executable, "-m", "tools.bench", "--peak-rss", str(n_steps or 0)]
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return float(output.split()[-1])


def _child_peak_rss(n_steps: int) -> None:
    model, x, target = setup()
    if n_steps:
        integrated_gradients(model, x, target, n_steps=n_steps)
    print(own_peak_rss_mb())


def own_peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    Linux: VmHWM, which starts afresh in a new program (ru_maxrss would include the memory
    of the parent that started it). Elsewhere: ru_maxrss (bytes on macOS).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # Unix only: imported here so that the module loads on Windows too

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def measure() -> list[tuple[str, str, str, str]]:
    from captum.attr import IntegratedGradients, NoiseTunnel, Saliency

    model, x, target = setup()
    rows = []

    ig = IntegratedGradients(model)
    ours, captum, ratio = paired_seconds(
        lambda: integrated_gradients(model, x, target, n_steps=N_STEPS),
        lambda: ig.attribute(x, target=target, n_steps=N_STEPS, method="riemann_trapezoid",
                             internal_batch_size=DEFAULT_BATCH))
    rows.append((f"IG time, hand-written / Captum (n_steps {N_STEPS}, batch {DEFAULT_BATCH})",
                 f"{ours:.2f} s / {captum:.2f} s = {ratio:.2f}", "<= 1.1", _verdict(ratio <= 1.1)))

    batch = x.repeat(DEFAULT_BATCH, 1, 1, 1)

    def raw_forward_backward():
        inputs = batch.clone().requires_grad_(True)
        torch.autograd.grad(model(inputs)[:, target].sum(), inputs)

    # One IG run of DEFAULT_BATCH steps is one batch of the same size: compare the two directly.
    ig_batch, raw_batch, ratio = paired_seconds(
        lambda: integrated_gradients(model, x, target, n_steps=DEFAULT_BATCH), raw_forward_backward,
        repeats=3 * PAIRED_REPEATS)  # short runs: more pairs for the same precision
    rows.append((f"IG time per step / raw forward+backward per image (batch {DEFAULT_BATCH})",
                 f"{ig_batch / DEFAULT_BATCH * 1000:.1f} ms / {raw_batch / DEFAULT_BATCH * 1000:.1f} ms = {ratio:.2f}",
                 "<= 1.1", _verdict(ratio <= 1.1)))

    idle = peak_rss_mb(None)
    rows.append(("peak RSS, model loaded, no IG", f"{idle:.0f} MB", "", ""))
    for n_steps in MEMORY_STEPS:
        peak = peak_rss_mb(n_steps)
        goal = "< 2048 MB" if n_steps == max(MEMORY_STEPS) else ""
        rows.append((f"peak RSS, IG n_steps {n_steps} (default batch {DEFAULT_BATCH})", f"{peak:.0f} MB", goal,
                     _verdict(peak < 2048) if goal else ""))

    rows.extend(measure_pipeline())
    sigma = 0.15 * float(x.max() - x.min())
    noise_tunnel = NoiseTunnel(Saliency(model))
    ours_sg, captum_sg, ratio = paired_seconds(
        lambda: smoothgrad(model, x, target, n_samples=N_SAMPLES, seed=0),
        lambda: noise_tunnel.attribute(x, nt_type="smoothgrad", nt_samples=N_SAMPLES, stdevs=sigma,
                                       nt_samples_batch_size=DEFAULT_BATCH, target=target, abs=False))
    rows.append((f"SmoothGrad time, hand-written / NoiseTunnel(Saliency) ({N_SAMPLES} samples, batch {DEFAULT_BATCH})",
                 f"{ours_sg:.2f} s / {captum_sg:.2f} s = {ratio:.2f}", "", ""))
    rows.extend(measure_ig())
    return rows


def measure_pipeline(classifier=None) -> list[tuple[str, str, str, str]]:
    """The streaming pipeline (figures off) at steady state against its floor, and its start-up cost.

    Steady state: the seconds between the first and the last summary row, per image, i.e.
    decoding, explaining and writing with the DataLoader workers running. The floor:
    n_steps path points per image through the raw batched forward+backward.
    """
    import tempfile

    from helpers.explain import Options
    from helpers.data import make_image_folder
    from helpers.explain import explain_stream

    classifier = classifier or load_classifier("efficientnet_lite0")
    model, options = classifier.model, Options("ig", PIPELINE_STEPS, figures="none")
    batch = torch.rand(DEFAULT_BATCH, 3, 224, 224)
    first_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_image_folder(f"{tmp}/images", PIPELINE_IMAGES, size=224)

        def pipeline():  # seconds per image between the first and the last row
            start = time.perf_counter()
            stamps = [time.perf_counter() for _ in explain_stream([folder], f"{tmp}/out", classifier, options,
                                                                  progress=False)]
            first_rows.append(stamps[0] - start)
            return Seconds((stamps[-1] - stamps[0]) / (len(stamps) - 1))

        def floor():  # n_steps path points per image, DEFAULT_BATCH at a time
            start = time.perf_counter()
            for _ in range(PIPELINE_IMAGES * PIPELINE_STEPS // DEFAULT_BATCH):
                inputs = batch.clone().requires_grad_(True)
                torch.autograd.grad(model(inputs)[:, 0].sum(), inputs)
            return Seconds((time.perf_counter() - start) / PIPELINE_IMAGES)

        ours, cost_floor, ratio = paired_seconds(pipeline, floor, repeats=3)
        del first_rows[0]  # paired_seconds' warm-up call
    return [(f"pipeline s/image at steady state, figures none / n_steps x raw fwd+bwd (IG {PIPELINE_STEPS} steps, "
             f"{PIPELINE_IMAGES} images, 2 workers)",
             f"{ours:.2f} s / {cost_floor:.2f} s = {ratio:.2f} ({1 / ours:.2f} images/s)", "<= 1.15",
             _verdict(ratio <= 1.15)),
            ("pipeline start-up: seconds to the first row (workers start, first image explained)",
             f"{statistics.median(first_rows):.2f} s once per run", "", "")]


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def machine() -> str:
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), Python {platform.python_version()}")


def print_table(rows) -> None:
    widths = [max(len(row[i]) for row in rows + [HEADER]) for i in range(4)]
    for row in [HEADER, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")


HEADER = ("measurement (EfficientNet-Lite0, 1 image 224x224, CPU)", "result", "goal", "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__)
    parser.add_argument("--peak-rss", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--pipeline", action="store_true", help="measure only the batch pipeline (notebook 03)")
    parser.add_argument("--ig", action="store_true", help="measure only converged IG: adaptive against fixed rules")
    args = parser.parse_args(argv)
    if args.peak_rss is not None:
        _child_peak_rss(args.peak_rss)
        return 0
    print(f"machine: {machine()}")
    start = time.time()
    print_table(measure_pipeline() if args.pipeline else measure_ig() if args.ig else measure())
    print(f"(measured in {time.time() - start:.0f} s; each pair timed alternately after a warm-up, "
          f"{PAIRED_REPEATS} times (IG per step: {3 * PAIRED_REPEATS}, pipeline: 3): medians of the times and of "
          f"the ratios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
