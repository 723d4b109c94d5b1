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
# # 04 · SmoothGrad from scratch
#
# [Open in Colab](https://colab.research.google.com/github/explaining-vision-models/explaining-vision-models/blob/main/notebooks/04_smoothgrad_from_scratch.ipynb)
#
# **What you will learn**
#
# - why a plain gradient map looks like noise, and the idea of **SmoothGrad** (Smilkov et
#   al., 2017): average the gradient over many noisy copies of the image;
# - how to implement it in a few lines, in batches, reproducibly with a seed, and how to
#   verify it against Captum's `NoiseTunnel(Saliency)` when both see the same noise;
# - what the two knobs do: the number of samples and the noise level;
# - how an explanation depends on the **class** you ask about, including a class the image
#   does not show.

# %% [markdown] slideshow={"slide_type": "subslide"}
# The model is **DenseNet121** pretrained on ImageNet (torchvision).
#
# > **Offline note.** Without DenseNet121's weights the course loads EfficientNet-Lite0
# > instead and prints a notice; the method and the code do not change.
#
# *Run time on a 2-core CPU, measured with `make run` on an idle machine: 34 s cold (empty
# cache; slowest cell 10 s), 17 s warm (cached results; slowest cell 6 s); quick mode: 11 s.*

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

import inspect
import warnings

import matplotlib.pyplot as plt
import torch
from captum.attr import NoiseTunnel, Saliency
from helpers.settings import progress

from helpers import settings
from helpers.attribution import smoothgrad, vanilla_gradient
from helpers.timing import paired_seconds
from helpers.cache import cached
from helpers.data import sample_images
from helpers.models import load_classifier
from helpers.visualize import plot_attribution, plot_attribution_grid

warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
print(settings.describe())

# %% [markdown] slideshow={"slide_type": "skip"}
# ## Knobs

# %% slideshow={"slide_type": "skip"}
from helpers.settings import knob

MODEL_NAME = "densenet121"
IMAGES = knob(full=["chelsea", "coffee", "motorcycle"], quick=["chelsea", "coffee"])  # sample photos
N_SAMPLES = knob(full=50, quick=6)  # noisy copies per map
NOISE_LEVEL = 0.15  # sigma as a fraction of the image's value range
COMPARE_SAMPLES = knob(full=16, quick=4)  # noisy copies for the Captum comparison and timing (section 3 says why few)
SAMPLES_GRID = knob(full=[5, 20, 50], quick=[2, 4])  # section 5
NOISE_GRID = knob(full=[0.05, 0.15, 0.3], quick=[0.1, 0.3])  # section 5
ABSENT_CLASS = "goldfish"  # a class none of the photos shows (section 6)
BATCH_SIZE = 8  # noisy copies per forward/backward pass
SEED = 0

device = settings.pick_device()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Model and images

# %%
classifier = load_classifier(MODEL_NAME).to(device)
photos = sample_images(IMAGES)
inputs = {name: classifier.input_batch(image) for name, image in photos.items()}
predictions = {name: classifier.top_k(x, k=3) for name, x in inputs.items()}
for name, top3 in predictions.items():
    print(f"{name:>10}: " + " | ".join(f"{label} {p:.1%}" for label, p, _ in top3))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The idea and the code
#
# The gradient $\partial F_c / \partial x$ tells how the class score changes for an
# infinitesimal change of each pixel. For a ReLU network this is a very local quantity that
# jumps from pixel to pixel, so the map looks speckled even where the model uses a whole
# region. SmoothGrad averages it over a neighbourhood of the image:
#
# $$
# \hat M_c(x) = \frac{1}{n} \sum_{k=1}^{n} \frac{\partial F_c}{\partial x}\big(x + \varepsilon_k\big),
# \qquad \varepsilon_k \sim \mathcal{N}(0, \sigma^2 I), \quad \sigma = \text{noise level} \times (\max x - \min x).
# $$
#
# *SmoothGrad-Squared* averages the squared gradients instead. The implementation in
# `helpers/attribution.py` draws the noise on the CPU from a seeded generator (the same
# numbers on every device) and sends the noisy copies through the network `BATCH_SIZE` at a
# time, so memory does not grow with `n_samples`:

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
print(inspect.getsource(smoothgrad))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Checked against Captum, and timed
# Captum's `NoiseTunnel` wraps any attribution method; around `Saliency` with `abs=False` it
# computes SmoothGrad. It draws its noise from PyTorch's global generator, in the same order
# as ours, so seeding that generator with the same `SEED` gives both the same noise.
#
# Each noisy copy contributes one gradient, computed the same way by both, so agreement on a
# few copies (`COMPARE_SAMPLES`) already shows whether the two implementations agree, and
# timing those few copies compares their cost per copy (one gradient each).

