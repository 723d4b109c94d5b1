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
# # 01 · A small CNN and four ways to explain it
#
# **What you will learn**
#
# - how to train the small convolutional network of the classic PyTorch CIFAR-10 tutorial
#   (two convolutions, three fully connected layers) and measure it honestly, overall and per class;
# - four attribution methods from [Captum](https://captum.ai): **Saliency**, **Integrated
#   Gradients (IG)**, **IG + SmoothGrad** (`NoiseTunnel`) and **DeepLift**, and what each of
#   them computes;
# - how to read attribution maps laid over the images, for correct *and* wrong predictions;
# - IG's **convergence delta**, a built-in check of how well IG's integral was approximated.
#
# **Before you start:** run `make lab` from the project root (it installs everything the first
# time). All settings are in the *Knobs* cell below. The notebook runs in about two minutes on
# a laptop CPU.
#
# > **Offline note.** The notebook asks for CIFAR-10. When CIFAR-10 cannot be downloaded (no
# > internet, or `COURSE_OFFLINE=1`), the course falls back to **Fashion-MNIST** (photos of
# > clothing, also 10 classes) resized to 3×32×32, so the same network trains unchanged. A
# > notice says so, and every number below is measured on the data set actually used.

# %%
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from captum.attr import DeepLift, IntegratedGradients, NoiseTunnel, Saliency
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from helpers import settings
from helpers.data import load_cifar10
from helpers.models import cifar_cnn, load_cifar_cnn, save_checkpoint
from helpers.visualize import plot_attribution_grid

# Captum warns each time it switches on gradients for an input; that is expected here.
warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
warnings.filterwarnings("ignore", message="Setting forward, backward hooks")
print(settings.describe())

# %% [markdown]
# ## Knobs
# Every setting of the notebook. `knob(full=..., quick=...)` picks the small value when the
# course runs in quick mode (`COURSE_QUICK=1`, as in CI).

# %%
from helpers.settings import knob

USE_PRETRAINED_MODEL = False  # True: load the checkpoint saved by an earlier run instead of training
EPOCHS = knob(full=4, quick=1)  # passes over the training set
TRAIN_SUBSET = knob(full=None, quick=6000)  # None = all training images
BATCH_SIZE = 32
LEARNING_RATE = 0.01  # SGD with momentum 0.9, as in the PyTorch tutorial
N_CORRECT, N_WRONG = 3, 2  # test images to explain: correctly and wrongly classified
IG_STEPS = knob(full=200, quick=20)  # integration steps of Integrated Gradients
NT_SAMPLES = knob(full=50, quick=8)  # noisy copies for SmoothGrad
NT_STDEV = 0.15  # noise standard deviation (images are in [0, 1])
SEED = 0
CHECKPOINT = settings.data_dir() / knob(full="cifar_cnn.pt", quick="cifar_cnn_quick.pt")

torch.manual_seed(SEED)
device = settings.pick_device()

# %% [markdown]
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

# %%
fig, axes = plt.subplots(2, 8, figsize=(12, 3.4))
for ax, index in zip(axes.flat, range(16)):
    image, label = dataset.train[index]
    ax.imshow(image.permute(1, 2, 0).numpy())
    ax.set_title(dataset.classes[label], fontsize=9)
    ax.axis("off")
fig.suptitle(f"The first training images of {dataset.name}")
plt.show()

# %% [markdown]
# ## 2. The model
# The network of the PyTorch tutorial: two blocks of convolution → ReLU → max-pooling, then
# three fully connected layers ending in 10 class scores (*logits*). Each ReLU is its own
# module; DeepLift needs that, because it replaces every nonlinearity's gradient by its own
# rule. A `Normalize` layer in front maps [0, 1] pixels to [-1, 1].

# %%
model = cifar_cnn(len(dataset.classes)).to(device)
print(model)
print(f"trainable parameters: {sum(p.numel() for p in model.parameters()):,}")

# %% [markdown]
# ## 3. Training (or loading a checkpoint)
# Cross-entropy loss, SGD with momentum. With `USE_PRETRAINED_MODEL = True` the checkpoint
# of an earlier run is loaded instead; it records which data set it was trained on.

# %%
def train(model, data, epochs):
    loader = DataLoader(data, batch_size=BATCH_SIZE, shuffle=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.9)
    losses = []
    model.train()
    for epoch in range(epochs):
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", mininterval=1)
        for images, labels in bar:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(images.to(device)), labels.to(device))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) % 100 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-100:]):.3f}")
    return model.eval(), losses


if USE_PRETRAINED_MODEL:
    model, meta = load_cifar_cnn(CHECKPOINT)
    model = model.to(device)
    if meta["dataset"] != dataset.name:
        raise ValueError(f"{CHECKPOINT} was trained on {meta['dataset']}, but the data set now is {dataset.name}.")
    print(f"loaded {CHECKPOINT} (trained on {meta['dataset']}, test accuracy {meta['accuracy']:.1%})")
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

# %% [markdown]
# ## 4. How good is it? Accuracy overall and per class
# Always look at the per-class numbers: an average hides the classes the model confuses.

# %%
@torch.no_grad()
def predict_all(model, data):
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

if not USE_PRETRAINED_MODEL:
    save_checkpoint(model, CHECKPOINT, dataset=dataset.name, classes=dataset.classes, accuracy=accuracy)
    print(f"checkpoint saved to {CHECKPOINT}")

# %%
# NBVAL_CHECK_OUTPUT
print(f"better than chance (10%): {accuracy > 0.15}")

