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
# # 01 · A small CNN and four ways to explain it
#
# [Open in Colab](https://colab.research.google.com/github/explaining-vision-models/explaining-vision-models/blob/main/notebooks/01_cifar_cnn_captum.ipynb)
#
# *Run time on a 2-core CPU, from the cell timings of the stored run (full quality, other jobs
# on the machine: load average about 2 to 4): 32 s cold (attributions computed, not cached;
# slowest cell 12 s, the four methods of section 5). That run loaded the trained checkpoint, so
# it skipped the training: when no checkpoint exists, training the network, once, adds about
# 28 s on an idle machine. A second run reads the four methods' maps from the cache.*
#
# **What you will learn**

# %% [markdown] slideshow={"slide_type": "subslide"}
# - how to train the small convolutional network of the classic PyTorch CIFAR-10 tutorial
#   (two convolutions, three fully connected layers) and measure it honestly, overall and per class;
# - four attribution methods from [Captum](https://captum.ai): **Saliency**, **Integrated
#   Gradients (IG)**, **IG + SmoothGrad** (`NoiseTunnel`) and **DeepLift**, and what each computes;
# - how to read the maps of the images the model gets **wrong**, with their probabilities;
# - how the **baseline** of IG and DeepLift decides what they can see;
# - IG's **completeness gap**, the check that IG's integral was computed well enough (the course's
#   bar: under 1% of the score change).

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Before you start:** run `make lab` from the project root (it installs everything the first
# time). All settings are in the *Knobs* cell below. The first run trains the network and saves
# a checkpoint; later runs with the same settings load it (`USE_PRETRAINED_MODEL = "auto"`).
#
# > **Offline note.** The notebook asks for CIFAR-10. When CIFAR-10 cannot be downloaded (no
# > internet, or `COURSE_OFFLINE=1`), the course falls back to **Fashion-MNIST** (photos of
# > clothing, also 10 classes) resized to 3×32×32, so the same network trains unchanged. A
# > notice says so, and every number below is measured on the data set actually used.

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
from captum.attr import DeepLift, IntegratedGradients, NoiseTunnel, Saliency
from torch.utils.data import DataLoader, Subset

from helpers import settings
from helpers.cache import cached
from helpers.attribution import adaptive_integrated_gradients
from helpers.data import load_cifar10
from helpers.models import cifar_cnn, load_cifar_cnn, save_checkpoint
from helpers.visualize import plot_attribution_grid

# Captum warns each time it switches on gradients for an input; that is expected here.
warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
warnings.filterwarnings("ignore", message="Setting forward, backward hooks")
print(settings.describe())

# %% [markdown] slideshow={"slide_type": "skip"}
# ## Knobs
# Every setting of the notebook. `knob(full=..., quick=...)` picks the small value when the
# course runs in quick mode (`COURSE_QUICK=1`, as in CI).

# %% slideshow={"slide_type": "skip"}
from helpers.settings import knob

# "auto": load the checkpoint if one was trained with exactly these settings, train otherwise;
# True: always load (error if it is missing or was trained otherwise); False: always train.
USE_PRETRAINED_MODEL = "auto"
EPOCHS = knob(full=4, quick=1)  # passes over the training set
TRAIN_SUBSET = knob(full=None, quick=6000)  # None = all training images
BATCH_SIZE = 32
LEARNING_RATE = 0.01  # SGD with momentum 0.9, as in the PyTorch tutorial
N_CORRECT, N_WRONG = 3, 2  # test images to explain: correctly and wrongly classified
IG_STEPS = knob(full=200, quick=20)  # fixed-grid IG: a quarter per noisy copy of IG + SmoothGrad, all in exercise 1
TARGET_GAP = 0.01  # Integrated Gradients refines its path until the completeness gap is under 1%
NT_SAMPLES = knob(full=50, quick=8)  # noisy copies for SmoothGrad
NT_STDEV = 0.15  # noise standard deviation (images are in [0, 1])
GRAY = 0.5  # the non-black baseline of section 7: a uniform mid-gray image
TOP_FRACTION = 0.1  # section 6: agreement of the methods on their top 10% pixels
SEED = 0
CHECKPOINT = settings.data_dir() / knob(full="cifar_cnn.pt", quick="cifar_cnn_quick.pt")

torch.manual_seed(SEED)
device = settings.pick_device()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The data
# `load_cifar10()` returns the train and test splits as 3×32×32 tensors with values in
# [0, 1], plus the class names. Images stay in [0, 1] throughout the course: each model
# normalises its input in its first layer, so an attribution map lives in plain pixel space
# and a baseline of zeros is simply a black image.

# %%
dataset = load_cifar10()
print(f"data set: {dataset.name} | train: {len(dataset.train)} | test: {len(dataset.test)}")
print("classes:", ", ".join(dataset.classes))

# %%
# NBVAL_CHECK_OUTPUT
image, label = dataset.test[0]
print(f"{len(dataset.classes)} classes, images of shape {tuple(image.shape)}, values in [0, 1]: "
      f"{bool(image.min() >= 0 and image.max() <= 1)}")

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(2, 8, figsize=(12, 3.4))
for ax, index in zip(axes.flat, range(16)):
    image, label = dataset.train[index]
    ax.imshow(image.permute(1, 2, 0).numpy())
    ax.set_title(dataset.classes[label], fontsize=9)
    ax.axis("off")
fig.suptitle(f"The first training images of {dataset.name}")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The model
# The network of the PyTorch tutorial: two blocks of convolution → ReLU → max-pooling, then
# three fully connected layers ending in 10 class scores (*logits*). Each ReLU is its own
# module; DeepLift needs that, because it replaces every nonlinearity's gradient by its own
# rule. A `Normalize` layer in front maps [0, 1] pixels to [-1, 1].

# %% slideshow={"slide_type": "subslide"}
model = cifar_cnn(len(dataset.classes)).to(device)
print(model)
print(f"trainable parameters: {sum(p.numel() for p in model.parameters()):,}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Training (or loading the checkpoint)
# Cross-entropy loss, SGD with momentum, one progress bar per epoch. The checkpoint records
# the data set and every training setting; with `USE_PRETRAINED_MODEL = "auto"` a second run
# with the same settings loads it instead of training again: the cell below then prints the
# checkpoint's test accuracy instead of the training time and the loss curve.

# %% slideshow={"hide_input": true}
TRAINING = {"dataset": dataset.name, "epochs": EPOCHS, "train_subset": TRAIN_SUBSET,
            "batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE, "seed": SEED}


def train(model, data, epochs):
    """Train ``model`` in place with SGD; return it in eval mode and the loss of every batch."""
    loader = DataLoader(data, batch_size=BATCH_SIZE, shuffle=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.9)
    losses = []
    model.train()
    for epoch in range(epochs):
        bar = settings.progress(loader, desc=f"epoch {epoch + 1}/{epochs}", mininterval=1)
        for images, labels in bar:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(images.to(device)), labels.to(device))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) % 100 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-100:]):.3f}")
    return model.eval(), losses


