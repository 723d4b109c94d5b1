# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 07 · Can we trust the maps?
#
# [Open in Colab](https://colab.research.google.com/github/explaining-vision-models/explaining-vision-models/blob/main/notebooks/07_can_we_trust_the_maps.ipynb)
#
# *Run time on a 2-core CPU, measured with `make run` on an idle machine: 141 s cold (empty
# cache; slowest cell 26 s), 10 s warm (cached results; slowest cell 4 s); quick mode: 18 s.*
#
# Notebooks 01-06 produced many attribution maps. This one **tests** them.
#
# **What you will learn**
#
# - how accurately Integrated Gradients' integral is computed, rule by rule, and how many
#   steps each rule needs for a completeness gap under 1%;
# - how much the choice of **baseline** (black, blurred, noise, dataset mean) changes IG;
# - **deletion and insertion curves** (Petsiuk et al., 2018): a quantitative test of whether
#   a map ranks pixels by how much the model needs them, against a random ranking, and how
#   the test's reference image interacts with IG's baseline;
# - the **model randomization sanity check** (Adebayo et al., 2018): a map that does not
#   change when the model's weights are destroyed cannot be explaining the model.

# %% [markdown] slideshow={"slide_type": "subslide"}
# > **Offline note.** As in notebook 02, MobileNetV3-Large is replaced by EfficientNet-Lite0
# > when its weights are not available, with a notice.
# >
# > **Cache.** The expensive steps are cached on disk (`helpers.cache.cached`, under
# > `data/cache/`, keyed by the model's weights, the inputs and every setting): a second run
# > takes seconds. `make clean-cache` empties the cache.

# %% slideshow={"slide_type": "skip"}
# Google Colab only (detected, not assumed): fetch the course and install its requirements.
import os, subprocess, sys  # noqa: E401

