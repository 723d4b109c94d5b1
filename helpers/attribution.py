"""Attribution methods written out by hand: Integrated Gradients and SmoothGrad.

Both work for any model that maps a batch (N, C, H, W) to class scores (N, classes),
on whichever device the model lives, and process their many model evaluations in
bounded batches so memory does not grow with ``n_steps`` or ``n_samples``.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from helpers.validate import check_count, prepare_inputs

IG_METHODS = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre")
DEFAULT_BATCH = 8  # path points (IG) or noisy copies (SmoothGrad) per forward/backward pass


def ig_alphas_and_weights(n_steps: int, method: str = "riemann_trapezoid",
                          dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Quadrature nodes ``alpha_k`` in [0, 1] and weights ``w_k`` (summing to 1) for IG's integral, in ``dtype``.

    ``integrated_gradients`` asks for them in the input's dtype, as Captum does: a float64 model
    gets float64 nodes and weights, a float32 model exactly the float32 nodes it always had (on a
    ReLU network a node that moves by 1e-8 can flip an activation and change a gradient).
    """
    n_steps = check_count(n_steps, "n_steps", minimum=2 if method == "riemann_trapezoid" else 1)
    uniform = torch.full((n_steps,), 1 / n_steps, dtype=torch.float64)
    if method == "riemann_left":
        alphas, weights = torch.linspace(0, 1 - 1 / n_steps, n_steps, dtype=dtype), uniform
    elif method == "riemann_right":
        alphas, weights = torch.linspace(1 / n_steps, 1, n_steps, dtype=dtype), uniform
    elif method == "riemann_middle":
        alphas = torch.linspace(1 / (2 * n_steps), 1 - 1 / (2 * n_steps), n_steps, dtype=dtype)
        weights = uniform
    elif method == "riemann_trapezoid":
        alphas = torch.linspace(0, 1, n_steps, dtype=dtype)
        weights = torch.full((n_steps,), 1 / (n_steps - 1), dtype=torch.float64)
        weights[[0, -1]] /= 2
    elif method == "gausslegendre":
        nodes, gl_weights = np.polynomial.legendre.leggauss(n_steps)
        alphas, weights = torch.from_numpy((nodes + 1) / 2), torch.from_numpy(gl_weights / 2)
    else:
        raise ValueError(f"Unknown method {method!r}: choose one of {', '.join(IG_METHODS)}.")
    return alphas.to(dtype), weights.to(dtype)


def integrated_gradients(model: nn.Module, x: torch.Tensor, target, baseline=None, n_steps: int = 50,
                         method: str = "riemann_trapezoid", internal_batch_size: int | None = None) -> torch.Tensor:
    """Integrated Gradients of ``model``'s output ``target`` at ``x`` (same shape as ``x``).

    IG_i(x) = (x_i - x'_i) * integral_0^1 dF(x' + a (x - x'))/dx_i da, with the integral
    replaced by the quadrature ``method`` over ``n_steps`` points. ``baseline`` (x')
    defaults to zeros, i.e. a black image for the course's [0, 1] models.
    ``internal_batch_size`` path points go through the model at once (default ``DEFAULT_BATCH``, 8).
    """
    x, targets, baseline = prepare_inputs(model, x, target, baseline)
    alphas, weights = ig_alphas_and_weights(n_steps, method, x.dtype)
    batch = check_count(DEFAULT_BATCH if internal_batch_size is None else internal_batch_size, "internal_batch_size")
    total = torch.zeros_like(x)
    for start in range(0, len(alphas), batch):
        a = alphas[start:start + batch].to(x.device, x.dtype).view(-1, 1, 1, 1, 1)
        w = weights[start:start + batch].to(x.device, x.dtype).view(-1, 1, 1, 1, 1)
        path = (baseline + a * (x - baseline)).reshape(-1, *x.shape[1:])  # (steps * N, C, H, W)
        grads = _target_gradients(model, path, targets.repeat(len(a)))
        total += (w * grads.view(len(a), *x.shape)).sum(dim=0)
    return (x - baseline) * total


