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
# # 09 · Explaining vision transformers: attention, rollout, Grad-CAM and IG put to the test
#
# [Open in Colab](https://colab.research.google.com/github/explaining-vision-models/explaining-vision-models/blob/main/notebooks/09_vision_transformers.ipynb)
#
# *Run time on a 2-core CPU (PyTorch on 2 threads), idle, from the cell timings of the stored
# run: 11 s, slowest cell 4 s. Its cached results were computed afresh; the ViT's checkpoint
# was on disk. Without it, the first run trains the ViT once: about 70 s more (an earlier idle
# measurement). Quick mode (nbval): about 20 s.*
#
# **What you will learn**

# %% [markdown] slideshow={"slide_type": "subslide"}
# - how a vision transformer (ViT) sees an image: a grid of patches, a class token, and in
#   every block an **attention** matrix;
# - four ways to turn a ViT into a map: the class token's **raw attention**, **attention
#   rollout** (Abnar & Zuidema, 2020), the **gradient-weighted rollout** of Chefer et al.
#   (2021), and **Grad-CAM on the token grid** with pytorch-grad-cam's `reshape_transform`;
#   plus **Integrated Gradients** on the pixels;
# - which layer Grad-CAM must read in a ViT, and why its maps are blocky;
# - the course's tests on all of them (deletion, insertion, the cascading randomization,
#   completeness), and a measured answer to *"is attention an explanation?"*.

# %% [markdown] slideshow={"slide_type": "subslide"}
# Most image models trained today are transformers, and the CNN notebooks leave open the
# questions students meet first with a ViT: is the attention map an explanation? Which layer
# does Grad-CAM use when there are no feature maps? Why are the maps made of squares? We
# train a small ViT that runs everywhere, explain it five ways and put every map through the
# tests of notebooks 07 and 08.
#
# > **Offline note.** As in notebook 01, the data set is CIFAR-10, replaced by
# > **Fashion-MNIST** (resized to 3×32×32) when CIFAR-10 cannot be downloaded; section 10 asks
# > for torchvision's `vit_b_16`, replaced by EfficientNet-Lite0 without its weights. Each
# > replacement prints a notice, and every number is measured on what actually ran.

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

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from captum.attr import LayerGradCam
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch.nn import functional as F
from torch.utils.data import Subset

from helpers import settings, vit
from helpers.attribution import completeness_gap, integrated_gradients
from helpers.cache import cached
from helpers.data import load_cifar10, sample_images
from helpers.evaluation import (
    curve_auc, deletion_curve, insertion_curve, random_attribution, randomization_sanity_check,
)
from helpers.models import cifar_cnn, load_cifar_cnn, load_classifier
from helpers.visualize import SIGNED_CMAP, display_map

warnings.filterwarnings("ignore", message="randomization_sanity_check: .* is constant")
print(settings.describe())

# %% [markdown] slideshow={"slide_type": "skip"}
# ## Knobs
# Every setting of the notebook. `knob(full=..., quick=...)` picks the small value when the
# course runs in quick mode (`COURSE_QUICK=1`, as in CI).

# %% slideshow={"slide_type": "skip"}
from helpers.settings import knob

TRAINING = {
    "epochs": 1,                                    # passes over the training images
    "train_subset": knob(full=None, quick=6000),    # None = all training images
    "batch_size": 128,
    "learning_rate": 2e-3,                          # AdamW, one-cycle schedule
    "seed": 0,
}
VIT_CHECKPOINT = settings.data_dir() / knob(full="tiny_vit.pt", quick="tiny_vit_quick.pt")
CNN_CHECKPOINT = settings.data_dir() / knob(full="cifar_cnn.pt", quick="cifar_cnn_quick.pt")  # notebook 01's
N_IMAGES = knob(full=8, quick=2)        # test images explained and scored
N_SHOWN = knob(full=3, quick=2)         # of which drawn in the figures
IG_GAP = 0.01                           # the course's bar: completeness gap under 1%
IG_FIRST_STEPS = 32                     # IG starts here and doubles n_steps until the gap is under IG_GAP
CURVE_STEPS = knob(full=16, quick=4)    # points on each deletion/insertion curve
PHOTO = "chelsea"                       # section 8: the photo for vit_b_16
SEED = 0

torch.manual_seed(SEED)
device = torch.device("cpu")  # the tiny models are faster on the CPU than a GPU round trip

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. A ViT the course can run everywhere
# torchvision's `VisionTransformer` cuts the 32×32 image into an 8×8 grid of 4×4 **patches**,
# maps each patch to a vector (a *token*), puts one extra **class token** in front, and passes
# the 65 tokens through a few **blocks**. In each block every token takes a weighted mix of
# all tokens (*self-attention*), then goes through a small MLP; a skip connection adds each
# block's input to its output. The class prediction is read from the class token alone.

