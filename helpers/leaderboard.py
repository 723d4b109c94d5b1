"""The methods of ``helpers.methods`` run over the photos, scored, and ranked in one leaderboard.

Shared by notebooks 07 and 08.

- ``run_methods`` runs several methods over several photos and times them.
- ``faithfulness_scores``, ``randomization_scores``, ``robustness_scores`` measure the
  maps (one row per photo and method); ``leaderboard`` turns the rows into the sorted
  table (mean and spread over the photos).
- ``per_photo`` compares a metric within each photo (ranks, or ratios to the random map), so
  one photo cannot set the scale of a mean; ``completeness_scores`` measures IG's gap.
- ``cascade`` is the cascading randomization of Adebayo et al. (2018), maps included;
  ``block_groups`` gives its stages: the output layer alone, then block by block.
"""

from __future__ import annotations

import time
from dataclasses import asdict

import re

import numpy as np
import pandas as pd
import torch
from torch import nn

from helpers.attribution import completeness_gap
from helpers.evaluation import (
    FORWARD_BATCH, blurred, curve_auc, deletion_curve, insertion_curve, randomization_sanity_check,
)

from helpers.methods import MethodSettings, _on
from helpers.randomness import seeded


# --------------------------------------------------------------------------- running and scoring


def run_methods(model, images: dict, targets: dict, methods: dict, warm_up: bool = True) -> tuple[dict, dict]:
    """Run every method on every photo.

    ``images``: {photo: (1, C, H, W) tensor}; ``targets``: {photo: class index};
    ``methods``: {name: Method} (from ``make_methods``). Returns (maps, seconds), both
    ``{method: {photo: ...}}``: the maps on the CPU and the wall-clock seconds of each call.
    Each method is first called once untimed on the first photo: a first call pays one-off
    set-up costs (IG on chelsea: 1.8 s against 0.8 s on the next photos); ``warm_up=False``
    skips it for a method whose one-off costs are small against its run (adaptive IG).
    """
    _check_photos(images, targets)
    maps, seconds = {}, {}
    first = next(iter(images), None)
    for name, method in methods.items():
        maps[name], seconds[name] = {}, {}
        if first is not None and warm_up:
            method(model, images[first], targets[first])  # warm-up, not timed
        for photo, x in images.items():
            start = time.perf_counter()
            maps[name][photo] = method(model, x, targets[photo])
            seconds[name][photo] = time.perf_counter() - start
    return maps, seconds


FAITHFULNESS = ("deletion AUC (black)", "deletion AUC (blurred)", "insertion AUC", "deletion AUC (mean colour)")
DEFAULT_FAITHFULNESS = FAITHFULNESS[:3]


def deletion_reference(x: torch.Tensor, kind: str) -> torch.Tensor | None:
    """The image that deleted pixels take in a deletion test ``kind`` (None: black)."""
    if "blurred" in kind:
        return blurred(x)
    if "mean colour" in kind:  # the photo's average colour: no method's baseline
        return x.mean(dim=(2, 3), keepdim=True).expand_as(x).contiguous()
    return None