def should_load(path, choice, training):
    """True to load the checkpoint at ``path``, False to train (``choice``: "auto", True, False)."""
    if choice not in ("auto", True, False):
        raise ValueError(f'USE_PRETRAINED_MODEL must be "auto", True or False, not {choice!r}.')
    if choice is False or (choice == "auto" and not path.is_file()):
        return False
    saved = load_cifar_cnn(path)[1].get("training")
    if saved != training and choice is True:
        raise ValueError(f"{settings.display_path(path)} was trained with {saved}, not with {training}: "
                         'set USE_PRETRAINED_MODEL = "auto" or False to train again.')
    return saved == training


trained = not should_load(CHECKPOINT, USE_PRETRAINED_MODEL, TRAINING)
if not trained:
    model, meta = load_cifar_cnn(CHECKPOINT)
    model = model.to(device)
    print(f"loaded {settings.display_path(CHECKPOINT)} (trained on {meta['dataset']}, "
          f"test accuracy {meta['accuracy']:.1%}); set USE_PRETRAINED_MODEL = False to train again")
else:
    train_data = dataset.train if TRAIN_SUBSET is None else Subset(dataset.train, range(TRAIN_SUBSET))
    start = time.time()
    model, losses = train(model, train_data, EPOCHS)
    print(f"trained on {len(train_data)} images for {EPOCHS} epoch(s) in {time.time() - start:.0f} s")
    smooth = np.convolve(losses, np.ones(50) / 50, mode="valid")
    plt.figure(figsize=(7, 3))
    plt.plot(smooth)
    plt.xlabel("training step (batches)")
    plt.ylabel("cross-entropy loss (moving average of 50)")
    plt.title("Training loss")
    plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. How good is it? Accuracy overall and per class