if "google.colab" in sys.modules:
    COURSE = "/content/explaining-vision-models"
    if not os.path.isdir(COURSE):
        subprocess.run(["git", "clone", "--depth=1", "https://github.com/explaining-vision-models/explaining-vision-models.git", COURSE], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", f"{COURSE}/requirements.txt"], check=True)
    os.chdir(f"{COURSE}/notebooks")
    sys.path.insert(0, COURSE)

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from torch import nn

from helpers import settings
from helpers.attribution import (
    IG_METHODS, completeness_gap, ig_alphas_and_weights, integrated_gradients, output_change, smoothgrad,
    vanilla_gradient,
)
from helpers.cache import cached
from helpers.data import SAMPLE_PHOTOS, sample_images
from helpers.evaluation import (
    blurred, curve_auc, deletion_curve, random_attribution, randomization_sanity_check, randomized_copy,
)
from helpers.leaderboard import faithfulness_scores
from helpers.methods import edge_map
from helpers.models import load_classifier
from helpers.settings import progress
from helpers.visualize import plot_attribution

warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
print(settings.describe())

# %% [markdown] slideshow={"slide_type": "skip"}
# ## Knobs

# %% slideshow={"slide_type": "skip"}
from helpers.settings import knob

MODEL_NAME = "mobilenet_v3_large"
IMAGES = knob(full=list(SAMPLE_PHOTOS), quick=["chelsea"])  # photos for the deletion/insertion test
STEP_GRID = knob(full=[2, 4, 8, 16, 32, 64, 128, 256], quick=[2, 4, 8])  # section 1: n_steps tried per rule
IG_STEPS = knob(full=64, quick=8)  # sections 2-3: IG steps for maps (Gauss-Legendre); gaps printed in section 2
SG_SAMPLES = knob(full=32, quick=4)  # section 3: SmoothGrad samples
CURVE_STEPS = knob(full=20, quick=8)  # section 3: steps per deletion/insertion curve (steps + 1 points; see there)
RANDOMIZATION_GROUPS = knob(full=8, quick=2)  # section 4: layer groups randomised one after the other
BATCH = 8  # path points per forward/backward pass (8 was faster per point than 16 here: docs/benchmarks.md)
SEED = 0

device = settings.pick_device()

# %% slideshow={"slide_type": "skip"}
classifier = load_classifier(MODEL_NAME).to(device)
model = nn.Sequential(classifier.model, nn.Softmax(dim=1)).eval()  # we explain probabilities throughout
inputs = {name: classifier.input_batch(image) for name, image in sample_images(IMAGES).items()}
targets = {name: classifier.top_k(x, k=1)[0] for name, x in inputs.items()}
for name, (label, p, _) in targets.items():
    print(f"{name:>10}: {label} ({p:.1%})")
first = IMAGES[0]
x, target = inputs[first], targets[first][2]

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. How accurate is the integral? Completeness gap vs `n_steps`
# Completeness says $\sum_i \mathrm{IG}_i = F(x) - F(x')$, so the gap
# $\lvert \sum_i \mathrm{IG}_i - (F(x) - F(x'))\rvert$ is the error of the quadrature rule. We
# measure it for the four Riemann rules and Gauss-Legendre, on the first photo, black baseline.
#
# **One set of gradients for all Riemann rules.** The sum of the map is
# $\sum_k w_k\, g(\alpha_k)$ with the *integrand* $g(\alpha) = (x - x') \cdot \nabla F(x' + \alpha(x - x'))$.
# Every node of the left, right, midpoint and trapezoid rules with up to $N$ intervals lies on
# the grid $\alpha = j / 2N$, so $2N + 1$ gradients serve all four rules at every `n_steps`.

# %% slideshow={"hide_input": true}
def path_integrand(model, x, target, alphas, batch, show_progress=True):
    """g(alpha) = (x - x') . dF_target/dx at x' + alpha (x - x'), black baseline x' = 0, per alpha."""
    values = []
    starts = range(0, len(alphas), batch)
    for start in progress(starts, desc="gradients") if show_progress else starts:
        a = torch.as_tensor(alphas[start:start + batch], dtype=torch.float32, device=x.device).view(-1, 1, 1, 1)
        path = (a * x).requires_grad_(True)
        (grads,) = torch.autograd.grad(model(path)[:, target].sum(), path)
        values.append((grads * x).flatten(1).sum(dim=1).double().cpu())
    return torch.cat(values).numpy()


@cached
def integrand_at(model, x, target, alphas, batch):
    """The integrand g at the given alphas (cached)."""
    return path_integrand(model, x, target, alphas, batch)


@cached
def gauss_legendre_sums(model, x, target, step_grid, batch):
    """sum(IG) with Gauss-Legendre at each n_steps (its nodes differ for every n: no sharing)."""
    sums = {}
    for n in progress(step_grid, desc="Gauss-Legendre (n_steps)"):
        alphas, weights = ig_alphas_and_weights(n, "gausslegendre")
        sums[n] = float(weights.double().numpy() @ path_integrand(model, x, target, alphas.numpy(), batch, False))
    return sums


n_max = STEP_GRID[-1]
on_grid = integrand_at(model, x, target, np.arange(n_max + 1) / n_max, BATCH)  # left, right, trapezoid nodes

# %%
midpoints = integrand_at(model, x, target, (2 * np.arange(n_max) + 1) / (2 * n_max), BATCH)  # midpoint nodes
grid_values = np.empty(2 * n_max + 1)
grid_values[0::2], grid_values[1::2] = on_grid, midpoints  # g at alpha = j / (2 n_max), j = 0..2 n_max

# %% [markdown] slideshow={"slide_type": "subslide"}
# Gauss-Legendre's nodes differ for every `n_steps`, so it gets no sharing: the small
# `n_steps` first, then the largest one on its own.

# %%
gl_sums = gauss_legendre_sums(model, x, target, STEP_GRID[:-1], BATCH)

# %%
gl_sums.update(gauss_legendre_sums(model, x, target, STEP_GRID[-1:], BATCH))
print(f"{len(grid_values)} gradients for the Riemann rules (instead of {4 * sum(STEP_GRID) + len(STEP_GRID)} "
      f"rule by rule), {sum(STEP_GRID)} for Gauss-Legendre")

# %% [markdown]
# Each Riemann rule now only picks its nodes out of the grid and weights them. (The
# trapezoid rule with $n$ intervals evaluates $n + 1$ points, so its `n_steps` is $n + 1$.)
# First, a check that the shortcut computes exactly what `integrated_gradients` computes:

# %% slideshow={"slide_type": "subslide"}
def riemann_sum(method, n):
    """sum(IG) of a Riemann rule with n intervals, read off the shared grid; returns (n_steps, sum)."""
    n_steps = n + 1 if method == "riemann_trapezoid" else n
    alphas, weights = ig_alphas_and_weights(n_steps, method)
    index = alphas.double().numpy() * 2 * n_max
    assert np.allclose(index, np.round(index), atol=1e-3), f"{method} with n = {n}: a node is off the grid"
    return n_steps, float(weights.double().numpy() @ grid_values[np.round(index).astype(int)])


for method in IG_METHODS[:4]:
    n_steps, shared = riemann_sum(method, 4)
    direct = integrated_gradients(model, x, target, n_steps=n_steps, method=method).sum().item()
    assert abs(shared - direct) <= 1e-3 * abs(direct) + 1e-7, f"{method}: {shared} vs {direct}"
print("shared grid = integrated_gradients, rule by rule (n = 4), to float32 precision (0.1%): True")

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
change = output_change(model, x, target)  # F(x) - F(black); a clear error if it is 0
gaps = {method: dict(riemann_sum(method, n) for n in STEP_GRID) for method in IG_METHODS[:4]}
gaps["gausslegendre"] = dict(gl_sums)
gaps = {method: {n: abs(total - change) / abs(change) for n, total in sums.items()} for method, sums in gaps.items()}

fig, ax = plt.subplots(figsize=(8, 4.5))
for method, values in gaps.items():
    ax.plot(list(values), list(values.values()), "o-", label=method)
ax.axhline(0.01, color="black", linestyle="--", label="1% of |F(x) − F(x')|")
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xlabel("n_steps (gradient evaluations)")
ax.set_ylabel("completeness gap / |F(x) − F(x')|")
ax.set_title(f"IG quadrature error on '{first}' ({classifier.name}, black baseline)")
ax.legend(fontsize=8)
plt.show()

needed = {m: next((n for n, g in v.items() if g < 0.01), None) for m, v in gaps.items()}
gap_table = pd.DataFrame({
    "first n_steps with a gap < 1%": {m: n or f"none up to {max(gaps[m])}" for m, n in needed.items()},
    "smallest gap": {m: f"{min(v.values()):.2%}" for m, v in gaps.items()},
    "gap at the largest n_steps": {m: f"{list(v.values())[-1]:.2%}" for m, v in gaps.items()},
})
reached = {m: n for m, n in needed.items() if n}
fewest = min(reached.values()) if reached else None
print("first under 1%:", ", ".join(f"{m} at {n}" for m, n in sorted(reached.items(), key=lambda item: item[1]))
      or "no rule")
print("fewest steps:", [m for m, n in reached.items() if n == fewest])
print("rules whose gap rises again after first falling under 1%:",
      [m for m, v in gaps.items() if needed[m] and any(g >= 0.01 for n, g in v.items() if n > needed[m])])
gap_table

# %% [markdown] slideshow={"slide_type": "subslide"}
# The textbook says: left and right Riemann sums converge like $1/n$, midpoint and
# trapezoid like $1/n^2$, Gauss-Legendre faster still, for a *smooth* integrand. Compare
# with the plot. The integrand here, the gradient of a ReLU network along the path, is not
# smooth: it changes abruptly wherever a unit switches on or off, and the probability can
# jump over a short stretch of the path (notebook 02).

# %% [markdown]
# Then no rule need be on its textbook line, and here none is. In the run stored with this
# notebook (EfficientNet-Lite0), the left, right and midpoint rules got under 1% first, at
# 128 steps (the trapezoid at 129 points); Gauss-Legendre, optimal for smooth integrands,
# only at 256; and the midpoint rule's gap rose again, to 3.3% at 256 steps. The gaps stay
# large until the nodes resolve the steep stretch of the path, then move irregularly.

# %% [markdown]
# Two practical lessons: no fixed `n_steps` is safe for every image, so **compute the gap
# for the image you explain** (two forward passes); and a gap that falls at one `n_steps`
# may rise at the next, so check a neighbouring value too.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The baseline matters
# IG explains $F(x) - F(x')$: the map says what distinguishes the image from the baseline.
# Four common choices, with Gauss-Legendre and `IG_STEPS` steps (the table prints each
# map's relative completeness gap at that setting). Green: for the class, red: against.

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
@cached
def ig_maps_for_baselines(model, x, target, baselines, n_steps, batch):
    """IG (Gauss-Legendre) from every baseline, and its relative completeness gap."""
    out = {}
    for name, baseline in progress(baselines.items(), desc="baselines"):
        maps = integrated_gradients(model, x, target, baseline, n_steps, "gausslegendre", internal_batch_size=batch)
        with torch.no_grad():
            scores = model(torch.cat([x, baseline]))[:, target]
        gap = completeness_gap(model, x, target, maps, baseline).item()
        out[name] = (maps.cpu(), scores[1].item(), (scores[0] - scores[1]).item(), gap)
    return out


noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(SEED)).to(device)
mean_colour = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)  # ImageNet mean
baselines = {
    "black": torch.zeros_like(x),
    "blurred": blurred(x),
    "uniform noise": noise,
    "dataset mean": mean_colour.expand_as(x).clone(),
}
baseline_maps = ig_maps_for_baselines(model, x, target, baselines, IG_STEPS, BATCH)