# %% slideshow={"slide_type": "subslide"}
@cached
def compare_with_captum(model, x, target, n_samples, noise_level, batch_size, seed):
    """max |ours - Captum| / max |Captum| for SmoothGrad under the same noise."""
    ours = smoothgrad(model, x, target, n_samples, noise_level, batch_size, seed=seed)
    torch.manual_seed(seed)
    captum = NoiseTunnel(Saliency(model)).attribute(
        x, nt_type="smoothgrad", nt_samples=n_samples, nt_samples_batch_size=batch_size,
        stdevs=noise_level * float(x.max() - x.min()), target=target, abs=False)
    return ((ours - captum).abs().max() / captum.abs().max()).item()


name = IMAGES[0]
x, target = inputs[name], predictions[name][0][2]
difference = compare_with_captum(classifier.model, x, target, COMPARE_SAMPLES, NOISE_LEVEL, BATCH_SIZE, SEED)
print(f"{COMPARE_SAMPLES} noisy copies of {name}: max |ours - Captum| / max |Captum| = {difference:.1e}")

# %% [markdown]
# Timing as `make bench` does it: both timed alternately after a warm-up; medians of the
# times and of the ratios (timings are measured afresh on every run, never cached).

# %% slideshow={"slide_type": "subslide"}
sigma = NOISE_LEVEL * float(x.max() - x.min())
noise_tunnel = NoiseTunnel(Saliency(classifier.model))
ours_seconds, captum_seconds, ratio = paired_seconds(
    lambda: smoothgrad(classifier.model, x, target, COMPARE_SAMPLES, NOISE_LEVEL, BATCH_SIZE),
    lambda: noise_tunnel.attribute(x, nt_type="smoothgrad", nt_samples=COMPARE_SAMPLES,
                                   nt_samples_batch_size=BATCH_SIZE, stdevs=sigma, target=target, abs=False),
    repeats=3)
print(f"{COMPARE_SAMPLES} samples on {name}: ours {ours_seconds:.2f} s, Captum {captum_seconds:.2f} s "
      f"(median of the per-pair ratios: {ratio:.2f}); "
      f"{ours_seconds / COMPARE_SAMPLES * 1000:.0f} ms per noisy copy for ours")

# %%
# NBVAL_CHECK_OUTPUT
ours = smoothgrad(classifier.model, x, target, COMPARE_SAMPLES, NOISE_LEVEL, BATCH_SIZE, seed=SEED)
again = smoothgrad(classifier.model, x, target, COMPARE_SAMPLES, NOISE_LEVEL, BATCH_SIZE * 2, seed=SEED)
print("agrees with Captum under shared noise:", difference < 1e-4)
print("same seed, different batch size, same map:", torch.allclose(ours, again, atol=1e-6))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Vanilla gradient vs SmoothGrad
# Both maps are shown as magnitudes, the convention of the SmoothGrad paper: absolute values
# summed over the colour channels, the top 2% clipped. For the top class of each photo.

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
@cached
def smoothgrad_map(model, x, target, n_samples, noise_level, batch_size, seed):
    """SmoothGrad (signed, on the CPU); cached, since it costs ``n_samples`` gradients."""
    return smoothgrad(model, x, target, n_samples, noise_level, batch_size, seed=seed).cpu()


def roughness(magnitude):
    """Speckle of a map: mean |difference| between neighbouring pixels of the channel sum, over its mean."""
    m = magnitude.sum(dim=1)[0]
    return (((m[1:] - m[:-1]).abs().mean() + (m[:, 1:] - m[:, :-1]).abs().mean()) / m.mean()).item()


def top_share(magnitude, fraction=0.05):
    """Share of the map's total in its largest ``fraction`` of pixels (how concentrated it is)."""
    m = magnitude.sum(dim=1).flatten()
    return (m.topk(max(1, int(fraction * m.numel()))).values.sum() / m.sum()).item()


vanilla_maps, smooth_maps = [], []
for name, x in progress(inputs.items(), desc="photos"):
    target = predictions[name][0][2]
    vanilla_maps.append(vanilla_gradient(classifier.model, x, target).abs().cpu())
    smooth_maps.append(smoothgrad_map(classifier.model, x, target, N_SAMPLES, NOISE_LEVEL, BATCH_SIZE, SEED).abs())