# %% [markdown]
# ## 5. Four attribution methods
# Each method answers *which input pixels mattered for the score $F_c(x)$ of class $c$?*
#
# | method | what it computes | baseline? |
# |---|---|---|
# | **Saliency** | $\lvert \partial F_c / \partial x_i \rvert$: how sensitive the score is to each pixel, at $x$ only | no |
# | **Integrated Gradients** | $(x_i - x'_i)\int_0^1 \partial F_c(x' + \alpha(x - x'))/\partial x_i\, d\alpha$: gradients averaged along a straight path from a baseline $x'$ to $x$ | yes (black image) |
# | **IG + SmoothGrad²** | IG computed on noisy copies $x + \varepsilon$, $\varepsilon \sim \mathcal N(0, \sigma^2)$, squared and averaged (`NoiseTunnel`, `smoothgrad_sq`) | yes |
# | **DeepLift** | backpropagates the difference $F_c(x) - F_c(x')$ with a rule per nonlinearity (*rescale*) instead of gradients | yes (black image) |
#
# Saliency is the cheapest (one backward pass) and the noisiest. IG and DeepLift *distribute*
# the change in the score between the baseline and the image over the pixels; IG does it with
# `IG_STEPS` gradient evaluations, DeepLift with one modified backward pass.
#
# We explain a few test images the model got right and a few it got wrong, always for the
# class the model **predicted**: the question is *why did it say that?*

# %%
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

# %%
baseline = torch.zeros_like(images)  # a black image
start = time.time()
saliency = Saliency(model).attribute(images, target=targets)
ig = IntegratedGradients(model)
ig_maps, delta = ig.attribute(images, baselines=baseline, target=targets, n_steps=IG_STEPS,
                              method="gausslegendre", return_convergence_delta=True)
ig_smooth = NoiseTunnel(ig).attribute(images, baselines=baseline, target=targets, n_steps=IG_STEPS // 4,
                                      nt_type="smoothgrad_sq", nt_samples=NT_SAMPLES, stdevs=NT_STDEV,
                                      nt_samples_batch_size=NT_SAMPLES)
deeplift = DeepLift(model).attribute(images, baselines=baseline, target=targets)
print(f"four methods on {len(images)} images in {time.time() - start:.1f} s")

# %%
# NBVAL_CHECK_OUTPUT
print("every map has its image's shape:",
      all(m.shape == images.shape for m in (saliency, ig_maps, ig_smooth, deeplift)))

# %% [markdown]
# ## 6. The maps, side by side
# Saliency and SmoothGrad² are magnitudes (blue: larger). IG and DeepLift are signed:
# **red** pixels pushed the predicted class's score up, **blue** pixels pushed it down.
# Captum's `visualize_image_attr` clips the top 2% of values so a few extreme pixels do not
# wash out the rest.

# %%
maps = {
    "Saliency": list(saliency),
    "Integrated Gradients": list(ig_maps),
    "IG + SmoothGrad²": list(ig_smooth),
    "DeepLift": list(deeplift),
}
fig = plot_attribution_grid(
    list(images), maps, row_titles,
    signs={"Integrated Gradients": "all", "DeepLift": "all"},
    title=f"Why did the CNN predict what it predicted? ({dataset.name}; last {N_WRONG} rows are mistakes)",
)
plt.show()

# %% [markdown]
# **Reading the maps.** Look for agreement first: where all four methods light up the same
# region (the object's outline, a distinctive texture), the evidence is robust. Saliency is
# speckled because a single gradient reacts to every tiny local change; SmoothGrad averages
# that noise away. On the misclassified rows, ask whether the highlighted region would also
# be typical of the *predicted* class: that is often the story of the mistake.
#
# ## 7. IG's convergence delta
# IG satisfies **completeness**: the attributions add up to the change in the score,
# $\sum_i \mathrm{IG}_i(x) = F_c(x) - F_c(x')$. The integral is approximated with `IG_STEPS`
# points, so the sum misses by a small amount, the *convergence delta*. A delta that is
# small compared with $F_c(x) - F_c(x')$ tells you the approximation is good; a large one
# says: use more steps.

# %%
with torch.no_grad():
    rows = torch.arange(len(images))
    score_change = (model(images)[rows, targets] - model(baseline)[rows, targets]).cpu()
for title, change, d in zip(row_titles, score_change, delta.cpu()):
    print(f"{title.splitlines()[1]:>28}: F(x) - F(x') = {change:7.3f} | delta = {d: .2e} "
          f"({abs(d) / abs(change):.2%} of it)")

# %%
# NBVAL_CHECK_OUTPUT
print("every delta under 5% of the score change:", bool((delta.abs().cpu() < 0.05 * score_change.abs()).all()))

# %% [markdown]
# ## Summary
#
# - A two-conv, three-fc network reaches the accuracy printed above on the data set in use;
#   the per-class chart shows which classes it struggles with.
# - **Saliency** is one gradient: fast but noisy. **Integrated Gradients** integrates gradients
#   from a baseline and its attributions add up to the score change (completeness), checked
#   by the **convergence delta**. **SmoothGrad** averages over noisy copies to remove speckle.
#   **DeepLift** gets IG-like maps from one modified backward pass.
# - Explaining mistakes is as instructive as explaining successes.
#
# ## Exercises
#
# 1. Set `IG_STEPS` to 5, 20 and 500 and watch the convergence deltas. How many steps does
#    this small network need for a delta under 1% of the score change?
# 2. Replace the black baseline by a gray image (`torch.full_like(images, 0.5)`). Which maps
#    change, and why does Saliency not change at all?
# 3. Explain a misclassified image for its **true** class instead of the predicted one
#    (`target=labels[...]`). What evidence for the true class did the model see?