fig, axes = plt.subplots(2, len(baselines), figsize=(3.8 * len(baselines), 7))
baseline_rows = []
for col, (name, baseline) in enumerate(baselines.items()):
    maps, at_baseline, difference, gap = baseline_maps[name]
    baseline_rows.append({"baseline": name, "F(x')": round(at_baseline, 4), "F(x) - F(x')": round(difference, 4),
                          "relative gap": f"{gap / abs(difference):.2%}" if difference else "undefined: F(x) = F(x')"})
    axes[0, col].imshow(baseline[0].permute(1, 2, 0).cpu().clamp(0, 1))
    axes[0, col].set_title(f"baseline: {name}\nF(x') = {at_baseline:.3f}")
    axes[0, col].axis("off")
    plot_attribution(axes[1, col], maps, x, "blended_heat_map", "all", f"IG from {name}")
fig.suptitle(f"The same image and class, four baselines ({targets[first][0]}); green: for, red: against")
fig.tight_layout()
plt.show()
pd.DataFrame(baseline_rows)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Each baseline asks a different question. Black: *what makes this image different from
# darkness?* Blurred: *what do the fine details add?* Noise: a random reference. Dataset
# mean: a flat grey-brown. In the stored figure, IG from black spreads small red and green
# values over the whole face and leaves the dark pupils almost empty (their difference
# from black is small); from the blurred image, the noise and the mean, the maps gather on
# the eyes and the nose and look much alike.

