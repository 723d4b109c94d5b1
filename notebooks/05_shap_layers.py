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
# # 05 · SHAP on intermediate layers: shallow vs deep
#
# **What you will learn**
#
# - what SHAP's `GradientExplainer` computes (*expected gradients*: Integrated Gradients
#   averaged over a background set of baselines, with a SHAP interpretation);
# - how to explain a network **at an intermediate layer** instead of at its pixels, by
#   passing `(model, layer)` to the explainer;
# - how a shallow layer and a deep layer of the same network tell different stories about
#   the same prediction: resolution versus semantics;
# - how `ranked_outputs` explains the top classes in one call.
#
# The model is **ResNet50** pretrained on ImageNet (torchvision); the layers compared are
# `layer2` (shallow) and `layer4` (deep).
#
# > **Offline note.** Without ResNet50's weights the course loads EfficientNet-Lite0 and
# > compares two of *its* blocks at the same depths (a 28×28 and a 7×7 feature map); a
# > notice says so, and the layer names printed below are the ones really used.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import shap
import torch

from helpers import settings
from helpers.data import sample_images
from helpers.models import load_classifier
from helpers.visualize import overlay_heatmap

warnings.filterwarnings("ignore", category=UserWarning, module="shap")
print(settings.describe())

# %% [markdown]
# ## Knobs

# %%
from helpers.settings import knob

MODEL_NAME = "resnet50"
IMAGES = knob(full=["chelsea", "coffee", "rocket"], quick=["chelsea"])  # photos to explain
# Background: the reference images whose activations serve as baselines; never the explained images.
BACKGROUND = knob(full=["motorcycle", "astronaut", "camera", "hubble", "retina", "grass", "brick", "moon"],
                  quick=["astronaut", "camera"])
NSAMPLES = knob(full=200, quick=8)  # samples of the expected-gradients estimate, per image and class
TOP_CLASSES = 2  # ranked_outputs: explain the top classes of each image
SEED = 0

device = settings.pick_device()

# %% [markdown]
# ## 1. Model, layers and data

# %%
if set(IMAGES) & set(BACKGROUND):
    raise ValueError(f"Explained images must not be in the background: {set(IMAGES) & set(BACKGROUND)}")
classifier = load_classifier(MODEL_NAME).to(device)
SHALLOW, DEEP = classifier.shallow_layer, classifier.deep_layer
images = torch.cat([classifier.input_batch(image) for image in sample_images(IMAGES).values()])
background = torch.cat([classifier.input_batch(image) for image in sample_images(BACKGROUND).values()])
background = torch.cat([background, background.flip(dims=[3])])  # mirrored copies: twice the baselines


def input_shape_of(layer_name):
    """Shape (channels, height, width) of the activations entering a layer, by a forward hook."""
    seen = []
    handle = classifier.layers[layer_name].register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].shape))
    with torch.no_grad():
        classifier.model(images[:1])
    handle.remove()
    return tuple(seen[0][1:])


shapes = {name: input_shape_of(name) for name in (SHALLOW, DEEP)}
print(f"model: {classifier.name} | explained: {len(images)} image(s) | background: {len(background)} images")
for name in (SHALLOW, DEEP):
    print(f"  input of {name}: {shapes[name][0]} channels × {shapes[name][1]}×{shapes[name][2]}")

# %% [markdown]
# ## 2. What `GradientExplainer` computes
#
# SHAP values split a prediction $F_c(x)$ into contributions of the features, relative to an
# average prediction over a *background* distribution. `GradientExplainer` estimates them
# with **expected gradients**: pick a background sample $x'$ and a point $\alpha \in [0, 1]$
# at random, take the gradient at $x' + \alpha (x - x')$, multiply by the difference, and
# average over many such draws (`nsamples`):
#
# $$
# \phi_i(x) \approx \mathbb{E}_{x' \sim \text{background},\ \alpha \sim U(0,1)}
# \Big[ (x_i - x'_i)\, \frac{\partial F_c\big(x' + \alpha (x - x')\big)}{\partial x_i} \Big].
# $$
#
# This is Integrated Gradients (notebook 02) averaged over many baselines. With
# `(model, layer)`, the "features" $x_i$ are the activations entering `layer`, so the map
# tells which **positions and channels of that feature map** carried the evidence. We sum
# over channels to get one value per position, then stretch the map to the image's size.

# %%
def explain_layer(layer_name):
    explainer = shap.GradientExplainer((classifier.model, classifier.layers[layer_name]), background)
    values, ranks = explainer.shap_values(images, nsamples=NSAMPLES, ranked_outputs=TOP_CLASSES, rseed=SEED)
    values = np.asarray(values)  # (images, channels, height, width, classes)
    return values.sum(axis=1), ranks.cpu().numpy()  # one map per position: (images, height, width, classes)


