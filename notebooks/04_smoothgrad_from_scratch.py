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
import warnings

import matplotlib.pyplot as plt
import torch
from captum.attr import NoiseTunnel, Saliency

from helpers import settings
from helpers.attribution import smoothgrad, vanilla_gradient
from helpers.bench import paired_seconds
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

ours = smoothgrad(classifier.model, x, target, N_SAMPLES, NOISE_LEVEL, BATCH_SIZE, seed=SEED)
torch.manual_seed(SEED)
noise_tunnel = NoiseTunnel(Saliency(classifier.model))
captum = noise_tunnel.attribute(x, nt_type="smoothgrad", nt_samples=N_SAMPLES, nt_samples_batch_size=BATCH_SIZE,
                                stdevs=sigma, target=target, abs=False)
# Timing as `make bench` does it: both timed alternately after a warm-up; medians of the times and of the ratios.
ours_seconds, captum_seconds, ratio = paired_seconds(
    lambda: smoothgrad(classifier.model, x, target, N_SAMPLES, NOISE_LEVEL, BATCH_SIZE),
    lambda: noise_tunnel.attribute(x, nt_type="smoothgrad", nt_samples=N_SAMPLES, nt_samples_batch_size=BATCH_SIZE,
                                   stdevs=sigma, target=target, abs=False),
    repeats=3)

difference = ((ours - captum).abs().max() / captum.abs().max()).item()
print(f"{N_SAMPLES} samples on {name}: ours {ours_seconds:.2f} s, Captum {captum_seconds:.2f} s "
      f"(median of the per-pair ratios: {ratio:.2f})")
print(f"max |ours - Captum| / max |Captum| = {difference:.1e}")

# %%
# NBVAL_CHECK_OUTPUT
again = smoothgrad(classifier.model, x, target, N_SAMPLES, NOISE_LEVEL, BATCH_SIZE * 2, seed=SEED)
print("agrees with Captum under shared noise:", difference < 1e-4)
print("same seed, different batch size, same map:", torch.allclose(ours, again, atol=1e-6))

# %% [markdown]
# ## 4. Vanilla gradient vs SmoothGrad
# Both maps are shown as magnitudes, the convention of the SmoothGrad paper: absolute values
# summed over the colour channels, the top 2% clipped. For the top class of each photo.

# %%
vanilla_maps, smooth_maps = [], []
for name, x in inputs.items():
    target = predictions[name][0][2]
    vanilla_maps.append(vanilla_gradient(classifier.model, x, target).abs())
    smooth_maps.append(smoothgrad(classifier.model, x, target, N_SAMPLES, NOISE_LEVEL, BATCH_SIZE, seed=SEED).abs())
titles = [f"{name}: {predictions[name][0][0]} ({predictions[name][0][1]:.0%})" for name in inputs]
fig = plot_attribution_grid(list(inputs.values()), {"vanilla gradient": vanilla_maps,
                                                      f"SmoothGrad (n={N_SAMPLES})": smooth_maps},
                            titles, method="heat_map", title=f"{classifier.name}: gradient vs SmoothGrad")
plt.show()

# %% [markdown]
# Compare the two columns photo by photo. Where SmoothGrad's map is calmer and gathers on
# parts of the object, the speckle of the plain gradient was a property of the *local*
# gradient, not of what the model uses: nothing about the model changed, only how we look at
# it. In the run stored with this notebook (EfficientNet-Lite0, offline) the coffee cup
# shows it best: the rim, the handle and the spoon stand out. The cat and the motorcycle stay
# grainy under both methods: this small mobile network's gradients are noisy at every scale
# we average over. Section 5 shows how the two knobs change the picture.
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
        maps = smoothgrad(classifier.model, x, target, n, noise, BATCH_SIZE, seed=SEED).abs()
        plot_attribution(axes[row, col], maps, x, "heat_map", "absolute_value", f"noise {noise:.0%}, n = {n}")
fig.suptitle(f"SmoothGrad on {name}: noise level (rows) × samples (columns)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Along a row, more samples reduce the variance of the average: the maps for 20 and 50
# samples differ less than those for 5 and 20. Down a column, the noise level sets *how far*
# around the image we average: with little noise the map stays close to the plain
# gradient, with much noise it turns into broad blobs over the regions that matter on
# average. Smilkov et al. suggest 10-20% of the value range as a starting point; the right
# value depends on the model, so look at a grid like this one before choosing.
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
    maps = smoothgrad(classifier.model, x, index, N_SAMPLES, NOISE_LEVEL, BATCH_SIZE, seed=SEED).abs()
    plot_attribution(ax, maps, x, "blended_heat_map", "absolute_value", f"{label}\nP = {probabilities[index]:.2%}")
fig.suptitle(f"SmoothGrad on {name} for different classes")
fig.tight_layout()
plt.show()

# %% [markdown]
# Closely related classes (several kinds of cat) get similar maps: their evidence is shared.
# The surprise is the absent class. Its map exists (every class score has a gradient) and
# may look much like the others: a gradient map shows where the model's computation is
# *sensitive*, and for this photo that is the cat's features, whatever the class asked
# about. The map answers even when the question makes no sense, so always read it next to
# the probability of the class it explains.
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