# %% [markdown]
# None is "correct"; report which one you used, and check that $F(x')$ really is low (a
# baseline the model already finds convincing leaves little to explain): the table prints
# $F(x')$ for each. With `IG_STEPS` = 64 the relative gaps printed here are 0.8-3.6%: enough
# to compare maps by eye and to rank pixels (section 3), not for a claim of completeness
# (section 1: 1% took 128-256 steps on this image).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Deletion and insertion: do the maps rank pixels faithfully?
# **Deletion** replaces the most important pixels first by a *reference* (black, the usual
# choice, or the blurred image) and follows the probability: a low area under the curve
# (AUC) is good. **Insertion** starts from the blurred image and pastes the most important
# pixels back first: a high AUC is good. A random ranking is the reference to beat.
# (The curve functions take the model's *logits*, `classifier.model`, and apply the softmax.)

# %% [markdown]
# Methods compared (pixels ranked by the map summed over colour channels):
# Saliency = |gradient|; IG = signed IG from black (positive evidence first);
# SmoothGrad = |SmoothGrad|; random. First the maps, for every photo:

# %% slideshow={"slide_type": "subslide"}
@cached
def method_maps(model, images, targets, ig_steps, sg_samples, seed, batch):
    """{method: {photo: map}} for Saliency, IG (black), SmoothGrad and a random ranking."""
    maps = {"Saliency": {}, "IG": {}, "SmoothGrad": {}, "random": {}}
    for photo, image in progress(images.items(), desc="maps"):
        t = targets[photo]
        maps["Saliency"][photo] = vanilla_gradient(model, image, t).abs().cpu()
        maps["IG"][photo] = integrated_gradients(model, image, t, n_steps=ig_steps, method="gausslegendre",
                                                 internal_batch_size=batch).cpu()
        maps["SmoothGrad"][photo] = smoothgrad(model, image, t, n_samples=sg_samples, seed=seed,
                                               batch_size=batch).abs().cpu()
        maps["random"][photo] = random_attribution(image, seed=seed).cpu()
    return maps


