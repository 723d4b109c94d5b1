"""Feature visualization by hand: activation maximisation and data-set examples.

An *objective* names what to maximise (a class logit, the mean of one channel of a named
layer, or one neuron: the centre of a channel); a *parameterisation* turns free parameters
into an image in [0, 1] (``PixelImage``: one parameter per pixel; ``FourierImage``: a
spectrum scaled by 1/frequency and decorrelated colours); ``visualize`` runs Adam on the
parameters, optionally through random jitter, scaling and rotation (transformation
robustness) and with a total-variation penalty. ``jitter_survival`` measures how much of a
class probability survives random shifts; ``activation_table`` and ``random_crops`` find
the data-set examples, the crops of real photos that activate a channel most.
"""

from __future__ import annotations

import functools
import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.attribution import check_count

KINDS = ("class", "channel", "neuron")


# --------------------------------------------------------------------------- objectives


@dataclass(frozen=True)
class Objective:
    """What to maximise: ``kind`` is "class" (logit ``index``), "channel" (mean of channel ``index``
    of ``layer``) or "neuron" (channel ``index`` of ``layer`` at the centre). ``index`` may be a
    tuple: one index per image of the batch."""

    kind: str
    index: int | tuple
    layer: str | None = None

    def __str__(self):
        where = f" of {self.layer}" if self.layer else ""
        return f"{self.kind} {self.index}{where}"


def class_logit(index) -> Objective:
    return Objective("class", _index(index))


def channel(layer: str, index) -> Objective:
    return Objective("channel", _index(index), layer)


def neuron(layer: str, index) -> Objective:
    return Objective("neuron", _index(index), layer)


def _index(index):
    if isinstance(index, (list, tuple)):
        return tuple(check_count(i, "index", 0) for i in index)
    return check_count(index, "index", 0)