maps, ranks = {}, {}
for name in (SHALLOW, DEEP):
    maps[name], ranks[name] = explain_layer(name)
    print(f"{name}: maps of shape {maps[name].shape[1:3]} for classes {ranks[name].tolist()}")

# %%
# NBVAL_CHECK_OUTPUT
print("both layers explain the same top classes:", bool((ranks[SHALLOW] == ranks[DEEP]).all()))
print("the deep map is coarser than the shallow one:", maps[DEEP].shape[1] < maps[SHALLOW].shape[1])

# %% [markdown]
# ## 3. Shallow vs deep, side by side
# Each row is one image and one of its top classes. Red: activations at that position
# raised the class score relative to the background; blue: lowered it. Colour scales are
# symmetric around zero and shared by nothing: compare patterns, not absolute values,
# across columns.

# %%
with torch.no_grad():
    probabilities = torch.softmax(classifier.model(images), dim=1).cpu()
rows = [(i, k) for i in range(len(images)) for k in range(TOP_CLASSES)]
fig, axes = plt.subplots(len(rows), 3, figsize=(11, 3.4 * len(rows)), squeeze=False)
for row, (i, k) in enumerate(rows):
    index = ranks[DEEP][i, k]
    label = f"{classifier.categories[index]} ({probabilities[i, index]:.0%})"
    axes[row, 0].imshow(images[i].permute(1, 2, 0).cpu())
    axes[row, 0].set_title(f"{IMAGES[i]} → {label}", fontsize=9)
    axes[row, 0].axis("off")
    for col, name in enumerate((SHALLOW, DEEP), start=1):
        overlay_heatmap(axes[row, col], images[i], maps[name][i, :, :, k],
                        f"SHAP at {name} ({maps[name].shape[1]}×{maps[name].shape[2]})")
fig.suptitle(f"{classifier.name}: expected gradients at a shallow and a deep layer", y=1.0)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. What changes with depth, and why
#
# - **Resolution.** Each stage of the network halves the feature map. The shallow layer
#   still sees the image at fine resolution, so its map can follow edges and small parts
#   (an eye, a rim, a nose cone); the deep layer has only a few positions left, so its map
#   is a handful of coarse regions.
# - **Semantics.** A shallow feature responds to small local patterns (an edge, a fur
#   texture) that many classes share, so its attributions are scattered and mix signs. A
#   deep feature responds to whole parts and objects, which are specific to a class. Expect
#   the deep maps to differ more between the two top classes of one photo: compare the two
#   rows of each photo.
# - **Sign is relative to the background.** SHAP values explain the difference between this
#   image's prediction and the *average prediction over the background*. A region is blue
#   when it supports the class *less than the background images do at that position*,
#   which can happen on the object itself when the background contains similar structure.
#   Change the background and the signs can change: SHAP answers a comparative question.
#
# Layer attributions are a way to look inside the network; pixel attributions (notebooks
# 01-04) say where in the *image* the evidence is. Both are estimates: with few `NSAMPLES`,
# SHAP's maps are noisy, so increase it before drawing conclusions.
#
# ## 5. SHAP's own plot
# `shap.image_plot` shows the same values in SHAP's style, here for the deep layer
# (upsampled to the image) and the first image.

# %%
deep = torch.nn.functional.interpolate(torch.from_numpy(maps[DEEP][:1]).permute(0, 3, 1, 2).float(),
                                       size=images.shape[-2:], mode="bilinear").permute(0, 2, 3, 1).numpy()
shap.image_plot([deep[..., k:k + 1] for k in range(TOP_CLASSES)], images[:1].permute(0, 2, 3, 1).cpu().numpy(),
                labels=np.array([[classifier.categories[c] for c in ranks[DEEP][0]]]), show=False)
plt.suptitle(f"shap.image_plot: {DEEP} of {classifier.name}", y=1.02)
plt.show()

# %% [markdown]
# ## Summary
#
# - `GradientExplainer` estimates SHAP values by expected gradients: IG averaged over a
#   background set of baselines and random points on the path.
# - Passing `(model, layer)` explains the activations entering that layer.
# - Shallow layers give fine, texture-level, weakly class-specific maps; deep layers give
#   coarse, object-level, class-specific maps.
#
# ## Exercises
#
# 1. Add `classifier.layers` entries in between (e.g. `layer3`) to the comparison. Where
#    does the map become class-specific?
# 2. Replace the background by a single black image. What does `GradientExplainer` reduce
#    to, and how do the maps change?
# 3. Run with `NSAMPLES = 20` twice with different `SEED`s and compare the maps. How many
#    samples are needed before the two runs agree?