target_index = {photo: t[2] for photo, t in targets.items()}
maps = method_maps(model, inputs, target_index, IG_STEPS, SG_SAMPLES, SEED, BATCH)

# %% [markdown]
# Then three curves per photo and method: deletion to black, deletion to the blurred image,
# insertion from the blurred image (`helpers.leaderboard.faithfulness_scores`, shared with
# notebook 08). `CURVE_STEPS` steps per curve (`CURVE_STEPS` + 1 points); the cell after
# the table compares the AUC with 50 steps.

# %% slideshow={"slide_type": "subslide"}
columns = ["deletion AUC (black)", "deletion AUC (blurred)", "insertion AUC"]
scores_cached = cached(faithfulness_scores)
deletion, curves = scores_cached(classifier.model, inputs, target_index, maps, steps=CURVE_STEPS,
                                 keep_curves=True, kinds=columns[:2])

# %%
insertion, insertion_curves = scores_cached(classifier.model, inputs, target_index, maps, steps=CURVE_STEPS,
                                            keep_curves=True, kinds=columns[2:])
scores = deletion.merge(insertion, on=["photo", "method"])
for key, curve in insertion_curves.items():
    curves[key].update(curve)

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
def mean_table(scores):
    table = scores.groupby("method")[columns].mean()
    return table.loc[[m for m in maps_order if m in table.index]]


maps_order = ["Saliency", "IG", "SmoothGrad", "random", "IG (blurred baseline)"]
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for method in ["Saliency", "IG", "SmoothGrad", "random"]:
    curve = curves[first, method]
    for ax, column in zip(axes, columns):
        ax.plot(curve["fractions"], curve[column], "--" if method == "random" else "-", label=method)
for ax, title in zip(axes, ["deletion to black (falls fast = good)", "deletion to blurred (falls fast = good)",
                            "insertion from blurred (rises fast = good)"]):
    ax.set_title(f"'{first}': {title}", fontsize=10)
    ax.set_xlabel("fraction of pixels " + ("inserted" if "insertion" in title else "removed"))
    ax.set_ylabel(f"P({targets[first][0]})")
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
print(f"lower deletion AUC / higher insertion AUC is better; mean over {len(inputs)} photo(s): {', '.join(inputs)}")
mean_table(scores).round(3)