def named_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name`` (its full name, or a unique ending such as "_blocks.2")."""
    modules = dict(model.named_modules())
    if name in modules:
        return modules[name]
    matches = [full for full in modules if full.endswith("." + name)]
    if len(matches) == 1:
        return modules[matches[0]]
    examples = ", ".join(full for full in list(modules)[1:8])
    raise ValueError(f"Unknown layer {name!r}: the model has no module of that name "
                     f"(names look like: {examples}, ...; list them with dict(model.named_modules())).")


class _Stop(Exception):
    """Raised by the hook of ``recording(..., stop=True)``: the layers above are not computed."""


@contextmanager
def recording(model: nn.Module, name: str, stop: bool = False):
    """Within the block, ``record["output"]`` holds the output of layer ``name`` after each forward pass.

    With ``stop=True`` the forward pass ends at that layer (call ``run(model, images)``, which
    catches the stop): an early layer's activations cost only the layers below it.
    """
    record = {}

    def hook(module, inputs, output):
        record["output"] = output
        if stop:
            raise _Stop

    handle = named_layer(model, name).register_forward_hook(hook)
    try:
        yield record
    finally:
        handle.remove()


def run(model: nn.Module, images: torch.Tensor) -> None:
    """A forward pass that may be cut short by ``recording(..., stop=True)``."""
    try:
        model(images)
    except _Stop:
        pass


def scores(model: nn.Module, objective: Objective, images: torch.Tensor) -> torch.Tensor:
    """The objective's value for each image, shape (batch,)."""
    if objective.kind not in KINDS:
        raise ValueError(f"Unknown objective kind {objective.kind!r}: choose one of {', '.join(KINDS)}.")
    if objective.kind == "class":
        outputs = model(images)
        return _pick(outputs, objective, "the model's output", "classes")
    with recording(model, objective.layer, stop=True) as record:
        run(model, images)
    values = record["output"]
    picked = _pick(values, objective, f"layer {objective.layer!r}", "channels")
    if objective.kind == "channel":
        return picked.flatten(1).mean(dim=1)
    return picked[:, picked.shape[1] // 2, picked.shape[2] // 2]


def _pick(values: torch.Tensor, objective: Objective, where: str, unit: str) -> torch.Tensor:
    indices = objective.index if isinstance(objective.index, tuple) else (objective.index,) * len(values)
    if len(indices) != len(values):
        raise ValueError(f"{len(indices)} indices for a batch of {len(values)} images.")
    count = values.shape[1]
    for i in indices:
        if i >= count:
            raise ValueError(f"{objective.kind} {i} is out of range: {where} has {count} {unit} (0 to {count - 1}).")
    return values[torch.arange(len(values)), list(indices)]


# --------------------------------------------------------------------------- parameterisations


class PixelImage(nn.Module):
    """One free parameter per pixel and colour; the image is their sigmoid (values in (0, 1))."""

    def __init__(self, shape, seed: int = 0, scale: float = 0.01):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.pixels = nn.Parameter(torch.randn(*shape, generator=generator) * scale)

    def forward(self) -> torch.Tensor:
        return torch.sigmoid(self.pixels)


@functools.lru_cache(maxsize=1)
def photo_colour_basis() -> torch.Tensor:
    """The square root of the colour covariance of the course's photos (3 x 3), largest column norm 1.

    A vector of independent unit-variance numbers times this matrix has the photos' colour
    correlations: the parameters of ``FourierImage`` are such decorrelated colour components.
    """
    from helpers.data import BACKGROUND_PHOTOS, SAMPLE_PHOTOS, sample_images

    photos = sample_images([*SAMPLE_PHOTOS, *BACKGROUND_PHOTOS]).values()
    pixels = np.concatenate([np.asarray(photo, dtype=np.float64).reshape(-1, 3)[::7] / 255 for photo in photos])
    values, vectors = np.linalg.eigh(np.cov(pixels, rowvar=False))
    root = vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T
    root /= np.linalg.norm(root, axis=0).max()
    return torch.tensor(root, dtype=torch.float32)


class FourierImage(nn.Module):
    """The image as a 2-D spectrum of decorrelated colour components.

    Each frequency's coefficient is multiplied by 1 / frequency^``decay`` before the inverse FFT, so
    one Adam step changes low frequencies (large smooth patterns) as much as high ones would
    change pixels; the three components are mixed into RGB by ``photo_colour_basis``; a sigmoid
    maps the result into (0, 1).
    """

    def __init__(self, shape, seed: int = 0, scale: float = 0.01, decay: float = 1.0):
        super().__init__()
        batch, colours, self.height, self.width = shape
        frequencies = torch.sqrt(torch.fft.fftfreq(self.height)[:, None] ** 2
                                 + torch.fft.rfftfreq(self.width)[None, :] ** 2)
        weights = 1 / frequencies.clamp_min(1 / max(self.height, self.width)) ** decay
        # scaled so that unit-variance coefficients give pixels of about unit variance, as PixelImage's do
        self.register_buffer("weights", weights / (2 * weights.square().sum() / (self.height * self.width)).sqrt())
        self.register_buffer("basis", photo_colour_basis())
        generator = torch.Generator().manual_seed(seed)
        self.spectrum = nn.Parameter(torch.randn(batch, colours, *frequencies.shape, 2, generator=generator) * scale)

    def forward(self) -> torch.Tensor:
        spectrum = torch.view_as_complex(self.spectrum) * self.weights
        components = torch.fft.irfft2(spectrum, s=(self.height, self.width), norm="ortho")
        return torch.sigmoid(torch.einsum("bchw,rc->brhw", components, self.basis))

    @classmethod
    def from_image(cls, image: torch.Tensor, decay: float = 1.0) -> "FourierImage":
        """The parameters that give back ``image`` (values in (0, 1)): the inverse of ``forward``."""
        param = cls(image.shape, decay=decay)
        logits = torch.logit(image.detach().float().clamp(1e-6, 1 - 1e-6))
        components = torch.einsum("brhw,cr->bchw", logits, torch.linalg.inv(param.basis))
        spectrum = torch.fft.rfft2(components, norm="ortho") / param.weights
        param.spectrum.data = torch.view_as_real(spectrum).contiguous()
        return param


class SphereImage(nn.Module):
    """An input of fixed L2 norm ``radius`` (any sign): for testing the optimiser on a known optimum."""

    def __init__(self, shape, seed: int = 0, radius: float = 1.0):
        super().__init__()
        self.radius = radius
        self.direction = nn.Parameter(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)))

    def forward(self) -> torch.Tensor:
        return self.radius * self.direction / self.direction.flatten(1).norm(dim=1).view(-1, 1, 1, 1)


PARAMETERISATIONS = {"pixel": PixelImage, "fourier": FourierImage, "sphere": SphereImage}


# --------------------------------------------------------------------------- transforms, penalties