def adaptive_integrated_gradients(model: nn.Module, x: torch.Tensor, target, baseline=None, target_gap: float = 0.01,
                                  max_steps: int = 4096, internal_batch_size: int | None = None):
    """Integrated Gradients whose path points go where the integrand needs them; returns (attributions, info).

    The path [0, 1] starts as ``INITIAL_INTERVALS`` intervals, each known at five points (Simpson's rule
    on each half). Each interval carries two error estimates: the change of its map between the coarse
    and the fine Simpson rule, taken as it is (the usual /15 assumes a smooth integrand; the gradient
    of a ReLU network jumps along the path, and with /15 the estimate ran 5x low: 5.6% from a
    1025-point map on EfficientNet-Lite0 and the cat photo), and its completeness check, the fine sum
    against F(b) - F(a), read off the forward passes that give the gradients (it sees a rise or a
    spike that falls between the samples). Until the completeness gap is under ``target_gap`` and
    the estimated error of the map (root sum of squares of the intervals' estimates, relative to the
    map's norm) under 2 x ``target_gap``, the intervals that need it most are halved, reusing every
    gradient already computed; the gap alone could be small by cancellation. Intervals that cannot
    matter any more are added up and forgotten, so memory holds a few gradients per open interval.
    Measured (target 1%) on four random ReLU6 convnets against a 4097-point map: 53-101 gradients,
    gaps <= 0.6%, maps 0.7-0.8% from the reference (the estimate is about 2.5x conservative); on
    the course photos: docs/benchmarks.md.
    ``info``, per image: ``steps`` (gradient evaluations), ``gap`` (relative completeness gap of the
    result), ``converged`` (gap and estimated map error both under their bars) and ``alphas``
    (the path points used, sorted). When ``max_steps`` comes first, a ``RuntimeWarning`` names the
    image, its gap and its steps.
    """
    target_gap, max_steps = check_target_gap(target_gap), check_max_steps(max_steps)
    x, targets, baseline = prepare_inputs(model, x, target, baseline)
    batch = check_count(DEFAULT_BATCH if internal_batch_size is None else internal_batch_size, "internal_batch_size")
    maps, info = [], {"steps": [], "gap": [], "converged": [], "alphas": []}
    for i in range(len(x)):
        attribution, steps, gap, converged, alphas = _adaptive_one(
            model, x[i:i + 1], targets[i:i + 1], baseline[i:i + 1], target_gap, max_steps, batch)
        if not converged:
            warnings.warn(f"adaptive_integrated_gradients: image {i} did not converge: completeness gap "
                          f"{gap:.2%} (target {target_gap:.2%}) after {steps} gradient evaluations "
                          f"(max_steps={max_steps}).", RuntimeWarning, stacklevel=2)
        maps.append(attribution)
        for key, value in zip(info, (steps, gap, converged, alphas)):
            info[key].append(value)
    info = {"steps": torch.tensor(info["steps"]), "gap": torch.tensor(info["gap"], dtype=torch.float64),
            "converged": torch.tensor(info["converged"]), "alphas": info["alphas"]}
    return torch.cat(maps), info


INITIAL_INTERVALS = 4  # adaptive IG starts from INITIAL_INTERVALS Simpson intervals: 2 * INITIAL_INTERVALS + 1 points
# How the map's error is estimated and judged (measured in docs/benchmarks.md, "Converged IG at the least cost"):
# error_factor 1 takes an interval's |fine - coarse| itself (1/15 would assume a smooth integrand, which a ReLU
# network's is not: its gradient jumps along the path); no Richardson correction for the same reason; the map
# stops when that estimate is under map_bar * target_gap.
TUNING = {"error_factor": 1.0, "richardson": False, "map_bar": 2.0}


def check_target_gap(target_gap) -> float:
    """``target_gap`` if it is a number > 0, else a ``ValueError``."""
    if isinstance(target_gap, bool) or not isinstance(target_gap, (int, float)) or not 0 < target_gap < float("inf"):
        raise ValueError(f"target_gap must be a number > 0 (the course's bar is 0.01), got {target_gap!r}.")
    return target_gap


def check_max_steps(max_steps) -> int:
    """``max_steps`` if it is an integer of at least the adaptive IG's first points, else a ``ValueError``."""
    return check_count(max_steps, "max_steps", minimum=4 * INITIAL_INTERVALS + 1)


def _adaptive_one(model, x, target, baseline, target_gap, max_steps, batch, **tuning):
    """Adaptive Simpson over the path of one image: (attribution, steps, relative gap, converged, alphas)."""
    delta = x - baseline

    def integrand(alphas):
        """(F, g, sum of g) for each alpha, g(alpha) = dF/dx(x' + alpha (x - x')) * (x - x')."""
        values, gradients = [], []
        for start in range(0, len(alphas), batch):
            a = torch.tensor(alphas[start:start + batch], dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)
            outputs, grads = _outputs_and_gradients(model, baseline + a * delta, target.repeat(len(a)))
            values += outputs.tolist()
            gradients += list(grads * delta)
        return [(value, gradient, float(gradient.sum())) for value, gradient in zip(values, gradients)]

    total, *rest = _adaptive_path(integrand, target_gap, max_steps, **tuning)
    return (total.view_as(x), *rest)


