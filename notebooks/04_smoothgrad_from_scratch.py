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

# %% [markdown]
# # 04 · SmoothGrad from scratch
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
#
# The model is **DenseNet121** pretrained on ImageNet (torchvision).
#
# > **Offline note.** Without DenseNet121's weights the course loads EfficientNet-Lite0
# > instead and prints a notice; the method and the code do not change.

# %%
import inspect
import time
import warnings

import matplotlib.pyplot as plt
import torch
from captum.attr import NoiseTunnel, Saliency

from helpers import settings
from helpers.attribution import smoothgrad, vanilla_gradient
from helpers.data import sample_images
from helpers.models import load_classifier
from helpers.visualize import plot_attribution, plot_attribution_grid

warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
print(settings.describe())

# %% [markdown]
# ## Knobs

# %%
from helpers.settings import knob

MODEL_NAME = "densenet121"
IMAGES = knob(full=["chelsea", "coffee", "motorcycle"], quick=["chelsea", "coffee"])  # sample photos
N_SAMPLES = knob(full=50, quick=6)  # noisy copies per map
NOISE_LEVEL = 0.15  # sigma as a fraction of the image's value range
SAMPLES_GRID = knob(full=[5, 20, 50], quick=[2, 4])  # section 4
NOISE_GRID = knob(full=[0.05, 0.15, 0.3], quick=[0.1, 0.3])  # section 4
ABSENT_CLASS = "goldfish"  # a class none of the photos shows (section 5)
BATCH_SIZE = 8  # noisy copies per forward/backward pass
SEED = 0

device = settings.pick_device()

# %% [markdown]
# ## 1. Model and images

# %%
classifier = load_classifier(MODEL_NAME).to(device)
photos = sample_images(IMAGES)
inputs = {name: classifier.input_batch(image) for name, image in photos.items()}
predictions = {name: classifier.top_k(x, k=3) for name, x in inputs.items()}
for name, top3 in predictions.items():
    print(f"{name:>10}: " + " | ".join(f"{label} {p:.1%}" for label, p, _ in top3))

# %% [markdown]
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

# %%
print(inspect.getsource(smoothgrad))

# %% [markdown]
# ## 3. Checked against Captum, and timed
# Captum's `NoiseTunnel` wraps any attribution method; around `Saliency` with `abs=False` it
# computes SmoothGrad. It draws its noise from PyTorch's global generator, in the same order
# as ours, so seeding that generator with the same `SEED` gives both the same noise.

# %%
name = IMAGES[0]
x, target = inputs[name], predictions[name][0][2]
sigma = NOISE_LEVEL * float(x.max() - x.min())

start = time.perf_counter()
ours = smoothgrad(classifier.model, x, target, N_SAMPLES, NOISE_LEVEL, BATCH_SIZE, seed=SEED)
ours_seconds = time.perf_counter() - start

torch.manual_seed(SEED)
start = time.perf_counter()
captum = NoiseTunnel(Saliency(classifier.model)).attribute(
    x, nt_type="smoothgrad", nt_samples=N_SAMPLES, nt_samples_batch_size=BATCH_SIZE, stdevs=sigma,
    target=target, abs=False)
captum_seconds = time.perf_counter() - start

difference = ((ours - captum).abs().max() / captum.abs().max()).item()
print(f"{N_SAMPLES} samples on {name}: ours {ours_seconds:.2f} s, Captum {captum_seconds:.2f} s "
      f"(ratio {ours_seconds / captum_seconds:.2f})")
print(f"max |ours - Captum| / max |Captum| = {difference:.1e}")

# %% NBVAL_CHECK_OUTPUT
again = smoothgrad(classifier.model, x, target, N_SAMPLES, NOISE_LEVEL, BATCH_SIZE * 2, seed=SEED)
print("agrees with Captum under shared noise:", difference < 1e-4)
print("same seed, different batch size, same map:", torch.allclose(ours, again, atol=1e-6))

# %% [markdown]
# ## 4. Vanilla gradient vs SmoothGrad
# Both maps are shown as magnitudes (absolute values summed over the colour channels), for
# the top class of each photo.

# %%
vanilla_maps, smooth_maps = [], []
for name, x in inputs.items():
    target = predictions[name][0][2]
    vanilla_maps.append(vanilla_gradient(classifier.model, x, target))
    smooth_maps.append(smoothgrad(classifier.model, x, target, N_SAMPLES, NOISE_LEVEL, BATCH_SIZE, seed=SEED))