# Always look at the per-class numbers: an average hides the classes the model confuses.

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
@torch.no_grad()
def predict_all(model, data):
    """Predicted and true labels of every image in ``data``."""
    predictions, labels = [], []
    for images, batch_labels in DataLoader(data, batch_size=256):
        predictions.append(model(images.to(device)).argmax(dim=1).cpu())
        labels.append(batch_labels)
    return torch.cat(predictions), torch.cat(labels)


predictions, labels = predict_all(model, dataset.test)
accuracy = (predictions == labels).float().mean().item()
per_class = [(predictions[labels == k] == k).float().mean().item() for k in range(len(dataset.classes))]
print(f"test accuracy on {len(labels)} {dataset.name} images: {accuracy:.1%} (chance: {1 / len(dataset.classes):.0%})")
for name, value in zip(dataset.classes, per_class):
    print(f"  {name:>12}: {value:6.1%}")

fig, ax = plt.subplots(figsize=(8, 3))
ax.bar(dataset.classes, per_class, color="tab:blue")
ax.axhline(accuracy, color="black", linestyle="--", label=f"overall {accuracy:.1%}")
ax.set_ylim(0, 1)
ax.set_ylabel("test accuracy")
ax.set_title(f"Per-class test accuracy on {dataset.name}")
ax.legend(loc="lower right")
plt.xticks(rotation=30)
plt.show()

if trained:
    save_checkpoint(model, CHECKPOINT, dataset=dataset.name, classes=dataset.classes, accuracy=accuracy,
                    training=TRAINING)
    print(f"checkpoint saved to {settings.display_path(CHECKPOINT)}")