# %% slideshow={"slide_type": "subslide"}
fine = {method: curve_auc(*deletion_curve(classifier.model, x, target, maps[method][first], steps=50))
        for method in ["IG", "random"]}
for method, auc in fine.items():
    coarse = scores.set_index(["photo", "method"]).loc[(first, method), "deletion AUC (black)"]
    print(f"{method:>7} on '{first}': deletion AUC (black) {coarse:.3f} with {CURVE_STEPS} steps, {auc:.3f} with 50")

# %% [markdown]
# With 50 steps, IG's AUC on the first photo stays at 0.020 and the random ranking's moves
# from 0.052 to 0.062: the coarser curve shifts the reference a little, not the ordering.
# Read the table against the random row, column by column (summary printed below).
# A large gradient (Saliency) says the output is *sensitive* to a small change of a pixel,
# not that the pixel carries the evidence; IG weighs gradients by how far each pixel is
# from its baseline.

# %% slideshow={"slide_type": "subslide"}
table = mean_table(scores)
for column in columns:
    better = table[column] < table.loc["random", column] if "deletion" in column else \
        table[column] > table.loc["random", column]
    print(f"{column:>24}: best {table[column].idxmin() if 'deletion' in column else table[column].idxmax()}; "
          f"beat random: {[m for m in table.index if better[m] and m != 'random']}")

# %% [markdown]
# In the run stored with this notebook: IG has the lowest deletion AUC to black (0.026,
# random 0.055); with the blurred reference SmoothGrad is best (0.081) and IG's margin
# shrinks (0.110, random 0.128); on insertion IG is close to random (0.133 vs 0.120) while
# SmoothGrad leads (0.221). Saliency is worse than random on both deletion tests.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The reference of the test and the baseline of IG are coupled
# IG from a black baseline credits pixels by how much the output changes between black and
# the image; deletion *to black* then removes exactly those pixels, to exactly that black.
# The method is graded by the question it was built to answer, so its deletion win says as
# much about the shared reference as about the evidence. Two controls: the same IG tested
# with a **blurred** reference, and IG computed **from a blurred baseline**, tested both ways.

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
@cached
def ig_blurred_baseline_maps(model, images, targets, ig_steps, batch):
    """IG (Gauss-Legendre) from the blurred copy of each photo."""
    return {photo: integrated_gradients(model, image, targets[photo], blurred(image), ig_steps, "gausslegendre",
                                        internal_batch_size=batch).cpu()
            for photo, image in progress(images.items(), desc="IG from blurred")}


maps_blur = {"IG (blurred baseline)": ig_blurred_baseline_maps(model, inputs, target_index, IG_STEPS, BATCH)}
scores_blur = scores_cached(classifier.model, inputs, target_index, maps_blur, steps=CURVE_STEPS)
coupling = mean_table(pd.concat([scores, scores_blur]))
print("rank of each method per column (1 = best):")
print(pd.DataFrame({c: coupling[c].rank(ascending="deletion" in c).astype(int) for c in columns}).to_string())
coupling.round(3)

# %% [markdown]
# Each IG wins where the test's reference equals its own baseline: IG from black is first on
# deletion to black (0.026) and third with the blurred reference; IG from the blurred image
# is first on deletion to blurred by far (0.020, next SmoothGrad 0.081). So IG's deletion
# win says as much about the shared reference as about "the evidence", and its insertion
# AUC, near random, does not confirm it. Report several references, and name them.

# %% [markdown] slideshow={"slide_type": "subslide"}
# Differences between methods are often small and vary between photos, which is why the
# test should be run on many images, never on one. And removing pixels creates images
# unlike any training image, so part of each curve measures how the model reacts to black
# holes or blurred patches, not only which pixels it used.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The model randomization sanity check
# Re-initialise the network's layers group by group, from the output back to the input,
# and recompute the map each time; compare with the original by Spearman rank correlation
# of |attribution|. If the map explains the model, destroying the model must destroy the
# map. As a control, an **edge detector** that ignores the model: it must fail.

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
def edge_detector(model, x, target):
    """A model-blind 'explanation': the image's edges (difference from a blurred copy)."""
    return edge_map(x)