titles = [f"{name}: {predictions[name][0][0]} ({predictions[name][0][1]:.0%})" for name in inputs]
fig = plot_attribution_grid(list(inputs.values()), {"vanilla gradient": vanilla_maps,
                                                      f"SmoothGrad (n={N_SAMPLES})": smooth_maps},
                            titles, method="heat_map", title=f"{classifier.name}: gradient vs SmoothGrad")
plt.show()
for name, plain, smooth in zip(inputs, vanilla_maps, smooth_maps):
    print(f"{name:>10}: roughness {roughness(plain):.2f} (gradient) -> {roughness(smooth):.2f} (SmoothGrad) | "
          f"share in the top 5% of pixels {top_share(plain):.0%} -> {top_share(smooth):.0%}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Under the figure, two numbers per map: the **roughness** (mean jump between neighbouring
# pixels over the map's mean; lower = less speckle) and the **share in the top 5%** of
# pixels (lower = spread over more of the image). In the run stored with this notebook
# (EfficientNet-Lite0, offline), SmoothGrad lowers the roughness of every map, clearly only
# for the coffee cup (1.25 → 1.08; cat 1.12 → 1.10, motorcycle 1.11 → 1.07), and lowers the
# top-5% share of all three (19% → 14%, 21% → 18%, 21% → 16%): its maps are spread wider.

# %% [markdown]
# What the stored figure shows: on the coffee cup SmoothGrad gathers on the rim, the
# handle and the spoon. On the cat and the motorcycle it spreads coarse blotches over the
# whole picture, no closer to the object than the plain gradient. Averaging removed some
# pixel-to-pixel jitter, not the lack of focus: nothing about the model changed, only how
# we look at it, and for this small network the local gradient's scatter survives the
# averaging for two photos of three. Section 5 shows how the two knobs change the picture.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. The two knobs: samples and noise
# Rows: noise level; columns: number of samples, for the first photo.

# %% slideshow={"hide_input": true}
name = IMAGES[0]
x, target = inputs[name], predictions[name][0][2]
fig, axes = plt.subplots(len(NOISE_GRID), len(SAMPLES_GRID), figsize=(3.3 * len(SAMPLES_GRID), 3.3 * len(NOISE_GRID)),
                         squeeze=False)
for row, noise in enumerate(NOISE_GRID):
    for col, n in enumerate(SAMPLES_GRID):
        maps = smoothgrad_map(classifier.model, x, target, n, noise, BATCH_SIZE, SEED).abs()
        plot_attribution(axes[row, col], maps, x, "heat_map", "absolute_value", f"noise {noise:.0%}, n = {n}")
fig.suptitle(f"SmoothGrad on {name}: noise level (rows) × samples (columns)")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Along a row, more samples reduce the variance of the average (it falls like $1/n$, so the
# first samples matter most). Down a column, the noise level sets *how far* around the image
# we average. In the stored run, the 5% row keeps the plain gradient's scattered spots, and
# the 30% row gathers into broad blobs around the eyes. Smilkov et al. suggest 10-20% of the
# value range as a starting point; the right value depends on the model, so look at a grid
# like this one before choosing.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. One image, several classes
# An explanation always answers a question about one class. For the first photo: its top-3
# classes and a class it does not show at all.

# %% slideshow={"hide_input": true}
name = IMAGES[0]
x = inputs[name]
with torch.no_grad():
    probabilities = torch.softmax(classifier.model(x), dim=1)[0]
classes = [(label, index) for label, _, index in predictions[name]]
classes.append((ABSENT_CLASS, classifier.categories.index(ABSENT_CLASS)))
fig, axes = plt.subplots(1, len(classes), figsize=(3.4 * len(classes), 3.6))
for (label, index), ax in zip(progress(classes, desc="classes"), axes):
    maps = smoothgrad_map(classifier.model, x, index, N_SAMPLES, NOISE_LEVEL, BATCH_SIZE, SEED).abs()
    plot_attribution(ax, maps, x, "blended_heat_map", "absolute_value", f"{label}\nP = {probabilities[index]:.2%}")
fig.suptitle(f"SmoothGrad on {name} for different classes")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# In the stored run the three cat classes get similar maps (eyes, nose): their evidence is
# shared. The surprise is the absent class. Its map exists (every class score has a
# gradient) and here looks much like the others, at P = 0.01%: a gradient map shows where
# the model's computation is *sensitive*, and for this photo that is the cat's features,
# whatever the class asked about. The map answers even when the question makes no sense,
# so always read it next to the probability of the class it explains.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - SmoothGrad = the gradient averaged over noisy copies of the image; the model does not
#   change, only how we look at it. It does not always remove the speckle: in the stored
#   run it lowered every map's roughness but focused on the object only for the coffee cup;
#   measure (section 4's numbers) and look, photo by photo.
# - Our implementation matches Captum's `NoiseTunnel(Saliency)` when both see the same
#   noise (difference 0.0e+00 in the stored run), and runs at a similar speed (both are
#   batched; stored run: ours took 1.12 times Captum's time, median of section 3's ratios).
# - `n_samples` trades time for variance; `noise_level` sets the neighbourhood (10-20% of
#   the range is the paper's starting point; look at a grid like section 5's before choosing).
# - Explanations are per class: ask about the class you care about, and check its
#   probability before reading the map.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
# Two programming exercises with an automatic check, and one open question with a model
# answer. Each check cell prints "Exercise N passed: ..." or raises an error with a hint.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: SmoothGrad by hand
# Write `my_smoothgrad(model, x, target, n_samples, noise_level)` that returns the SmoothGrad
# map of section 2 (signed, same shape as `x`): the gradient averaged over `n_samples` copies
# of `x` with Gaussian noise of standard deviation `noise_level * (x.max() - x.min())`. Use
# `vanilla_gradient(model, image, target)` for the gradients, not `smoothgrad`. The check
# verifies that `noise_level=0` gives the plain gradient and that the result is an average.

# %% tags=["solution"]
# Exercise 1: write SmoothGrad by hand, using only vanilla_gradient
def my_smoothgrad(model, x, target, n_samples, noise_level):
    """The gradient of class `target` averaged over `n_samples` noisy copies of x."""
    sigma = noise_level * float(x.max() - x.min())
    total = torch.zeros_like(x)
    for _ in range(n_samples):
        total += vanilla_gradient(model, x + sigma * torch.randn_like(x), target)
    return total / n_samples


# %% tags=["check"]
from helpers.checks import check_smoothgrad_no_noise

check_smoothgrad_no_noise(my_smoothgrad, classifier.model, inputs[IMAGES[0]], predictions[IMAGES[0]][0][2],
                          n_samples=4, exercise=1)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: SmoothGrad + Integrated Gradients
# SmoothGrad's averaging works around any attribution method. Write
# `smooth_ig(model, x, target, n_samples, noise_level, n_steps)` that returns the average of
# the IG maps of `n_samples` noisy copies of `x` (noise as in exercise 1), each computed with
# `integrated_gradients(model, noisy_copy, target, n_steps=n_steps)` (black baseline,
# trapezoid rule). With `noise_level=0` it must reduce to plain IG. Notebook 01's
# `NoiseTunnel(IntegratedGradients(...))` does the same (with a fixed σ and Gauss–Legendre).

# %% tags=["solution"]
# Exercise 2: write SmoothGrad + IG: the average of IG maps over noisy copies
from helpers.attribution import integrated_gradients


def smooth_ig(model, x, target, n_samples, noise_level, n_steps):
    """IG (black baseline, trapezoid, n_steps) averaged over n_samples noisy copies of x."""
    sigma = noise_level * float(x.max() - x.min())
    total = torch.zeros_like(x)
    for _ in range(n_samples):
        total += integrated_gradients(model, x + sigma * torch.randn_like(x), target, n_steps=n_steps)
    return total / n_samples


# %% tags=["check"]
from helpers.checks import check_smooth_ig

check_smooth_ig(smooth_ig, classifier.model, inputs[IMAGES[0]], predictions[IMAGES[0]][0][2], n_samples=2,
                n_steps=4, exercise=2)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: why square?
# *SmoothGrad-Squared* (`smoothgrad(..., squared=True)`) averages the **squared** gradients
# instead of the gradients. Compute it for the photos of section 4 and compare with the
# SmoothGrad column. What does squaring do to the sign, to weak regions and to strong ones,
# and why can averaging squares not cancel out the way averaging signed gradients does?

# %% [markdown] tags=["solution"]
# **Model answer.** Squaring drops the sign, so the map shows only how *strongly* the class
# score reacts to each pixel, never in which direction. Averaging signed gradients lets
# opposite signs from different noisy copies cancel: a pixel whose gradient flips sign from
# copy to copy averages towards zero. Squares are all positive, so they cannot cancel: such a
# pixel keeps a large value. Squaring also stretches the scale (a gradient twice as large
# counts four times as much), so after normalising to the largest value the weak regions
# fade and the strong ones dominate: a more concentrated, higher-contrast map,
# at the price of the sign.