# %%
dataset = load_cifar10()
model = vit.tiny_vit(len(dataset.classes))
net = vit.find_vit(model)
grid = net.image_size // net.patch_size
print(f"data set: {dataset.name} | {net.patch_size}x{net.patch_size} patches -> {grid}x{grid} grid, "
      f"{net.seq_length} tokens (class token first) | {len(net.encoder.layers)} blocks x "
      f"{net.encoder.layers[0].num_heads} heads | {sum(p.numel() for p in model.parameters()):,} parameters")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Training.** One pass over the training images with AdamW. The checkpoint records the data
# set and every setting in `TRAINING`; a second run with the same settings loads it.

# %%
start = time.perf_counter()
model, vit_meta, train_seconds = vit.load_or_train_tiny_vit(dataset, VIT_CHECKPOINT, TRAINING, device)
net = vit.find_vit(model)
if train_seconds is None:
    print(f"loaded {settings.display_path(VIT_CHECKPOINT)} in {time.perf_counter() - start:.1f} s "
          f"(trained on {vit_meta['train_images']} images); delete it to train again")
else:
    print(f"trained on {vit_meta['train_images']} images in {train_seconds:.0f} s; saved to "
          f"{settings.display_path(VIT_CHECKPOINT)}")

# %% [markdown]
# **The CNN of notebook 01, for comparison.** We load its checkpoint when notebook 01 has
# trained it on the same data set; otherwise the same network is trained here for one epoch
# (AdamW), and the line says so. Section 5 also uses it to cross-check two Grad-CAM libraries.

# %% slideshow={"slide_type": "subslide"}
if CNN_CHECKPOINT.is_file() and load_cifar_cnn(CNN_CHECKPOINT)[1].get("dataset") == dataset.name:
    cnn, cnn_meta = load_cifar_cnn(CNN_CHECKPOINT)
    cnn_source = f"notebook 01's checkpoint {settings.display_path(CNN_CHECKPOINT)}"
else:
    subset = TRAINING["train_subset"] or len(dataset.train)
    cnn, _ = vit.train_classifier(cifar_cnn(len(dataset.classes)), Subset(dataset.train, range(subset)), 1, 64, 2e-3,
                                  SEED, device)
    cnn_meta = {"accuracy": vit.accuracy(cnn, dataset.test)}
    cnn_source = "trained here for one epoch (notebook 01's checkpoint is missing)"
for parameter in [*model.parameters(), *cnn.parameters()]:
    parameter.requires_grad_(False)
cnn_parameters = sum(p.numel() for p in cnn.parameters())
print(f"test accuracy on {dataset.name}: tiny ViT {vit_meta['accuracy']:.1%} "
      f"({sum(p.numel() for p in model.parameters()):,} parameters) | "
      f"CNN {cnn_meta['accuracy']:.1%} ({cnn_parameters:,} parameters, {cnn_source})")