def ig_few_steps(model, x, target):
    return integrated_gradients(model, x, target, n_steps=min(IG_STEPS, 32), method="gausslegendre")


@cached
def randomization_checks(model, x, target, methods, n_groups, seed):
    return {name: randomization_sanity_check(model, x, target, method, n_groups=n_groups, seed=seed)
            for name, method in progress(methods.items(), desc="methods")}


checks = randomization_checks(model, x, target, {"Saliency": vanilla_gradient, "IG": ig_few_steps,
                                                 "edge detector": edge_detector}, RANDOMIZATION_GROUPS, SEED)

fig, ax = plt.subplots(figsize=(9, 4.2))
for name, results in checks.items():
    ax.plot(range(len(results)), [c for _, c in results], "o-", label=name)
labels = [layer.removeprefix("0.1.") for layer, _ in checks["Saliency"]]  # drop the wrappers' prefix
ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=8)
ax.set_xlabel("layers randomised, cumulatively, from the output (left) to the input (right)")
ax.set_ylabel("Spearman ρ with the original |map|")
ax.set_ylim(-0.2, 1.05)
ax.axhline(0, color="gray", linewidth=0.8)
ax.set_title(f"Cascading randomization of {classifier.name} on '{first}'")
ax.legend()
plt.show()
for name, results in checks.items():
    print(f"{name:>14}: correlation after randomising everything = {results[-1][1]:.2f}")

# %% slideshow={"slide_type": "subslide"}
# NBVAL_CHECK_OUTPUT
print("the model-blind edge detector is flagged (correlation stays 1):",
      all(abs(c - 1) < 1e-6 for _, c in checks["edge detector"]))

# %% [markdown]
# **Passing** means the map changes when the model changes; **failing** means the map is a
# property of the image, not of the model: the edge detector fails by construction, with a
# correlation of exactly 1 at every depth. Adebayo et al. found that some popular methods
# (Guided Backprop, for instance; notebook 08) behave much like the edge detector.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Why does IG keep part of its correlation?
# IG from black is $x \odot \bar g$, the image times an average gradient. Even when $\bar g$
# comes from a random network, the factor $x$ stays: bright pixels get large |IG| whatever
# the weights. We compare both IG maps with the image's own brightness $|x|$:

# %% slideshow={"slide_type": "subslide"}
def abs_ranks(tensor):
    return tensor.detach().abs().sum(dim=1).flatten().cpu().numpy()


@cached
def ig_original_and_random(model, x, target, seed):
    return ig_few_steps(model, x, target).cpu(), ig_few_steps(randomized_copy(model, seed), x, target).cpu()