def _adaptive_path(integrand, target_gap, max_steps, initial=None, **tuning):
    """The adaptive quadrature of ``integrand`` (alphas -> [(F, g, sum g)]) over [0, 1]."""
    tuning = {**TUNING, **tuning}
    initial = initial or INITIAL_INTERVALS
    evaluated = {}

    def counted(alphas):
        points = integrand(alphas)
        evaluated.update(zip(alphas, (p[0] for p in points)))
        return points

    edges = [k / (2 * initial) for k in range(2 * initial + 1)]
    points = counted(edges)
    change = points[-1][0] - points[0][0]
    if change == 0:
        raise ValueError(f"F(x) = F(x') = {points[0][0]:.6g}: the baseline scores exactly as the image, so the "
                         f"relative completeness gap that adaptive IG aims at is undefined. Choose another "
                         f"baseline or class.")
    like = points[0][1]
    first = [(edges[2 * k], edges[2 * k + 2], *points[2 * k:2 * k + 3]) for k in range(initial)]
    intervals = _refine_all(first, counted, tuning)
    settled, settled_variance = torch.zeros_like(like), 0.0
    while True:
        total = settled + sum((i["map"] for i in intervals), torch.zeros_like(like))
        size = float(total.norm()) or 1.0
        gap = abs(float(total.sum()) - change) / abs(change)
        map_error = (settled_variance + sum(i["map_error"] ** 2 for i in intervals)) ** 0.5 / size
        converged = gap <= target_gap and map_error <= tuning["map_bar"] * target_gap
        if converged:
            break
        for i in intervals:
            i["priority"] = max(i["map_error"] / size, i["check"] / abs(change))
        intervals.sort(key=lambda i: i["priority"], reverse=True)
        need, count, covered = sum(i["priority"] for i in intervals), 0, 0.0
        while count < len(intervals) and (covered < need / 2 or count == 0):
            covered += intervals[count]["priority"]
            count += 1
        count = min(count, (max_steps - len(evaluated)) // 4)
        if count <= 0:  # out of budget (the first pass may already have spent more than max_steps allows)
            break
        worst, intervals = intervals[:count], intervals[count:]
        forgotten = [i for i in intervals if i["priority"] < target_gap / max_steps]
        settled += sum((i["map"] for i in forgotten), torch.zeros_like(like))
        settled_variance += sum(i["map_error"] ** 2 for i in forgotten)
        intervals = [i for i in intervals if i["priority"] >= target_gap / max_steps]
        intervals += _refine_all([half for i in worst for half in i["halves"]], counted, tuning)
    return total, len(evaluated), gap, converged, sorted(evaluated)


def _refine_all(parts, integrand, tuning=TUNING):
    """Evaluate the quarter points of every (a, b, left, middle, right) in ``parts``; the refined intervals."""
    quarters = integrand([alpha for a, b, *_ in parts for alpha in ((3 * a + b) / 4, (a + 3 * b) / 4)])
    return [_refined(*part, quarters[2 * k], quarters[2 * k + 1], tuning) for k, part in enumerate(parts)]


def _refined(a, b, left, middle, right, q1, q2, tuning=TUNING):
    """An interval [a, b] known at its five points: its map (Simpson on the halves, Richardson-corrected),
    the norm of that map's estimated error, its completeness check |sum - (F(b) - F(a))| in F's units,
    and its two halves with their three points each."""
    centre = (a + b) / 2
    coarse, coarse_sum = _simpson(a, b, left, middle, right)
    fine_left, left_sum = _simpson(a, centre, left, q1, middle)
    fine_right, right_sum = _simpson(centre, b, middle, q2, right)
    fine, fine_sum = fine_left + fine_right, left_sum + right_sum
    change = fine - coarse
    return {"map": fine + change / 15 if tuning["richardson"] else fine,
            "map_error": float(change.norm()) * tuning["error_factor"],
            "check": abs(fine_sum - (right[0] - left[0])),
            "halves": [(a, centre, left, q1, middle), (centre, b, middle, q2, right)]}


def _simpson(a, b, left, middle, right):
    """Simpson's rule on [a, b] from (F, g, sum of g) at a, (a + b) / 2 and b: (the map, its sum)."""
    weight = (b - a) / 6
    return weight * (left[1] + 4 * middle[1] + right[1]), weight * (left[2] + 4 * middle[2] + right[2])


def completeness_gap(model: nn.Module, x: torch.Tensor, target, attributions: torch.Tensor, baseline=None) -> torch.Tensor:
    """Per image |sum(attributions) - (F(x) - F(baseline))|: zero for exact IG (completeness axiom)."""
    x, targets, baseline = prepare_inputs(model, x, target, baseline)
    with torch.no_grad():
        rows = torch.arange(len(x), device=x.device)
        difference = model(x)[rows, targets] - model(baseline)[rows, targets]
    return (attributions.to(x.device).flatten(1).sum(dim=1) - difference).abs()


def output_change(model: nn.Module, x: torch.Tensor, target: int, baseline=None) -> float:
    """F(x) - F(x') of one image for class ``target``: what IG's attributions must add up to.

    The course reports IG's completeness gap relative to it, so it must not be zero: a
    ``ValueError`` says so when the baseline scores exactly as the image does.
    """
    x, targets, baseline = prepare_inputs(model, x, target, baseline)
    if len(x) != 1:
        raise ValueError(f"output_change takes one image, got {len(x)}.")
    with torch.no_grad():
        at_x, at_baseline = (float(value) for value in model(torch.cat([x, baseline]))[:, targets[0]])
    if at_x == at_baseline:
        raise ValueError(f"F(x) = F(x') = {at_x:.6g} for class {int(targets[0])}: the baseline scores exactly as the "
                         f"image, so IG's attributions must add up to 0 and a gap relative to F(x) - F(x') is "
                         f"undefined. Choose another baseline or class (a model with random weights often gives "
                         f"this), or look at the absolute gap.")
    return at_x - at_baseline


def vanilla_gradient(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """The plain gradient dF_target/dx (signed), the map SmoothGrad starts from."""
    x, targets, _ = prepare_inputs(model, x, target, None)
    return _target_gradients(model, x, targets)


def smoothgrad(model: nn.Module, x: torch.Tensor, target, n_samples: int = 50, noise_level: float = 0.15,
               batch_size: int | None = None, seed: int | None = None, squared: bool = False) -> torch.Tensor:
    """SmoothGrad: the gradient averaged over ``n_samples`` noisy copies of ``x``.

    Noise is Gaussian with sigma = noise_level * (max(x) - min(x)) per image, drawn on the
    CPU one noisy copy at a time from a generator seeded with ``seed`` afresh for every
    image: an image's noise, and so its map, does not depend on ``batch_size`` or on its
    position in ``x`` (reproducible on every device). ``squared=True`` averages squared
    gradients (SmoothGrad-Squared). Copies go through the model ``batch_size`` at a time
    (default ``DEFAULT_BATCH``, 8).
    """
    x, targets, _ = prepare_inputs(model, x, target, None)
    n_samples = check_count(n_samples, "n_samples")
    batch = check_count(DEFAULT_BATCH if batch_size is None else batch_size, "batch_size")
    if isinstance(noise_level, bool) or not isinstance(noise_level, (int, float)) or not 0 <= noise_level < float("inf"):
        raise ValueError(f"noise_level must be a number >= 0, got {noise_level!r}.")
    total = torch.zeros_like(x)
    for i in range(len(x)):
        image = x[i:i + 1]
        sigma = noise_level * float(image.max() - image.min())
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        for start in range(0, n_samples, batch):
            count = min(batch, n_samples - start)
            # One draw per copy: PyTorch's CPU sampler fills a tensor differently when its size
            # is a multiple of 16, so a single draw for the whole batch would depend on `count`.
            noise = torch.stack([torch.randn(image.shape[1:], generator=generator) for _ in range(count)]) * sigma
            grads = _target_gradients(model, image + noise.to(x.device), targets[i].repeat(count))
            total[i] += (grads ** 2 if squared else grads).sum(dim=0)
    return total / n_samples


def _target_gradients(model, inputs, targets):
    """d output[n, targets[n]] / d inputs[n] for every row n, in one backward pass."""
    return _outputs_and_gradients(model, inputs, targets)[1]


def _outputs_and_gradients(model, inputs, targets):
    """(output[n, targets[n]], d output[n, targets[n]] / d inputs[n]) for every row n, in one pass."""
    inputs = inputs.detach().requires_grad_(True)
    with torch.enable_grad():
        outputs = model(inputs)
        if outputs.dim() != 2:
            raise ValueError(f"The model must return class scores of shape (N, classes), got {tuple(outputs.shape)}.")
        if int(targets.max()) >= outputs.shape[1] or int(targets.min()) < 0:
            raise ValueError(f"target out of range: the model has {outputs.shape[1]} classes.")
        selected = outputs.gather(1, targets.view(-1, 1))
        (grads,) = torch.autograd.grad(selected.sum(), inputs)
    # a channels_last model (helpers.models) can return channels_last gradients
    return selected.detach().flatten(), grads.contiguous()