def random_transform(images: torch.Tensor, generator: torch.Generator, jitter: int = 8,
                     scales=(0.9, 1.1), degrees: float = 10.0) -> torch.Tensor:
    """Each image shifted by up to ``jitter`` pixels, scaled and rotated at random (edges reflected)."""
    batch, _, height, width = images.shape
    uniform = torch.rand(batch, 4, generator=generator)
    angle = math.radians(degrees) * (2 * uniform[:, 0] - 1)
    scale = scales[0] + (scales[1] - scales[0]) * uniform[:, 1]
    shift = jitter * (2 * uniform[:, 2:] - 1) * 2 / torch.tensor([width, height])
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, padding_mode="reflection", align_corners=False)


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (one number for the batch)."""
    return ((images[..., 1:, :] - images[..., :-1, :]).abs().mean()
            + (images[..., :, 1:] - images[..., :, :-1]).abs().mean())


# --------------------------------------------------------------------------- the optimiser


def visualize(model: nn.Module, objective: Objective, shape=(1, 3, 128, 128), steps: int = 128,
              parameterisation: str = "fourier", robust: bool = True, lr: float = 0.05,
              penalty=None, penalty_weight: float = 0.0, seed: int = 0, progress=None) -> dict:
    """Maximise ``objective`` over an image of ``shape``; return {"image", "history"}.

    ``robust``: pass each step's image through ``random_transform``; ``penalty(images)`` (for
    example ``total_variation``) is subtracted with ``penalty_weight``. ``history`` holds the
    mean objective per step (before the step). ``progress`` wraps the step range (a progress bar).
    """
    steps = check_count(steps, "steps")
    if parameterisation not in PARAMETERISATIONS:
        raise ValueError(f"Unknown parameterisation {parameterisation!r}: choose one of {', '.join(PARAMETERISATIONS)}.")
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    param = PARAMETERISATIONS[parameterisation](shape, seed=seed).to(device)
    optimizer = torch.optim.Adam(param.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for _ in (progress or (lambda r: r))(range(steps)):
        images = param()
        seen = random_transform(images, generator) if robust else images
        value = scores(model, objective, seen)
        loss = -value.sum()
        if penalty is not None and penalty_weight:
            loss = loss + penalty_weight * len(images) * penalty(images)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(float(value.detach().mean()))
    return {"image": param().detach().cpu(), "history": np.array(history)}


@torch.no_grad()
def class_probability(model: nn.Module, images: torch.Tensor, index: int) -> torch.Tensor:
    """Softmax probability of class ``index`` for each image, shape (batch,)."""
    device = next(model.parameters()).device
    return torch.softmax(model(images.to(device)), dim=1)[:, index].cpu()


@torch.no_grad()
def jitter_survival(model: nn.Module, images: torch.Tensor, index: int, jitter: int = 16,
                    n: int = 32, seed: int = 0) -> dict:
    """The class probability of each image, and its mean over ``n`` random shifts of up to ``jitter`` pixels.

    ``survival`` = shifted / clean: near 1 for a feature the model sees anywhere, near 0 for a
    pattern that works only at its exact position (adversarial).
    """
    n = check_count(n, "n")
    generator = torch.Generator().manual_seed(seed)
    clean = class_probability(model, images, index)
    shifted = torch.stack([class_probability(model, random_transform(images, generator, jitter, (1, 1), 0), index)
                           for _ in range(n)]).mean(dim=0)
    return {"clean": clean, "shifted": shifted, "survival": shifted / clean.clamp_min(1e-12)}


# --------------------------------------------------------------------------- data-set examples


def random_crops(photos: dict, per_photo: int, size: int = 128, seed: int = 0):
    """``per_photo`` random square crops (a quarter to all of the short side) of each PIL photo,
    resized to ``size``: a tensor (N, 3, size, size) and one label "photo (x, y, side)" per crop."""
    per_photo = check_count(per_photo, "per_photo")
    rng = np.random.default_rng(seed)
    crops, labels = [], []
    for name, photo in photos.items():
        array = torch.from_numpy(np.asarray(photo.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)
        height, width = array.shape[1:]
        for _ in range(per_photo):
            side = int(rng.integers(min(height, width) // 4, min(height, width) + 1))
            top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
            crop = array[None, :, top:top + side, left:left + side]
            crops.append(F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False))
            labels.append(f"{name} ({left}, {top}, {side})")
    return torch.cat(crops).clamp(0, 1), labels


@torch.no_grad()
def activation_table(model: nn.Module, layer: str, images: torch.Tensor, batch: int = 64, progress=None) -> torch.Tensor:
    """The mean activation of every channel of ``layer`` for every image: shape (images, channels)."""
    device = next(model.parameters()).device
    rows = []
    with recording(model, layer, stop=True) as record:
        for start in (progress or (lambda r: r))(range(0, len(images), batch)):
            run(model, images[start:start + batch].to(device))
            rows.append(record["output"].flatten(2).mean(dim=2).cpu())
    return torch.cat(rows)


def top_examples(table: torch.Tensor, channel_index: int, k: int = 4) -> list[int]:
    """Indices of the ``k`` images that activate ``channel_index`` most (rows of ``activation_table``)."""
    if not 0 <= channel_index < table.shape[1]:
        raise ValueError(f"channel {channel_index} is out of range: the table has {table.shape[1]} channels.")
    return table[:, channel_index].topk(min(k, len(table))).indices.tolist()