ig_original, ig_random = ig_original_and_random(model, x, target, SEED)
rho = {
    "IG (trained) vs IG (all layers random)": spearmanr(abs_ranks(ig_original), abs_ranks(ig_random)).statistic,
    "IG (trained) vs |x|": spearmanr(abs_ranks(ig_original), abs_ranks(x)).statistic,
    "IG (all layers random) vs |x|": spearmanr(abs_ranks(ig_random), abs_ranks(x)).statistic,
    "|gradient| (all layers random) vs |x|": spearmanr(
        abs_ranks(vanilla_gradient(randomized_copy(model, SEED), x, target)), abs_ranks(x)).statistic,
}
for name, value in rho.items():
    print(f"{name:>40}: Spearman ρ = {value:.2f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# In the run stored with this notebook, both IG maps correlate with $|x|$ (ρ = 0.38 trained,
# 0.33 with all layers random) while the random network's plain gradient does not (−0.10):
# the 0.26 that IG keeps after full randomization comes from the factor $x - x'$ it
# multiplies by, not from anything the model learned. Part of what "gradient × input"-type
# maps show is the input itself; judge them against such a model-blind component.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - IG's accuracy is measurable: the completeness gap tells you whether `n_steps` is enough
#   for *this* image. On a ReLU network the textbook ranking of the rules need not hold
#   (section 1 prints which one got under 1% first here), and a gap can rise with more steps.
# - The baseline is part of the question an IG map answers; state it.
# - Deletion and insertion curves test whether a map ranks pixels better than chance, but
#   the test's reference (black, blur) interacts with the method's own baseline: report
#   more than one.
# - The randomization check tests whether a map depends on the model at all; a residual
#   correlation can come from the input factor of the method.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
# Exercises 1 and 2 are checked automatically: run the check cell below your solution.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: a method of your own that beats the random ranking
# Write `gradient_times_input(model, x, target)`: the input times the gradient of the
# target probability, $x \odot \partial F_{target} / \partial x$, a signed map of `x`'s shape
# (it is IG from black with a single step at $\alpha = 1$). The check computes its deletion
# AUC (black reference) on the first photo and compares it with the random ranking's.

# %% tags=["solution"]
# Exercise 1: write gradient_times_input(model, x, target), the input times the gradient
def gradient_times_input(model, x, target):
    """x * dF_target/dx, a signed map of x's shape."""
    return x * vanilla_gradient(model, x, target)

# %% tags=["check"]
from helpers.checks import check_beats_random

check_beats_random(
    lambda: curve_auc(*deletion_curve(classifier.model, x, target, gradient_times_input(model, x, target),
                                      steps=CURVE_STEPS)),
    scores.set_index(["photo", "method"]).loc[(first, "random"), "deletion AUC (black)"], exercise=1)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: a map that ignores the model
# Write `brightness_map(model, x, target)`: a "map" of `x`'s shape that ranks pixels by
# their brightness and does not use `model` at all. The check runs the randomization
# sanity check on it; it must *fail* it, like the edge detector.

# %% tags=["solution"]
# Exercise 2: write brightness_map(model, x, target), which ignores the model
def brightness_map(model, x, target):
    """The image's brightness |x|, whatever the model: a map of x's shape."""
    return x.abs()

# %% tags=["check"]
from helpers.checks import check_randomization

check_randomization(lambda: randomization_sanity_check(model, x, target, brightness_map, n_groups=2),
                    exercise=2, expect="fail")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: what the deletion test rewards
# Compute the deletion AUC of your `brightness_map` on the first photo with the black and
# with the blurred reference (`deletion_curve(..., baseline=blurred(x))`), and compare both
# with the random ranking's (section 3 table, or `scores`). What does the result say about
# deletion to black as the only test of a map?

# %% [markdown] tags=["solution"]
# **Model answer.** Setting a pixel to black changes the image the most where the pixel is
# brightest, so a brightness ranking removes the most "signal" first; with the blurred
# reference the change is largest at edges and texture instead. Whatever the numbers on
# this photo, a ranking that knows nothing of the model can score on deletion to black,
# because the test measures the effect of the replacement as well as the model's evidence.
# So a deletion AUC needs companions: another reference, insertion, and the randomization
# check of Exercise 2, which a model-blind map always fails.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: a quadrature rule's gap that rises
# In section 1, find a rule whose gap is larger at a bigger `n_steps` than at a smaller
# one. Why can adding nodes make the quadrature *worse* here, when the textbook promises a
# steady decrease?

# %% [markdown] tags=["solution"]
# **Model answer.** The error bounds behind "$1/n$" and "$1/n^2$" assume a smooth integrand.
# Along the path of a ReLU network the integrand is piecewise smooth with many kinks and a
# steep rise where the probability jumps; each rule's error is then a sum of local errors of
# both signs, and whether they cancel depends on where the nodes fall relative to the jump.
# Moving the nodes (more steps) can break a lucky cancellation, so the gap is not monotone;
# it shrinks on average only once the nodes are dense on the steep stretch.