def faithfulness_scores(model: nn.Module, images: dict, targets: dict, maps: dict, steps: int = 20,
                        keep_curves: bool = False, kinds=DEFAULT_FAITHFULNESS):
    """Deletion AUCs and insertion AUC per photo and method.

    ``model`` returns logits (the curves apply the softmax). Pixels are ranked by the map
    summed over channels (a (1, 1, H, W) map is used as it is). Returns a DataFrame with
    columns photo, method and the ``kinds`` asked for, some of ``FAITHFULNESS`` (default:
    "deletion AUC (black)", "deletion AUC (blurred)", "insertion AUC"; also "deletion AUC
    (mean colour)": deleted pixels take the photo's average colour); with
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
                    reference = deletion_reference(x, kind)
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
    "deletion AUC (mean colour)": False,
    "insertion AUC": True,
    "randomization correlation": False,
    "infidelity": False,
    "sensitivity": False,
    "infidelity ÷ random": False,
    "infidelity rank": False,
    "completeness gap": False,
    "seconds per image": False,
}


def completeness_scores(model: nn.Module, images: dict, targets: dict, maps: dict, methods=("IG",)) -> pd.DataFrame:
    """Relative completeness gap |sum(map) - (F(x) - F(black))| / |F(x) - F(black)| per photo (IG's bar: 1%).

    Only for the ``methods`` whose maps should add up to F(x) - F(black). Columns: photo, method,
    "completeness gap".
    """
    _check_photos(images, targets)
    rows = []
    for method in methods:
        for photo, x in images.items():
            x = _on(model, x)
            with torch.no_grad():
                change = (model(x) - model(torch.zeros_like(x)))[0, targets[photo]].item()
            gap = completeness_gap(model, x, targets[photo], maps[method][photo].to(x.device)).item()
            rows.append({"photo": photo, "method": method, "completeness gap": gap / abs(change)})
    return pd.DataFrame(rows)


def per_photo(scores: pd.DataFrame, metric: str, how: str = "rank", control: str = "random") -> pd.DataFrame:
    """``metric`` compared within each photo: rows photo, method and a new column.

    ``how="rank"``: the method's rank among all methods on that photo (1 = best, as ``METRICS``
    says), column "<metric> rank"; ``how="ratio"``: the value divided by the ``control``
    method's value on the same photo, column "<metric> ÷ <control>". Either way one photo with
    large values cannot set the scale of the mean.
    """
    if metric not in scores.columns:
        raise ValueError(f"No column {metric!r}: the scores have {list(scores.columns)}.")
    table = scores[["photo", "method", metric]].copy()
    if how == "rank":
        table[f"{metric} rank"] = table.groupby("photo")[metric].rank(ascending=not METRICS.get(metric, False))
    elif how == "ratio":
        reference = table[table.method == control].set_index("photo")[metric]
        if reference.empty:
            raise ValueError(f"No method {control!r} in the scores to divide by.")
        table[f"{metric} ÷ {control}"] = table[metric] / table.photo.map(reference)
    else:
        raise ValueError(f"how must be 'rank' or 'ratio', got {how!r}.")
    return table.drop(columns=metric)


def seconds_table(seconds: dict) -> pd.DataFrame:
    """The ``seconds`` of ``run_methods`` as rows (photo, method, "seconds per image")."""
    return pd.DataFrame([{"photo": photo, "method": method, "seconds per image": value}
                         for method, per_photo in seconds.items() for photo, value in per_photo.items()])


def leaderboard(*tables: pd.DataFrame, sort_by: str = "deletion AUC (blurred)",
                stats=("mean", "std")) -> pd.DataFrame:
    """One row per method: the mean and the spread (std over photos) of every metric.

    ``tables`` have one row per (photo, method) and metric columns (the outputs of the
    ``*_scores`` functions and ``seconds_table``); they are joined on photo and method.
    Columns are a MultiIndex (metric, stat) for the ``stats`` asked for ("mean", "std", and
    also "min", "max": the range over the photos); rows sorted by the mean of ``sort_by``,
    best first (``METRICS`` says which direction is better).
    """
    unknown = [stat for stat in stats if stat not in ("mean", "std", "min", "max")]
    if unknown or "mean" not in stats:
        raise ValueError(f"stats must include 'mean' and be some of mean, std, min, max; got {list(stats)}.")
    if not tables:
        raise ValueError("leaderboard needs at least one table of scores.")
    scores = tables[0]
    for table in tables[1:]:
        scores = scores.merge(table, on=["photo", "method"], how="outer")
    metrics = [column for column in scores.columns if column not in ("photo", "method")]
    if sort_by not in metrics:
        raise ValueError(f"Cannot sort by {sort_by!r}: the scores have {metrics}.")
    grouped = scores.groupby("method", sort=False)[metrics]
    computed = {"mean": grouped.mean(), "std": grouped.std(ddof=0), "min": grouped.min(), "max": grouped.max()}
    table = pd.concat({stat: computed[stat] for stat in stats}, axis=1).swaplevel(axis=1)
    table = table[[(metric, stat) for metric in metrics for stat in stats]]
    return table.sort_values((sort_by, "mean"), ascending=not METRICS.get(sort_by, False))


def format_leaderboard(table: pd.DataFrame, digits: int = 3, methods: dict | None = None) -> pd.DataFrame:
    """The leaderboard as strings "mean ± std", one column per metric (for display).

    A missing value (e.g. the completeness gap of a method without one) shows as "—"; gaps
    show in percent. With ``methods`` ({name: Method}), a first column states each method's
    references (``Method.references``).
    """
    metrics = list(dict.fromkeys(metric for metric, _ in table.columns))

    def cell(metric, m, s):
        if not np.isfinite(m):
            return "—"
        if metric == "completeness gap":
            return f"{m:.2%} ± {s:.2%}"
        return f"{m:.{digits}f} ± {s:.{digits}f}"

    shown = pd.DataFrame({
        metric + (" ↑" if METRICS.get(metric) else " ↓"):
            [cell(metric, m, s) for m, s in zip(table[metric, "mean"], table[metric, "std"])]
        for metric in metrics
    }, index=table.index)
    if methods is not None:
        shown.insert(0, "references", [methods[name].references if name in methods else "?" for name in shown.index])
    return shown


# --------------------------------------------------------------------------- cascading randomization


def block_groups(model: nn.Module) -> dict[str, list[str]]:
    """The cascade's stages as in Adebayo et al.: the output layer alone, then block by block.

    Returns {label: module names}, from the output back to the input. A block is the
    shortest prefix of a module's name ending in a number after a named container
    ("_blocks.15", "features.16", "layer4.2"); modules outside any block (a head
    convolution, a BatchNorm) are their own stage.
    """
    names = [name for name, module in model.named_modules() if list(module.parameters(recurse=False))]
    if not names:
        raise ValueError("The model has no parameters to randomise.")
    names.reverse()
    groups = {names[0]: [names[0]]}
    for name in names[1:]:
        groups.setdefault(_block_of(name), []).append(name)
    return groups


def _block_of(name: str) -> str:
    parts = name.split(".")
    for end in range(1, len(parts)):
        if re.fullmatch(r"\d+", parts[end]) and any(not part.isdigit() for part in parts[:end]):
            return ".".join(parts[:end + 1])
    return name


def cascade(model: nn.Module, x: torch.Tensor, target: int, methods: dict, n_groups: int = 8,
            seed: int = 0, groups: dict | None = None) -> tuple[list[str], dict, dict]:
    """Cascading randomization (Adebayo et al., 2018) with the maps kept, for several methods.

    Runs ``helpers.evaluation.randomization_sanity_check`` for every method (the same
    layer groups and seed for all): ``n_groups`` groups of ``cascade_groups``, or the
    ``groups`` given as {label: module names} (e.g. ``block_groups(model)``). Returns
    (stages, correlations, maps): stages are ["none", label of each randomised group...]
    (without ``groups``: its first layer); correlations[method] and maps[method] are lists
    aligned with stages (maps on the CPU).
    """
    if groups is not None and (not isinstance(groups, dict) or not groups):
        raise TypeError("groups must be a non-empty dict {label: [module names]} (see block_groups).")
    correlations, maps, stages = {}, {}, []
    for name, method in methods.items():
        recorded = []

        def attribute(m, image, t, _method=method, _recorded=recorded):
            _recorded.append(_method(m, image, t))
            return _recorded[-1]

        results = randomization_sanity_check(model, x, target, attribute, n_groups=n_groups, seed=seed,
                                             groups=None if groups is None else list(groups.values()))
        stages = [stage for stage, _ in results] if groups is None else ["none", *groups]
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