# %% slideshow={"slide_type": "subslide"}
# NBVAL_CHECK_OUTPUT
print(f"better than chance (10%): {accuracy > 0.15}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Four attribution methods
# Each method answers *which input pixels mattered for the score $F_c(x)$ of class $c$?*
#
# | method | what it computes | baseline? |
# |---|---|---|
# | **Saliency** | $\lvert \partial F_c / \partial x_i \rvert$: how sensitive the score is to each pixel, at $x$ only | no |
# | **Integrated Gradients** | $(x_i - x'_i)\int_0^1 \partial F_c(x' + \alpha(x - x'))/\partial x_i\, d\alpha$: gradients averaged along a straight path from a baseline $x'$ to $x$ | yes (black image) |
# | **IG + SmoothGrad** | IG computed on noisy copies $x + \varepsilon$, $\varepsilon \sim \mathcal N(0, \sigma^2)$, and averaged (`NoiseTunnel`, `smoothgrad`) | yes (black image) |
# | **DeepLift** | backpropagates the difference $F_c(x) - F_c(x')$ with a rule per nonlinearity (*rescale*) instead of gradients | yes (black image) |

# %% [markdown] slideshow={"slide_type": "subslide"}
# Saliency is the cheapest (one backward pass). IG and DeepLift *distribute* the change in
# the score between the baseline and the image over the pixels. DeepLift does it with one
# modified backward pass; IG with many gradients along the path: here
# `adaptive_integrated_gradients` places them where the integrand changes fastest and stops when
# the maps add up to the score change within 1% (section 9 explains the check). IG + SmoothGrad
# uses Captum's fixed grid of `IG_STEPS // 4` points for each noisy copy.
#
# We explain a few test images the model got right and a few it got wrong, always for the
# class the model **predicted**: the question is *why did it say that?*
#
# The cell below prints, for each IG map, the gradients it took and its completeness gap (all
# under 1% in the stored run). IG + SmoothGrad is **not** held to that bar here, and the last
# line says by how much it misses: each of its `NT_SAMPLES` noisy copies gets only
# `IG_STEPS // 4` points, to keep the cell fast (in the stored run the worst copy of each image
# misses its own score change by 1.3% to 3.8%). Averaging many copies is what SmoothGrad is for;
# read that column as a smoothed picture of IG, not as an exact decomposition of the score.

# %% slideshow={"slide_type": "subslide"}
correct = torch.nonzero(predictions == labels).flatten()[:N_CORRECT].tolist()
wrong = torch.nonzero(predictions != labels).flatten()[:N_WRONG].tolist()
chosen = correct + wrong
images = torch.stack([dataset.test[i][0] for i in chosen]).to(device)
targets = predictions[chosen].to(device)
with torch.no_grad():
    probabilities = torch.softmax(model(images), dim=1)
row_titles = [
    f"true: {dataset.classes[labels[i]]}\npred: {dataset.classes[predictions[i]]} "
    f"({probabilities[n, predictions[i]]:.0%})"
    for n, i in enumerate(chosen)
]
print("\n".join(t.replace("\n", " | ") for t in row_titles))

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
@cached
def four_methods(model, images, targets, baseline, target_gap, ig_steps, nt_samples, nt_stdev, seed):
    """Saliency, converged IG (and its info), IG + SmoothGrad (and each noisy copy's delta), DeepLift."""
    torch.manual_seed(seed)  # the noisy copies of SmoothGrad
    saliency = Saliency(model).attribute(images, target=targets)
    ig_maps, ig_info = adaptive_integrated_gradients(model, images, targets, baseline=baseline, target_gap=target_gap)
    ig_smooth, smooth_delta = NoiseTunnel(IntegratedGradients(model)).attribute(
        images, baselines=baseline, target=targets, n_steps=ig_steps // 4, method="gausslegendre",
        nt_type="smoothgrad", nt_samples=nt_samples, stdevs=nt_stdev, nt_samples_batch_size=nt_samples,
        return_convergence_delta=True)
    deeplift = DeepLift(model).attribute(images, baselines=baseline, target=targets)
    return saliency, ig_maps, ig_info, ig_smooth.detach(), smooth_delta.detach(), deeplift.detach()


black = torch.zeros_like(images)  # the baseline of this section: a black image
start = time.time()
saliency, ig_maps, ig_info, ig_smooth, smooth_delta, deeplift = four_methods(
    model, images, targets, black, TARGET_GAP, IG_STEPS, NT_SAMPLES, NT_STDEV, SEED)
print(f"four methods on {len(images)} images in {time.time() - start:.1f} s (cached after the first run)")
with torch.no_grad():
    change_black = (model(images) - model(black))[torch.arange(len(images)), targets].cpu()
for title, steps, gap in zip(row_titles, ig_info["steps"], ig_info["gap"]):
    print(f"  IG, {title.splitlines()[1]:>22}: {int(steps):3d} gradients, completeness gap {gap:.2%}")
smooth_gap = smooth_delta.detach().abs().cpu().view(len(images), -1).max(dim=1).values / change_black.abs()
print(f"IG + SmoothGrad: largest completeness gap of one noisy copy, per image: "
      f"{', '.join(f'{value:.1%}' for value in smooth_gap)} (of the image's own F(x) - F(x'))")

# %%
# NBVAL_CHECK_OUTPUT
print("every map has its image's shape:",
      all(m.shape == images.shape for m in (saliency, ig_maps, ig_smooth, deeplift)))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. The maps, side by side
# Saliency is a magnitude (blue: larger). IG, IG + SmoothGrad and DeepLift are signed:
# **green: for the class** (the pixel pushed the predicted class's score up), **red: against**
# (it pushed the score down). Each map is drawn over a gray copy of the image with its
# opacity following |value|: zero is transparent, so a bright garment never passes for "no
# attribution". The course draws every map the same way
# (`helpers.visualize.display_map`): colour channels summed, values capped at the 99th
# percentile of |value| so a few extreme pixels do not wash out the rest, then each map scaled
# on its own: compare *where* each map is bright, not how bright across maps.

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
SIGNED = {"Integrated Gradients": "all", "IG + SmoothGrad": "all", "DeepLift": "all"}
maps = {
    "Saliency": list(saliency),
    "Integrated Gradients": list(ig_maps),
    "IG + SmoothGrad": list(ig_smooth),
    "DeepLift": list(deeplift),
}
fig = plot_attribution_grid(
    list(images), maps, row_titles, signs=SIGNED,
    title=f"Why did the CNN predict what it predicted? ({dataset.name}; black baseline; "
          f"last {N_WRONG} rows are mistakes)",
)
plt.show()

# %% [markdown]
# **How much do the methods agree?** Rather than judge by eye, count it: for each image and
# each pair of methods, the share of one method's top 10% pixels (by |attribution|, summed
# over the colour channels) that are also in the other's top 10%. Two unrelated maps would
# share about 10%.

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
def top_pixels(attribution, fraction):
    """A boolean (N, H*W) mask of each map's ``fraction`` of pixels with the largest |attribution|."""
    scores = attribution.abs().sum(dim=1).flatten(1)
    k = max(1, int(fraction * scores.shape[1]))
    mask = torch.zeros_like(scores, dtype=torch.bool)
    return mask.scatter_(1, scores.topk(k, dim=1).indices, True)


def agreement_table(maps, fraction):
    """Mean overlap of the top-``fraction`` pixels for every pair of methods (a DataFrame)."""
    tops = {name: top_pixels(torch.stack(values).cpu(), fraction) for name, values in maps.items()}
    return pd.DataFrame({a: {b: (tops[a] & tops[b]).sum(1).float().mean().item() / tops[a].sum(1).float().mean().item()
                             for b in tops} for a in tops}).round(2)


agreement = agreement_table(maps, TOP_FRACTION)
pairs = [(agreement.loc[a, b], a, b) for i, a in enumerate(agreement) for b in list(agreement)[i + 1:]]
(high, *most), (low, *least) = max(pairs), min(pairs)
print(f"most similar: {' and '.join(most)} ({high:.2f}) | least similar: {' and '.join(least)} ({low:.2f}) | "
      f"two unrelated maps: about {TOP_FRACTION:.2f}")
agreement

# %% [markdown]
# **Reading the maps and the table.** The line above names the pair of methods that agree
# most and the pair that agree least; a share well above 0.1 means two maps point at the
# same pixels. In the stored run (Fashion-MNIST) the figure shows it: IG, IG + SmoothGrad and
# DeepLift put their green and red on the same strokes of each garment; IG and DeepLift leave
# the black background transparent, IG + SmoothGrad nearly so (faint specks: its noisy copies
# are not black), while Saliency's blue is spread over the whole square, the
# background and the dark openings included (the shoe's opening in row 4, the gap between the
# trouser legs in row 3). Saliency measures sensitivity at $x$ only, so it can highlight
# pixels that IG and DeepLift, which weigh each pixel by its difference from the baseline, set
# to exactly zero (section 8).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Working through the two mistakes
# The last two rows are images the model got wrong. First the numbers: how sure was the
# model, and where does the true class rank? Then a question the figure raises: on
# Fashion-MNIST, an object's own dark parts (the opening of a shoe, the gap between trouser
# legs) are exactly black. The cell counts those *enclosed* black pixels (black pixels with
# object pixels left and right of them on the same row) and compares what Saliency and IG put
# there.

# %% slideshow={"hide_input": true}
def enclosed_black(image):
    """(H, W) mask of the exactly black pixels that lie between object pixels on the same row."""
    black_pixel = (image == 0).all(dim=0)
    columns = torch.arange(black_pixel.shape[1], device=image.device)
    inside = torch.zeros_like(black_pixel)
    for row, row_black in enumerate(black_pixel):
        object_columns = columns[~row_black]
        if len(object_columns):
            inside[row] = row_black & (columns > object_columns.min()) & (columns < object_columns.max())
    return inside


for n in range(N_CORRECT, len(chosen)):
    i = chosen[n]
    assert predictions[i] != labels[i], f"test image {i} is shown as a mistake but was classified correctly"
    top = probabilities[n].topk(3)
    ranks = ", ".join(f"{dataset.classes[k]} {p:.1%}" for p, k in zip(top.values.tolist(), top.indices.tolist()))
    rank_true = int((probabilities[n] > probabilities[n, labels[i]]).sum()) + 1
    print(f"test image {i}: true {dataset.classes[labels[i]]}, predicted {dataset.classes[predictions[i]]} | "
          f"top 3: {ranks} | the true class ranks {rank_true} ({probabilities[n, labels[i]]:.1%})")
    inside = enclosed_black(images[n])
    if inside.any():
        per_pixel = saliency[n].sum(dim=0)
        assert not ig_maps[n][:, inside].any() and not deeplift[n][:, inside].any(), "black pixels must get 0"
        print(f"    {int(inside.sum())} enclosed black pixels: Saliency there {per_pixel[inside].mean() / per_pixel.mean():.2f}x "
              f"its mean per pixel; IG and DeepLift there: {ig_maps[n][:, inside].abs().sum():.1f} and "
              f"{deeplift[n][:, inside].abs().sum():.1f} (exactly zero: black baseline)")
    else:
        print("    no enclosed black pixels")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **What the numbers and the figure say (stored run, Fashion-MNIST).** The first mistake is an
# *ankle boot* called a *sandal* with 99.9% probability; the true class is second with 0.1%. It
# is a confident mistake, not a hesitation. The boot's wide dark opening is 44 enclosed black
# pixels, and Saliency is 1.74 times as strong there as on its average pixel: the model's sandal
# score is sensitive to the very region that looks like an open sandal. IG and DeepLift cannot
# show that, since from a black baseline every black pixel gets exactly zero; their row shows
# green on the strap above the opening and in patches on the lower half, red beside the
# opening and at the heel. From a gray baseline they can, and section 8's figure shows it:
# there, IG and DeepLift put their strongest green for *sandal* inside the opening. The second
# mistake is a *coat* called a *pullover* with 57.5%, the true class second with 33.3%: two
# garments of the same shape, and the model hesitates between them. Its IG and DeepLift maps
# show green on vertical strokes near the left edge of the body and red strokes down the
# middle, where a coat opens.
# A map for *pullover* shows what raised that score, not why *coat* lost: that needs the
# margin between the two scores explained, which is exercise 3.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. The baseline decides what IG and DeepLift can see
# Both methods multiply by $x_i - x'_i$. With a black baseline ($x' = 0$), **every pixel that
# is black in the image gets an attribution of exactly zero**, however much the model relies
# on it. How many pixels is that here? The cell counts them, then recomputes IG and DeepLift
# from a uniform gray image (`GRAY`), for which a black pixel is a change like any other.

# %% slideshow={"slide_type": "subslide"}
gray = torch.full_like(images, GRAY)
ig_gray, ig_gray_info = adaptive_integrated_gradients(model, images, targets, baseline=gray, target_gap=TARGET_GAP)
deeplift_gray = DeepLift(model).attribute(images, baselines=gray, target=targets)
is_black = (images == 0).cpu()
print(f"pixels (x channels) that are exactly black: {is_black.float().mean():.1%}")
for name, values in {"IG, black baseline": ig_maps, "DeepLift, black baseline": deeplift,
                     "IG, gray baseline": ig_gray, "DeepLift, gray baseline": deeplift_gray}.items():
    zero = (values.cpu()[is_black] == 0).float().mean().item() if is_black.any() else float("nan")
    print(f"{name:>25}: {zero:6.1%} of the black pixels get exactly 0 | share of the total |attribution| "
          f"on black pixels: {values.abs().cpu()[is_black].sum() / values.abs().sum():.1%}")

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
fig = plot_attribution_grid(
    list(images),
    {"IG, black": list(ig_maps), f"IG, gray {GRAY}": list(ig_gray),
     "DeepLift, black": list(deeplift), f"DeepLift, gray {GRAY}": list(deeplift_gray)},
    row_titles, signs={name: "all" for name in ["IG, black", f"IG, gray {GRAY}", "DeepLift, black",
                                                f"DeepLift, gray {GRAY}"]},
    title="The same model, two baselines (green: for the class, red: against)",
)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **What changed.** The first line above says how much of the five images is pure black
# (47.8% of their pixel values in the run stored here, on Fashion-MNIST's black backgrounds).
# With the black baseline all of those pixels get exactly zero; with the gray one they carry
# almost half of the total |attribution| (45.6% for IG, 44.8% for DeepLift in the stored run),
# shown in the last column of the printed lines. In the figure, the gray-baseline columns
# colour the background around each garment and the openings inside it (the strongest green
# for *sandal* sits inside the boot's opening, row 4), all of which stay transparent (zero) in
# the black-baseline columns.
# Neither map is "the" truth: each answers *what made the score differ from that of the
# baseline image?*, so choose the baseline that means "no evidence" for your data.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. IG's completeness gap
# IG satisfies **completeness**: the attributions add up to the change in the score,
# $\sum_i \mathrm{IG}_i(x) = F_c(x) - F_c(x')$. The integral is computed from a finite number
# of gradients, so the sum misses by a small amount (Captum calls it the *convergence delta*).
# The course reports it relative to the score change, the *completeness gap*, and shows or
# scores an IG map only when the gap is under 1%. `adaptive_integrated_gradients` adds
# gradients along the path until that holds; the cell prints, for both baselines, the score
# change, the gap reached and how many gradients it took.

# %% slideshow={"slide_type": "subslide"}
with torch.no_grad():
    rows = torch.arange(len(images))
    score = model(images)[rows, targets]
    change = {"black": (score - model(black)[rows, targets]).cpu(),
              "gray": (score - model(gray)[rows, targets]).cpu()}
infos = {"black": ig_info, "gray": ig_gray_info}
for name in ("black", "gray"):
    print(f"baseline {name}:")
    for title, c, steps, gap in zip(row_titles, change[name], infos[name]["steps"], infos[name]["gap"]):
        print(f"  {title.splitlines()[1]:>22}: F(x) - F(x') = {c:7.3f} | completeness gap {gap:.2%} "
              f"after {int(steps)} gradients")

# %% slideshow={"slide_type": "subslide"}
# NBVAL_CHECK_OUTPUT
print(f"every IG map shown has a completeness gap under {TARGET_GAP:.0%}:",
      all(bool((infos[n]["gap"] < TARGET_GAP).all()) for n in infos))

# %% [markdown]
# **Reading it.** In the stored run every IG map reached the bar with 57 to 121 gradients, its
# gap between 0.01% and 0.85%, for both baselines; the line above is checked on every run.
# Exercise 1 compares this bookkeeping with DeepLift's.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A two-conv, three-fc network reaches the accuracy printed in section 4 on the data set in
#   use; the per-class chart shows which classes it struggles with.
# - **Saliency** is one gradient: sensitivity at $x$. **Integrated Gradients** integrates
#   gradients from a baseline, and its attributions add up to the score change
#   (completeness); its **completeness gap** says whether enough gradients were taken (the
#   course's bar: under 1%). **IG + SmoothGrad** averages IG over noisy copies. **DeepLift**
#   distributes the same score change with one modified backward pass.
# - A mistake is read with its probabilities: a confident one (99.9% in the stored run) and a
#   hesitant one (57.5% against 33.3%) are different stories. A map for the predicted class says
#   what supports it, not why the true class lost.
# - The baseline is part of the question: a black baseline gives black pixels exactly zero.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# Exercises 1 to 3 are checked automatically: do what the cell asks, then run the check cell
# below it. Exercise 1 asks for a prediction *before* you run anything, exercise 2 hands you
# broken code to fix, exercise 3 asks for a method the lecture did not show. Exercise 4 is an
# open question; its model answer follows it in the solution edition.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1 (predict): which sum is more exact, IG's or DeepLift's?
# Both IG and DeepLift claim completeness: their maps add up to $F_c(x) - F_c(x')$. Captum's IG
# approximates an integral with `IG_STEPS` points (Gauss-Legendre); DeepLift makes one
# backward pass with its own rules. On the five images of section 5, from the black baseline,
# which one's sum comes closer to $F_c(x) - F_c(x')$: `"IG"`, `"DeepLift"` (each at least ten
# times closer than the other), or `"equal"`? Write your answer **before** running the check: it
# runs both methods, prints the gaps and explains the outcome either way.

# %% tags=["solution"]
# Exercise 1 (predict): predict which of IG and DeepLift adds up more exactly to F(x) - F(x')
prediction = "DeepLift"

# %% tags=["check"]
from helpers.checks import check_completeness_prediction

check_completeness_prediction(prediction, model, images, targets, n_steps=IG_STEPS, exercise=1)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2 (debug): the true class of a mistake
# To see what the model found of the *true* class in the images it got wrong, a colleague
# wrote Integrated Gradients by hand (midpoint rule, `n_steps` points on the straight path
# from `baseline`) and ran it with `targets` set to the true labels. The maps look just like
# the maps of the predicted class. The check explains the true class of the five images of
# section 5 from a black baseline and tests completeness. Run it, read its hint, then find and
# fix the bug (one line).

# %% tags=["solution"]
# Exercise 2 (debug): fix integrated_gradients_by_hand so that it explains the class in targets
def integrated_gradients_by_hand(model, images, targets, baseline, n_steps):
    """IG of each image for its class in ``targets``, from ``baseline``, with ``n_steps`` midpoints."""
    total = torch.zeros_like(images)
    for alpha in (torch.arange(n_steps, device=images.device) + 0.5) / n_steps:
        path = (baseline + alpha * (images - baseline)).requires_grad_(True)
        score = model(path).gather(1, targets[:, None]).sum()  # planted bug: score = model(path).max(dim=1).values.sum()
        total += torch.autograd.grad(score, path)[0]
    return (images - baseline) * total / n_steps


# %% tags=["check"]
from helpers.checks import check_ig_debugged

check_ig_debugged(integrated_gradients_by_hand, model, images, labels[chosen], predictions[chosen], exercise=2)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3 (extend): why this class and not the true one?
# A map for the predicted class $p$ says what supports $p$; for a mistake the question is
# *why $p$ and not the true class $t$?* Write `why_not(model, images, predicted, true,
# baseline)`: Integrated Gradients of the **margin** $F_p(x) - F_t(x)$, one map per image. The
# check runs it on the two mistakes of section 7 from a black baseline and verifies
# completeness for the margin, within the course's 1% bar:
# $\sum_i \text{map}_i = [F_p(x) - F_t(x)] - [F_p(x') - F_t(x')]$. Hints: IG explains any
# function of the image that returns one number per image, and a small `torch.nn.Module` can
# wrap the model into that function; `adaptive_integrated_gradients` then takes it like any
# model (it is called with one image's path points at a time, so build the wrapper for one
# image and loop over the images). A margin can be much smaller than either score, so its
# integral needs care.

# %% tags=["solution"]
# Exercise 3 (extend): write why_not, Integrated Gradients of the margin F_predicted - F_true
def why_not(model, images, predicted, true, baseline):
    """IG of F_predicted(x) - F_true(x) from ``baseline``, converged: why this class and not the true one."""

    class Margin(torch.nn.Module):  # the margin of one pair of classes, as a model with a single output
        def __init__(self, p, t):
            super().__init__()
            self.model, self.p, self.t = model, int(p), int(t)

        def forward(self, inputs):
            scores = self.model(inputs)
            return scores[:, [self.p]] - scores[:, [self.t]]

    return torch.cat([adaptive_integrated_gradients(Margin(p, t), x[None], 0, baseline=b[None],
                                                    target_gap=TARGET_GAP / 2)[0]
                      for x, p, t, b in zip(images, predicted, true, baseline)])


# %% tags=["check"]
from helpers.checks import check_why_not

mistakes = slice(N_CORRECT, None)
check_why_not(why_not, model, images[mistakes], targets[mistakes], labels[chosen][mistakes].to(device),
              exercise=3)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: What does a zero on the black background mean?
# In section 8, IG and DeepLift from a black baseline give every black pixel of the image an
# attribution of exactly zero. Does that show that the model ignores those pixels? Use the
# Saliency column, the numbers of section 7 and the gray-baseline maps in your answer, and say
# which baseline you would choose for a data set of objects on a black background.

# %% [markdown] tags=["solution"]
# **Model answer.** No. The zero comes from the factor $x_i - x'_i$, not from the model: a
# pixel that equals the baseline did not *change* along the path, so completeness gives it
# nothing, however large its gradient. Saliency, which has no baseline, is strong on black
# pixels: on the boot called a sandal (section 7, stored run) it is 1.74 times its average on
# the 44 black pixels of the shoe's opening, where IG and DeepLift print 0.0. With the gray
# baseline the black pixels carry almost half of the attribution (section 8 prints 45.6% for IG):
# the dark background and the openings outline the garment's silhouette, which the model uses.
# Each baseline asks a different question ("compared with an empty image?"); for objects on
# black, a gray, blurred or averaged baseline (or several baselines averaged) avoids declaring
# the background irrelevant by construction.