titles = [f"{name}: {predictions[name][0][0]} ({predictions[name][0][1]:.0%})" for name in inputs]
fig = plot_attribution_grid(list(inputs.values()), {"vanilla gradient": vanilla_maps,
                                                      f"SmoothGrad (n={N_SAMPLES})": smooth_maps},
                            titles, method="heat_map", title=f"{classifier.name}: gradient vs SmoothGrad")
plt.show()

# %% [markdown]
# The vanilla gradient scatters over the whole image; SmoothGrad concentrates on the object
# and its edges. Nothing about the model changed, only how we *look* at it: the speckle was
# a property of the local gradient, not of what the model uses.
#
# ## 5. The two knobs: samples and noise
# Rows: noise level; columns: number of samples, for the first photo.

# %%
name = IMAGES[0]
x, target = inputs[name], predictions[name][0][2]
fig, axes = plt.subplots(len(NOISE_GRID), len(SAMPLES_GRID), figsize=(3.3 * len(SAMPLES_GRID), 3.3 * len(NOISE_GRID)),
                         squeeze=False)
for row, noise in enumerate(NOISE_GRID):
    for col, n in enumerate(SAMPLES_GRID):
        maps = smoothgrad(classifier.model, x, target, n, noise, BATCH_SIZE, seed=SEED)
        plot_attribution(axes[row, col], maps, x, "heat_map", "absolute_value", f"noise {noise:.0%}, n = {n}")
fig.suptitle(f"SmoothGrad on {name}: noise level (rows) × samples (columns)")
fig.tight_layout()
plt.show()

# %% [markdown]
# More samples reduce the variance of the average: the map stops changing after a few tens
# of samples. The noise level sets *how far* around the image we average: too little and the
# map is as speckled as the plain gradient, too much and the image is drowned and the map
# blurs into a blob. Smilkov et al. found 10-20% of the value range a good default.
#
# ## 6. One image, several classes
# An explanation always answers a question about one class. For the first photo: its top-3
# classes and a class it does not show at all.

# %%
name = IMAGES[0]
x = inputs[name]
with torch.no_grad():
    probabilities = torch.softmax(classifier.model(x), dim=1)[0]
classes = [(label, index) for label, _, index in predictions[name]]
classes.append((ABSENT_CLASS, classifier.categories.index(ABSENT_CLASS)))
fig, axes = plt.subplots(1, len(classes), figsize=(3.4 * len(classes), 3.6))
for ax, (label, index) in zip(axes, classes):
    maps = smoothgrad(classifier.model, x, index, N_SAMPLES, NOISE_LEVEL, BATCH_SIZE, seed=SEED)
    plot_attribution(ax, maps, x, "blended_heat_map", "absolute_value", f"{label}\nP = {probabilities[index]:.2%}")
fig.suptitle(f"SmoothGrad on {name} for different classes")
fig.tight_layout()
plt.show()

# %% [markdown]
# Classes the model finds plausible are explained by the object's distinctive parts; closely
# related classes (several kinds of cat, say) give similar maps, because the evidence is
# shared. For the absent class the map still exists (every class score has a gradient) and
# often highlights whatever texture resembles it most: a saliency map always answers, even
# when the question makes no sense. Always read it with the probability next to it.
#
# ## Summary
#
# - SmoothGrad = the gradient averaged over noisy copies; it removes the speckle of plain
#   gradients without changing the model.
# - Our implementation matches Captum's `NoiseTunnel(Saliency)` exactly when both see the
#   same noise, and runs at comparable speed (both are batched).
# - `n_samples` trades time for variance; `noise_level` sets the neighbourhood (10-20% of
#   the range is a good start).
# - Explanations are per class: ask about the class you care about, and check its
#   probability before reading the map.
#
# ## Exercises
#
# 1. Implement SmoothGrad-Squared with `squared=True`. How does squaring change the maps of
#    section 4, and why does it suppress the weak regions?
# 2. Combine SmoothGrad with Integrated Gradients: average IG maps over noisy copies (hint:
#    `NoiseTunnel(IntegratedGradients(...))`, as in notebook 01). Is it worth the cost?
# 3. Choose a class for `ABSENT_CLASS` that *looks like* something in the photo (for
#    Chelsea, try `"lynx"` or `"tiger"`). How do its map and probability compare?