# %%
# NBVAL_CHECK_OUTPUT
print(f"the ViT is better than chance (10%): {vit_meta['accuracy'] > 0.15}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The images we explain: the first `N_IMAGES` test images the ViT classifies correctly, each for
# its predicted class.

# %%
with torch.no_grad():
    first = torch.stack([dataset.test[i][0] for i in range(200)])
    labels = torch.tensor([dataset.test[i][1] for i in range(200)])
    predicted = model(first).argmax(1)
chosen = torch.nonzero(predicted == labels).flatten()[:N_IMAGES]
images, targets = first[chosen], predicted[chosen]
names = [dataset.classes[t] for t in targets]
print("explained:", ", ".join(names))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Attention: what the class token looks at
# In block $b$, head $h$ compares every token $i$ with every token $j$ and turns the scores
# into weights that sum to 1 over $j$:
#
# $$A^{(b,h)} = \operatorname{softmax}\!\Big(\frac{Q K^\top}{\sqrt{d}}\Big) \in \mathbb{R}^{T \times T},
# \qquad \text{token } i \text{ receives } \textstyle\sum_j A^{(b,h)}_{ij} V_j .$$
#
# The row of the class token in the **last** block, over the 64 patches, is the map people
# usually call "the attention map". torchvision computes attention inside
# `nn.MultiheadAttention` without returning it; `vit.recording_attention(model)` swaps in an
# explicit computation (same outputs, checked in the tests) and keeps every $A^{(b,h)}$.

# %% slideshow={"slide_type": "subslide"}
attentions, _, _ = vit.attention_and_gradients(model, images)
print(f"{len(attentions)} blocks, each {tuple(attentions[0].shape)} (images, heads, tokens, tokens); "
      f"rows sum to 1: {torch.allclose(attentions[-1].sum(-1), torch.ones(1))}")
last = attentions[-1][:, :, 0, 1:].reshape(len(images), -1, grid, grid)  # class token -> patches, per head


def show_image(ax, image, title):
    ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def show_map(ax, values, title, signed=False):
    """A map on its own axes through the course's display convention (``display_map``: capped at the 99th
    percentile of |value|, scaled to [0, 1], or [-1, 1] red-white-green when signed), with a colour bar."""
    if signed:
        shown = ax.imshow(display_map(values, sign="all"), cmap=SIGNED_CMAP, vmin=-1, vmax=1)
    else:
        shown = ax.imshow(display_map(values, sign="absolute_value"), cmap="Blues", vmin=0, vmax=1)
    bar = ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("value / 99th pct. of |value|", fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


# %% slideshow={"hide_input": true, "slide_type": "subslide"}
fig, axes = plt.subplots(1, 2 + last.shape[1], figsize=(3 * (2 + last.shape[1]), 3))
show_image(axes[0], images[0], f"{names[0]}")
for head in range(last.shape[1]):
    show_map(axes[1 + head], last[0, head], f"head {head + 1}")
show_map(axes[-1], last[0].mean(0), "mean of the heads")
fig.suptitle("Last block: the class token's attention over the 8x8 patches (each head sums to 1 with the "
             "class token itself)")
fig.tight_layout()
plt.show()
on_patches = attentions[-1][:, :, 0, 1:].sum(-1)  # the rest stays on the class token itself
print("share of the class token's attention on the patches, per head (mean over images): "
      + ", ".join(f"{v:.2f}" for v in on_patches.mean(0)))
print(f"largest weight on one patch, per head ({names[0]}): " + ", ".join(f"{v:.2f}" for v in last[0].flatten(1).max(1).values)
      + f" | mean of the heads: {last[0].mean(0).max():.2f}")

# %% [markdown]
# In the stored run, two heads put most of their weight on one patch each (0.83 and 0.88 for
# the ankle boot, printed above), while the other two spread theirs thinly over the grid
# (their largest single weights are 0.06 and 0.02); in the mean of the heads those two patches
# stand out (0.23). Each map is drawn as the course draws every map, capped at its 99th
# percentile, so one extreme patch does not wash out the rest. Each head looks at something
# different, and "the" attention map depends on how the heads are fused.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Attention rollout
# One block's attention ignores what earlier blocks already mixed. **Rollout** (Abnar &
# Zuidema, 2020) follows the mixing through all blocks. Each block's heads are fused (their
# mean), the skip connection is added as an identity (half the signal stays with the token),
# the rows are renormalised, and the blocks multiply:
#
# $$\hat A^{(b)} = \operatorname{norm}\Big(\tfrac12\big(\operatorname{mean}_h A^{(b,h)} + I\big)\Big),
# \qquad R = \hat A^{(L)} \cdots \hat A^{(2)} \hat A^{(1)} .$$
#
# The map is row 0 of $R$ (the class token) over the patches. It is written by hand in
# `vit.attention_rollout`; the tests check that identity attention rolls out to the identity
# and that a class token attending to one patch gives a one-hot map.

# %%
rollout_maps = vit.class_token_map(vit.attention_rollout(attentions))
print(f"rollout maps: {tuple(rollout_maps.shape)}; share of the class token's row left on itself: "
      f"{vit.attention_rollout(attentions)[:, 0, 0].mean():.2f} (mean over images)")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Gradient-weighted rollout (Chefer et al., 2021)
# Attention and rollout never ask *which class*: they come out of the forward pass, before
# the output layer. Chefer et al. weight each attention entry by the gradient of the class
# score $S_c$ with respect to it, keep the positive part, average the heads, and roll out with
# the identity added:
#
# $$\bar A^{(b)} = \mathbb{E}_h\Big[\big(\nabla_{A^{(b,h)}} S_c \odot A^{(b,h)}\big)^+\Big],
# \qquad R = (I + \bar A^{(L)}) \cdots (I + \bar A^{(1)}) .$$
#
# `vit.attention_and_gradients(model, x, target)` returns the attention and these gradients in
# one backward pass; `vit.gradient_weighted_rollout` is the formula.

# %% slideshow={"slide_type": "subslide"}
attentions_t, gradients_t = [], []
for x, t in zip(images, targets):
    a, g, _ = vit.attention_and_gradients(model, x[None], int(t))
    attentions_t.append(a)
    gradients_t.append(g)
weighted_maps = torch.cat([vit.class_token_map(vit.gradient_weighted_rollout(a, g))
                           for a, g in zip(attentions_t, gradients_t)])
print(f"gradient-weighted maps: {tuple(weighted_maps.shape)}; "
      f"share of attention-gradient products that are negative (clipped): "
      f"{np.mean([float((a * g < 0).float().mean()) for a_s, g_s in zip(attentions_t, gradients_t) for a, g in zip(a_s, g_s)]):.0%}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Grad-CAM on the token grid
# Grad-CAM weights a layer's channels by their mean gradient and sums them. A ViT block
# outputs tokens (N, 65, D), not feature maps (N, D, h, w): the practitioners' library,
# [pytorch-grad-cam](https://github.com/jacobgil/pytorch-grad-cam), takes a `reshape_transform`
# that drops the class token and folds the 64 patch tokens back into the 8×8 grid, in
# torchvision's order (token $1 + 8i + j$ is row $i$, column $j$): `vit.token_grid`.
#
# **Which layer?** Not the last one. The output reads the class token only, so after the last
# block's attention no patch token reaches the score: its gradient is exactly zero, and so is
# the Grad-CAM map. The cell measures it at the encoder's final LayerNorm, then uses the
# last block's first LayerNorm (`ln_1`), whose patch tokens still feed the class token
# through that block's attention.

# %% slideshow={"slide_type": "subslide"}
def token_gradient(model, x, target, layer):
    """The gradient of the target score with respect to ``layer``'s output tokens (N, T, D)."""
    recorded = {}
    handle = layer.register_forward_hook(lambda module, inputs, output: recorded.update(out=output))
    score = model(x.clone().requires_grad_(True))[:, target].sum()
    handle.remove()
    return torch.autograd.grad(score, recorded["out"])[0]


at_output = token_gradient(model, images[:1], int(targets[0]), net.encoder.ln)
at_ln1 = token_gradient(model, images[:1], int(targets[0]), vit.gradcam_layer(model))
print(f"largest |gradient| on the patch tokens: at encoder.ln {at_output[:, 1:].abs().max():.1e} "
      f"| at the last block's ln_1 {at_ln1[:, 1:].abs().max():.1e}")
assert at_output[:, 1:].abs().max() == 0 < at_ln1[:, 1:].abs().max()

# %% [markdown]
# pytorch-grad-cam returns maps scaled to [0, 1] and resized to the image (bilinear). Our own
# version, `vit.gradcam_tokens`, is five lines: hook the layer, take the gradient of the score,
# fold both into the grid, weight the channels by the mean gradient, keep the positive part.
# Scaled and resized the same way, both must agree. One trap of the library: it records
# gradients only on tensors that require them, so with frozen parameters (as here, and as
# `load_classifier` returns its models) the input must require gradients.

# %% slideshow={"slide_type": "subslide"}
layer = vit.gradcam_layer(model)
with GradCAM(model, [layer], reshape_transform=vit.token_grid) as library_cam:
    library_maps = torch.from_numpy(library_cam(images.clone().requires_grad_(True),
                                                targets=[ClassifierOutputTarget(int(t)) for t in targets]))
own_maps = torch.cat([vit.gradcam_tokens(model, x[None], int(t), layer) for x, t in zip(images, targets)])


def scaled_and_resized(maps, size):
    """pytorch-grad-cam's display: each map minus its minimum, divided by its maximum, resized bilinearly."""
    maps = maps - maps.flatten(1).min(1).values.view(-1, 1, 1)
    maps = maps / (maps.flatten(1).max(1).values.view(-1, 1, 1) + 1e-7)
    maps = F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    maps = maps - maps.flatten(1).min(1).values.view(-1, 1, 1)
    return maps / (maps.flatten(1).max(1).values.view(-1, 1, 1) + 1e-7)


vit_difference = float((scaled_and_resized(own_maps, 32) - library_maps).abs().max())
print(f"ViT, own Grad-CAM vs pytorch-grad-cam: largest difference {vit_difference:.1e} (maps in [0, 1])")
assert vit_difference < 1e-3

# %% [markdown]
# **Both libraries on a CNN.** Captum has no reshape transform, but on 01's CNN, where both
# apply, its `LayerGradCam` and pytorch-grad-cam must compute the same map at the second
# convolution.

# %% slideshow={"slide_type": "subslide"}
cnn_layer = cnn[1].conv2
captum_maps = torch.cat([LayerGradCam(cnn, cnn_layer).attribute(x[None], target=int(t), relu_attributions=True)
                         for x, t in zip(images, targets)])[:, 0].detach()
with GradCAM(cnn, [cnn_layer]) as cnn_cam:
    library_cnn = torch.from_numpy(cnn_cam(images.clone().requires_grad_(True),
                                           targets=[ClassifierOutputTarget(int(t)) for t in targets]))
usable = captum_maps.flatten(1).max(1).values > 0  # a map that is all zero has nothing to compare
cnn_difference = float((scaled_and_resized(captum_maps[usable], 32) - library_cnn[usable]).abs().max())
print(f"CNN ({tuple(captum_maps.shape[1:])} at conv2), Captum LayerGradCam vs pytorch-grad-cam: largest "
      f"difference {cnn_difference:.1e} over {int(usable.sum())} of {len(images)} images (the others: all-zero maps)")
assert usable.any() and cnn_difference < 1e-3

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Integrated Gradients on the pixels, converged
# IG (notebook 02) needs no attention and no grid: it integrates the gradient of the score
# along the path from a black image to the image. The course's bar: the completeness gap
# $|\sum_i \mathrm{IG}_i - (F(x) - F(x'))| / |F(x) - F(x')|$ under 1%. We start at
# `IG_FIRST_STEPS` and double `n_steps` until every image passes, and print each gap.

# %% slideshow={"slide_type": "subslide"}
@cached
def converged_ig(model, images, targets, first_steps, bar):
    """IG from black with n_steps doubled until every image's completeness gap is under ``bar``."""
    steps = first_steps
    while True:
        maps = integrated_gradients(model, images, targets, n_steps=steps, internal_batch_size=128)
        with torch.no_grad():
            change = (model(images) - model(torch.zeros_like(images))).gather(1, targets.view(-1, 1))[:, 0]
        gaps = (completeness_gap(model, images, targets, maps) / change.abs()).numpy()
        if gaps.max() < bar or steps >= 4096:
            return maps, gaps, steps
        steps *= 2


ig_maps, ig_gaps, ig_steps = converged_ig(model, images, targets, IG_FIRST_STEPS, IG_GAP)
print(f"IG with n_steps = {ig_steps}: completeness gap per image " + ", ".join(f"{g:.2%}" for g in ig_gaps))
assert ig_gaps.max() < IG_GAP, "IG did not converge: raise the step limit"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Five maps side by side
# Blue maps are magnitudes; IG is signed: **green for the class, red against**. Every map is
# drawn through the course's display convention (`display_map`): capped at the 99th
# percentile of its |value| and divided by that cap, so the colour bars run to 1. The four token methods are 8×8 grids shown as
# they are, one square per patch: a ViT has one vector per patch, so a map built from its
# tokens cannot be finer.

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
token_maps = {
    "last-layer attention": last.mean(1),
    "rollout": rollout_maps,
    "gradient-weighted rollout": weighted_maps,
    "Grad-CAM (tokens)": own_maps,
}
fig, axes = plt.subplots(N_SHOWN, 2 + len(token_maps), figsize=(2.9 * (2 + len(token_maps)), 2.7 * N_SHOWN),
                         squeeze=False)
for row in range(N_SHOWN):
    show_image(axes[row, 0], images[row], f"{names[row]}")
    for col, (name, maps) in enumerate(token_maps.items(), start=1):
        show_map(axes[row, col], maps[row], name if row == 0 else "")
    show_map(axes[row, -1], ig_maps[row], f"IG ({ig_steps} steps)\ngap {ig_gaps[row]:.2%}", signed=True)
fig.suptitle(f"Why did the tiny ViT predict the class on the left? ({dataset.name})")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **What the stored figure shows.** The last-layer attention puts most of its weight on two
# patches for the ankle boot and spreads thinner over the pullover and the trousers; rollout is smoother and
# covers most of the grid; the gradient-weighted rollout keeps a few patches of it. Grad-CAM
# on the ankle boot is two stacked patches at the bottom: the lower edge of the sole and,
# strongest, the black background just below it; on the trousers it lights up the black
# background beside and between the legs. IG is a speckle of both signs on the garment and
# exactly zero on the black background.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. The course's tests, for every map
# - **Deletion / insertion** (notebook 07): remove (or reveal) the pixels in the map's order
#   and follow the class probability; the area under the curve (AUC) should be lower
#   (deletion) or higher (insertion) than for a **random** order. Token maps rank whole patches.
# - **Cascading randomization** (notebooks 07, 08): re-initialise the **output layer alone**
#   first, then the blocks from the last to the first, then the patch embedding, and measure
#   the rank correlation of each map with the original. A map that stays the same does not
#   depend on what the model learned; after the output layer alone, it does not depend on the
#   class.
# - **Completeness** where it applies: IG only.

# %% slideshow={"hide_input": true}
METHODS = {**vit.token_methods(), "Integrated Gradients": lambda m, x, t: integrated_gradients(
    m, x, t, n_steps=ig_steps, internal_batch_size=128)}
groups = vit.vit_cascade_groups(model)
STAGES = ["output layer", *[f"block {b}" for b in range(len(net.encoder.layers), 0, -1)], "embeddings"]
print("cascade:", " -> ".join(f"{stage} ({len(g)} modules)" for stage, g in zip(STAGES, groups)))


@cached
def curve_scores(model, images, targets, ig_maps, steps):
    """Deletion and insertion AUC of every method and of a random order, per image (a DataFrame)."""
    rows = []
    for i, (x, t) in enumerate(settings.progress(list(zip(images, targets)), desc="curves", mininterval=1)):
        x, t = x[None], int(t)
        maps = {name: attribute(model, x, t) for name, attribute in METHODS.items() if name != "Integrated Gradients"}
        maps["Integrated Gradients"] = ig_maps[i:i + 1]
        maps["random"] = random_attribution(x, seed=i)
        for name, attribution in maps.items():
            rows.append({"image": i, "method": name,
                         "deletion AUC": curve_auc(*deletion_curve(model, x, t, attribution, steps=steps)),
                         "insertion AUC": curve_auc(*insertion_curve(model, x, t, attribution, steps=steps))})
    return pd.DataFrame(rows)


curves = curve_scores(model, images, targets, ig_maps, CURVE_STEPS)
random_auc = curves[curves.method == "random"].set_index("image")[["deletion AUC", "insertion AUC"]]
print(f"{len(curves)} pairs of curves scored on {len(images)} images")


# %% slideshow={"slide_type": "subslide"}
@cached
def cascade_scores(model, images, targets, groups, stages):
    """Rank correlation of every method's map with the original after each cascade stage, per image."""
    rows = []
    for i, (x, t) in enumerate(settings.progress(list(zip(images, targets)), desc="cascade", mininterval=1)):
        for name, attribute in METHODS.items():
            results = randomization_sanity_check(model, x[None], int(t), attribute, groups=groups, seed=SEED)
            rows += [{"image": i, "method": name, "stage": stage, "correlation": rho}
                     for stage, (_, rho) in zip(stages, results[1:])]
    return pd.DataFrame(rows)


cascade = cascade_scores(model, images, targets, groups, STAGES)
by_stage = cascade.pivot_table(index="method", columns="stage", values="correlation", aggfunc="mean")[STAGES]
by_stage.round(2)

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
fig, ax = plt.subplots(figsize=(8, 3.8))
for name in METHODS:
    rows = cascade[cascade.method == name].pivot(index="image", columns="stage", values="correlation")[STAGES]
    ax.errorbar(range(len(STAGES)), rows.mean(), yerr=rows.std(ddof=0), marker="o", capsize=3, label=name)
ax.axhline(0, color="gray", linewidth=0.8)
ax.set_xticks(range(len(STAGES)), [f"+ {s}" if k else s for k, s in enumerate(STAGES)])
ax.set_xlabel("layers re-initialised, cumulatively from the output")
ax.set_ylabel("rank correlation with the original map")
ax.set_title(f"Cascading randomization of the tiny ViT: mean ± spread over {len(images)} images")
ax.legend(fontsize=8, loc="lower left")
fig.tight_layout()
plt.show()

# %% [markdown]
# In the stored figure the last-layer attention and rollout stay at 1.00 after the output
# layer alone: they never see it. Rollout then falls slowly (0.98 after block 4, 0.56 after
# block 2, 0.27 with everything re-initialised); the last-layer attention drops at once to
# about 0.4 when its own block is re-initialised. The gradient-weighted rollout and Grad-CAM
# already fall to about 0.25 at the first stage, with spreads over the images as large as
# their means. IG stays at 0.90 or above at every stage (the table below has the numbers).

# %% [markdown] slideshow={"slide_type": "subslide"}
# **One table.** Per method, the mean ± standard deviation over the images of each test;
# "beats random" counts the images whose map beats the random order on deletion and insertion.

# %% slideshow={"hide_input": true}
def mean_sd(values):
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


table = []
for name in [*METHODS, "random"]:
    scores = curves[curves.method == name].set_index("image")
    rho = cascade[cascade.method == name].pivot(index="image", columns="stage", values="correlation")
    beats = ((scores["deletion AUC"] < random_auc["deletion AUC"])
             & (scores["insertion AUC"] > random_auc["insertion AUC"])).sum()
    table.append({
        "method": name,
        "deletion AUC ↓": mean_sd(scores["deletion AUC"]),
        "insertion AUC ↑": mean_sd(scores["insertion AUC"]),
        "beats random": f"{beats}/{len(scores)}" if name != "random" else "",
        "ρ, output layer randomized": mean_sd(rho["output layer"]) if name != "random" else "",
        "ρ, whole model randomized": mean_sd(rho[STAGES[-1]]) if name != "random" else "",
        "completeness gap": f"{ig_gaps.max():.2%} (max)" if name == "Integrated Gradients" else "n/a",
    })
pd.DataFrame(table).set_index("method")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. Is attention an explanation?
# An explanation of a class decision has to change when the decision changes. Randomizing the
# output layer alone turns the class decision into noise while leaving every block, and so
# every attention weight, as it was. The cell reads the verdict off the two tables above.

# %%
ATTENTION_MAPS = ["last-layer attention", "rollout"]
rho_head = cascade[cascade.stage == "output layer"].groupby("method").correlation
class_blind = [name for name, values in rho_head if np.allclose(values, 1.0)]
wins = {name: int(((curves[curves.method == name].set_index("image")["deletion AUC"] < random_auc["deletion AUC"])
                   & (curves[curves.method == name].set_index("image")["insertion AUC"]
                      > random_auc["insertion AUC"])).sum()) for name in METHODS}
print(f"maps identical on every image after the output layer alone is randomized: {', '.join(class_blind)}")
print("images on which the map beats the random order on both curves: "
      + ", ".join(f"{name} {wins[name]}/{len(images)}" for name in METHODS))
attention_is_explanation = not set(ATTENTION_MAPS) & set(class_blind)
assert set(ATTENTION_MAPS) <= set(class_blind), "attention changed with the output layer: revise section 9"
assert "gradient-weighted rollout" not in class_blind, "the gradient-weighted map ignored the class: revise section 9"

# %% slideshow={"slide_type": "subslide"}
# NBVAL_CHECK_OUTPUT
print(f"is the attention map an explanation of the class? {attention_is_explanation}")

# %% [markdown]
# **The answer, for this model: no.** In the run stored here, randomizing the output layer
# alone leaves the last-layer attention and the rollout map unchanged on all 8 images
# (ρ = 1.000 ± 0.000 in the table). Both are computed before the output layer, so they cannot
# say why the model chose this class rather than another; the assertions above check this
# on whatever model runs. What they show is where information flows, and rollout does rank
# pixels that matter: its deletion AUC is 0.193 against the random order's 0.341, and it beats
# the random order on both curves on 5 of 8 images. The last-layer attention alone hardly
# does (0.323, 1 of 8).

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Depending on the class is necessary, not sufficient.** The gradient-weighted rollout
# changes with the output layer (ρ = 0.27) but scores 0.306 on deletion and 0.786 on
# insertion, close to the random order's 0.341 and 0.790; Grad-CAM on the tokens is worse
# than random on both (0.393 and 0.674): on the trousers it lights up the black background.
# IG has the best deletion AUC (0.121) and passes completeness (gap 0.89% at most), but it
# fails the randomization check on this data: its map keeps ρ = 0.90 with the whole model
# randomized, because from a black baseline every black pixel gets exactly zero whatever the
# model (notebook 01, section 7). With 8 images the spread (± in the table) is as large as
# most differences: on this model no map passes every test by a clear margin, and the raw
# attention beats the random order on the fewest images (1 of 8).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 10. The real model: `vit_b_16` on a photo
# With internet, `load_classifier("vit_b_16")` loads torchvision's ViT-B/16 (86 million
# parameters, 14×14 patches of 16 pixels on a 224×224 photo, 12 blocks × 12 heads), and the
# same four token methods run unchanged. Without its weights the course falls back to
# EfficientNet-Lite0, a CNN: it has no attention to read, so only Grad-CAM applies, through
# pytorch-grad-cam on its deepest layer, and the cell says so.

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
classifier = load_classifier("vit_b_16")
photo = sample_images([PHOTO])[PHOTO]
x_photo = classifier.input_batch(photo)
label, probability, target_photo = classifier.top_k(x_photo, k=1)[0]
print(f"{classifier.name}: {PHOTO} -> {label} ({probability:.1%})")


@cached
def photo_maps(model, x, target, is_vit, deep_layer):
    """Token maps of a ViT (grid resolution), or pytorch-grad-cam's map of a CNN's deep layer."""
    if is_vit:
        return {name: attribute(model, x, target)[0, 0] for name, attribute in vit.token_methods().items()}
    layer = model.get_submodule(deep_layer)
    with GradCAM(model, [layer]) as cam:
        grayscale = cam(x.clone().requires_grad_(True), targets=[ClassifierOutputTarget(target)])
    return {f"Grad-CAM ({deep_layer})": torch.from_numpy(grayscale[0])}


is_vit = not classifier.is_fallback
maps_photo = photo_maps(classifier.model, x_photo, target_photo, is_vit, f"1.{classifier.deep_layer}")
if not is_vit:
    print(f"{classifier.name} is a CNN: attention, rollout and the gradient-weighted rollout need vit_b_16; "
          "shown: Grad-CAM only")
fig, axes = plt.subplots(1, 1 + len(maps_photo), figsize=(3.3 * (1 + len(maps_photo)), 3.2))
show_image(axes[0], x_photo[0], f"{PHOTO}: {label}")
for ax, (name, values) in zip(axes[1:], maps_photo.items()):
    show_map(ax, values, name)
fig.suptitle(f"{classifier.name} on {PHOTO}")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# In the run stored here (offline) the figure shows EfficientNet-Lite0's Grad-CAM at
# `_blocks.15` for a 37.9% "tiger cat": a coarse map (a deep layer has few positions), strongest
# on the cheek just below the cat's left-hand eye, at the left edge of the photo, middling over
# the rest of the face, and weak along the borders (the top and bottom rows and the right
# edge). With `vit_b_16` the four token maps of section 7 appear instead, on a 14×14 grid.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A ViT maps an image to a grid of patch tokens plus a class token; a map built from tokens
#   has one value per patch, which is why ViT maps are blocky.
# - The class token's **raw attention** and **attention rollout** come from the forward pass
#   alone; the **gradient-weighted rollout** (Chefer et al.) and **Grad-CAM** bring in the
#   gradient of the class score; **IG** works on pixels and passes completeness.
# - Grad-CAM in a ViT needs a `reshape_transform` (tokens back to the grid, class token
#   dropped) and a layer *before* the last attention: after it, patch tokens get no gradient.
# - The tests of section 8 answer the title question for this model in section 9.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# Exercises 1 to 3 are checked automatically. Exercise 4 is an open question; its model
# answer follows it in the solution edition.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1 (predict): does the head fusion rescue rollout?
# Rollout fuses the heads with their mean. With the elementwise **minimum** instead
# (`head_fusion="min"`), only what *every* head attends to survives, a sharper map. Before
# running anything, predict: after the **output layer alone** is randomized, which fusion's
# rollout map changes enough to pass the randomization check (rank correlation below 0.5 on
# every image)? Set `prediction` to `"mean"`, `"min"`, `"both"` or `"neither"`. The check runs
# the experiment on the explained images and tells you what happened, and why.

# %% tags=["solution"]
# Exercise 1 (predict): predict which head fusion of rollout passes the first stage of the cascade
prediction = "neither"

# %% tags=["check"]
from helpers.checks import check_fusion_prediction

check_fusion_prediction(prediction, model, images, targets, groups, exercise=1)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2 (extend): rollout with max head fusion
# Write `rollout_max(attentions)`: attention rollout in which each block's heads are fused by
# their elementwise **maximum** (the strongest head wins each entry). Keep the rest of
# rollout: the skip connection, the renormalised rows, the product over the blocks. It takes
# the list of (N, heads, T, T) attentions and returns (N, T, T). The check compares it with a
# reference on a hand-made example and on the tiny ViT's attention, and names the step that
# differs.

# %% tags=["solution"]
# Exercise 2 (extend): write attention rollout with max head fusion
def rollout_max(attentions):
    """Attention rollout (N, T, T) with each block's heads fused by their elementwise maximum."""
    n, _, t, _ = attentions[0].shape
    identity = torch.eye(t).expand(n, t, t)
    result = identity
    for attention in attentions:
        mixed = (attention.max(dim=1).values + identity) / 2
        result = (mixed / mixed.sum(dim=-1, keepdim=True)) @ result
    return result


# %% tags=["check"]
from helpers.checks import check_max_rollout

check_max_rollout(rollout_max, attentions, exercise=2)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3 (debug): Grad-CAM on the token grid, by hand
# `token_gradcam(activations, gradients)` below computes Grad-CAM from a layer's output tokens
# and the gradient of the class score on them, both (N, 65, D) with the class token first, as
# a hook would record them. It runs and returns an 8×8 map per image that looks plausible, but
# it does not compute what section 5 describes: one line is wrong. Find and fix it. The check
# first feeds it a hand-made 4×4 grid with one bright patch, then the tiny ViT's tokens at the
# layer of section 5, and compares with `vit.gradcam_tokens`; its hint describes what it sees.

# %% tags=["solution"]
# Exercise 3 (debug): find and fix the bug in this Grad-CAM on a ViT's token grid
def token_gradcam(activations, gradients):
    """Grad-CAM (N, g, g) from a layer's tokens and their gradients, both (N, 1 + g*g, D), class token first."""
    n, tokens, d = activations.shape
    side = int(round((tokens - 1) ** 0.5))

    def fold(values):  # (N, 1 + g*g, D) -> (N, D, g, g): patch tokens in reading order, channels first
        patches = values[:, 1:]  # planted bug: patches = values[:, : side * side]
        return patches.reshape(n, side, side, d).permute(0, 3, 1, 2)

    weights = fold(gradients).mean(dim=(2, 3), keepdim=True)  # one weight per channel
    return torch.relu((weights * fold(activations)).sum(dim=1))


# %% tags=["check"]
from helpers.checks import check_token_gradcam

check_token_gradcam(token_gradcam, model, images, targets, vit.gradcam_layer(model), exercise=3)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: why are the maps blocky, and what would make them finer?
# The four token maps of section 7 are made of squares; the IG map is not. Explain where the
# squares come from, what finer token maps would cost, and why IG escapes. Use the numbers
# printed in section 1 and the maps of section 7.

# %% [markdown] tags=["solution"]
# **Model answer.** The squares are the patches: section 1 prints a grid of 8×8 patches of
# 4×4 pixels, 64 patch tokens plus the class token, and every token method gives one value
# per token, so one value per 4×4 square. Finer maps need smaller patches: patches of 2
# pixels would give 256 tokens, and attention compares every token with every other, so its
# cost grows with the square of the number of tokens (about 16 times more per block), besides a
# new training. Upsampling a token map smoothly only blurs the squares; it adds no
# information. IG differentiates the score with respect to each pixel, through the patch
# embedding, so it has one value per pixel (32×32) whatever the patch size.
