"""Datasets and sample photos: CIFAR-10 and Caltech-101 (each with an offline fallback), skimage photos."""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import datasets

from helpers.attribution import check_count
from helpers.images import IMAGE_SUFFIXES
from helpers.settings import data_dir, display_path, mirror_dir, offline_mode, progress

CIFAR10_CLASSES = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FASHION_CLASSES = [
    "T-shirt/top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
]


@dataclass
class ImageDataset:
    """Train and test splits of 3x32x32 images in [0, 1], with their class names."""

    name: str
    train: Dataset
    test: Dataset
    classes: list[str]

    @property
    def is_fallback(self) -> bool:
        return self.name != "CIFAR-10"


class InMemoryImages(Dataset):
    """Images kept as one uint8 tensor (N, C, H, W); item i is (float image in [0, 1], int label).

    Converted once when loaded: a PIL transform per image and epoch would take twice as long
    as training the small CNN itself.
    """

    def __init__(self, images: torch.Tensor, labels):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be a uint8 tensor (N, C, H, W), got {images.dtype} {tuple(images.shape)}.")
        self.images, self.labels = images, torch.as_tensor(labels, dtype=torch.long)
        if len(self.labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(self.labels)} labels.")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index].float().div_(255), int(self.labels[index])


def cifar_split(split) -> InMemoryImages:
    """A torchvision CIFAR10 split (uint8 N x 32 x 32 x 3) as ``InMemoryImages``."""
    return InMemoryImages(torch.from_numpy(split.data).permute(0, 3, 1, 2).contiguous(), split.targets)


def fashion_split_as_rgb32(split) -> InMemoryImages:
    """A torchvision FashionMNIST split (uint8 N x 28 x 28), resized to 32 x 32 (bilinear) and repeated to 3 channels."""
    images = torch.nn.functional.interpolate(split.data[:, None].float(), size=32, mode="bilinear",
                                             align_corners=False, antialias=True)
    images = images.round_().clamp_(0, 255).to(torch.uint8)
    return InMemoryImages(images.expand(-1, 3, -1, -1), split.targets)


def load_cifar10() -> ImageDataset:
    """CIFAR-10 from the data folder or the internet; Fashion-MNIST (as 3x32x32) when unavailable."""
    root = data_dir()
    cached = (root / "cifar-10-batches-py").is_dir()
    if cached or not offline_mode():
        try:
            train = datasets.CIFAR10(root, train=True, download=not cached)
            test = datasets.CIFAR10(root, train=False, download=False)
        except Exception as error:  # no network, interrupted download, ...
            reason = f"it is not in {display_path(root)} and the download failed ({type(error).__name__}: {error})"
        else:
            return ImageDataset("CIFAR-10", cifar_split(train), cifar_split(test), CIFAR10_CLASSES)
    else:
        reason = f"it is not in {display_path(root)} and offline mode is on (COURSE_OFFLINE=1)"
    bundle = load_fashion_mnist_as_rgb32()
    print(
        f"NOTICE: CIFAR-10 was requested, but {reason}. Using Fashion-MNIST instead "
        f"(real photos of clothing, 10 classes, resized to 3x32x32 so the same CNN trains on it). "
        f"To get CIFAR-10: run once with internet and COURSE_OFFLINE unset; it goes to {display_path(root)}."
    )
    return bundle


def load_fashion_mnist_as_rgb32() -> ImageDataset:
    """Fashion-MNIST from the data folder, the offline mirror, or the internet, as 3x32x32."""
    return fashion_mnist_dataset(fashion_mnist_split(train=True), fashion_mnist_split(train=False))


def fashion_mnist_split(train: bool):
    """One torchvision FashionMNIST split (uint8 N x 28 x 28): data folder, offline mirror, or the internet."""
    searched = [data_dir(), mirror_dir()]
    for root in searched:
        if (root / "FashionMNIST" / "raw").is_dir():
            try:
                return datasets.FashionMNIST(root, train=train, download=False)
            except RuntimeError:  # incomplete files: try the next place
                continue
    if offline_mode():
        raise FileNotFoundError(
            "Fashion-MNIST not found in " + " or ".join(display_path(r / "FashionMNIST" / "raw") for r in searched)
            + " and offline mode is on: unset COURSE_OFFLINE or set COURSE_MIRROR_DIR."
        )
    return datasets.FashionMNIST(data_dir(), train=train, download=True)


def fashion_mnist_dataset(train, test) -> ImageDataset:
    return ImageDataset("Fashion-MNIST", fashion_split_as_rgb32(train), fashion_split_as_rgb32(test), FASHION_CLASSES)


# --------------------------------------------------------------------------- Caltech-101: image files by category

CALTECH_FOLDER = "caltech101"  # torchvision's folder in the data folder; the photos are in 101_ObjectCategories/
FASHION_FILES_FOLDER = "fashion_mnist_images"  # the offline fallback, written once into the data folder
FASHION_FOLDERS = [name.replace("/", "_").replace(" ", "_") for name in FASHION_CLASSES]  # T-shirt_top, ankle_boot
FASHION_FILE_SIZE = 112  # 4 x the 28 x 28 originals


@dataclass
class FolderDataset:
    """Image files on disk, one sub-folder of ``root`` per category (``root/<category>/image_0001.jpg``)."""

    name: str
    root: Path
    categories: list[str]

    @property
    def is_fallback(self) -> bool:
        return self.name != "Caltech-101"

    def files(self, category: str) -> list[Path]:
        """The image files of one category, sorted by name."""
        return sorted(p for p in (self.root / category).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

    def __len__(self) -> int:
        return sum(len(self.files(category)) for category in self.categories)


def load_caltech101() -> FolderDataset:
    """Caltech-101 from the data folder or the internet (torchvision); Fashion-MNIST's test images as files when unavailable."""
    root = data_dir()
    photos = root / CALTECH_FOLDER / "101_ObjectCategories"
    cached = photos.is_dir()
    if cached or not offline_mode():
        try:
            caltech = datasets.Caltech101(root, download=not cached)
        except Exception as error:  # no network, interrupted download, a damaged copy, ...
            problem = "could not be read" if cached else "is not there and the download failed"
            reason = f"{display_path(photos)} {problem} ({type(error).__name__}: {error})"
        else:
            return FolderDataset("Caltech-101", photos, list(caltech.categories))  # BACKGROUND_Google left out
    else:
        reason = f"it is not in {display_path(photos)} and offline mode is on (COURSE_OFFLINE=1)"
    fallback = fashion_mnist_as_files()
    print(
        f"NOTICE: Caltech-101 was requested, but {reason}. Using Fashion-MNIST's {len(fallback):,} test images "
        f"instead (real photos of clothing in {len(fallback.categories)} categories, upscaled to "
        f"{FASHION_FILE_SIZE}x{FASHION_FILE_SIZE} and written as JPEG files, one folder per category, in "
        f"{display_path(fallback.root)}). To get Caltech-101 (about 9,000 photos in 101 categories): run once with "
        f"internet and COURSE_OFFLINE unset; it goes to {display_path(root / CALTECH_FOLDER)}."
    )
    return fallback


def fashion_mnist_as_files() -> FolderDataset:
    """Fashion-MNIST's test split as JPEG files, one folder per category, written once into the data folder.

    The 28 x 28 images are inverted back to dark on light (Fashion-MNIST negated the catalogue
    photos) and upscaled 4x (bicubic). The folder is written beside its final place and renamed,
    so an interrupted write is never mistaken for the data set.
    """
    root = data_dir() / FASHION_FILES_FOLDER
    if not root.is_dir():
        split = fashion_mnist_split(train=False)
        temporary = root.with_name(f".{root.name}.{os.getpid()}.tmp")
        shutil.rmtree(temporary, ignore_errors=True)
        counts = [0] * len(FASHION_FOLDERS)
        images = zip(split.data.numpy(), split.targets.tolist())
        for image, label in progress(images, total=len(split), desc="writing Fashion-MNIST files", unit="image"):
            counts[label] += 1
            path = temporary / FASHION_FOLDERS[label] / f"image_{counts[label]:04d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            photo = Image.fromarray(255 - image).resize((FASHION_FILE_SIZE,) * 2, Image.Resampling.BICUBIC)
            photo.save(path, quality=95)
        os.replace(temporary, root)
    return FolderDataset("Fashion-MNIST", root, sorted(p.name for p in root.iterdir() if p.is_dir()))


def write_subset(dataset: FolderDataset, folder, *, total: int | None = None, per_category: int | None = None,
                 seed: int = 0) -> list[Path]:
    """Copy some images of ``dataset`` into ``folder/<category>/`` (a new or empty folder); return their paths.

    ``per_category=k``: k images of every category. ``total=n``: n images spread evenly over
    the categories (n <= the number of categories: one image from each of n evenly spaced
    categories). Within a category the images are drawn at random (``seed``). Files are
    copied byte for byte, under their own names.
    """
    if (total is None) == (per_category is None):
        raise ValueError("write_subset needs exactly one of total= (images in all) or per_category= (images per category).")
    if not dataset.categories:
        raise ValueError(f"{dataset.name} has no categories in {display_path(dataset.root)}.")
    n_categories = len(dataset.categories)
    if total is not None:
        total = check_count(total, "total")
        counts = [total // n_categories] * n_categories
        extra = total % n_categories
        for i in range(extra):
            counts[(2 * i + 1) * n_categories // (2 * extra)] += 1  # evenly spaced, centred
    else:
        counts = [check_count(per_category, "per_category")] * n_categories
    folder = Path(folder).expanduser()
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{display_path(folder)} is not empty: write the subset into a new or empty folder.")
    rng, written = random.Random(seed), []
    for category, count in zip(dataset.categories, counts):
        if not count:
            continue
        files = dataset.files(category)
        if count > len(files):
            raise ValueError(f"Category {category!r} of {dataset.name} has {len(files)} images; the subset asks for "
                             f"{count} of them. Ask for fewer images.")
        (folder / category).mkdir(parents=True, exist_ok=True)
        for source in sorted(rng.sample(files, count)):
            written.append(Path(shutil.copyfile(source, folder / category / source.name)))
    return written


def imagenet_matches(category: str, class_names) -> list[str]:
    """The ImageNet classes that a data-set category names: equal to it, or ending with it as a last word.

    Underscores read as spaces, case ignored: ``electric_guitar`` -> 'electric guitar',
    ``camera`` -> 'Polaroid camera' and 'reflex camera', ``Faces`` -> none.
    """
    wanted = category.replace("_", " ").lower()
    return [name for name in class_names if name.lower() == wanted or name.lower().split()[-1] == wanted]


# --------------------------------------------------------------------------- sample photos

# name -> (skimage.data function, what the photo shows)
SAMPLE_PHOTOS = {
    "chelsea": ("chelsea", "a tabby cat"),
    "coffee": ("coffee", "a cup of coffee"),
    "rocket": ("rocket", "a rocket on its launch pad"),
    "motorcycle": ("stereo_motorcycle", "a motorcycle"),
    "astronaut": ("astronaut", "an astronaut portrait"),
}
# More scikit-image photos, without a single ImageNet object: background/reference images.
BACKGROUND_PHOTOS = {
    "camera": ("camera", "a photographer with a tripod (grayscale)"),
    "hubble": ("hubble_deep_field", "a Hubble deep-field image of galaxies"),
    "retina": ("retina", "a retina photographed through the pupil"),
    "grass": ("grass", "a texture of grass (grayscale)"),
    "brick": ("brick", "a texture of bricks (grayscale)"),
    "moon": ("moon", "the surface of the moon (grayscale)"),
}
_ALL_PHOTOS = {**SAMPLE_PHOTOS, **BACKGROUND_PHOTOS}


def sample_images(names=None) -> dict[str, Image.Image]:
    """Real photos that ship inside scikit-image, as RGB PIL images, by name.

    Default: the object photos of ``SAMPLE_PHOTOS``; ``BACKGROUND_PHOTOS`` may be named too.
    """
    from skimage import data as skdata

    names = list(SAMPLE_PHOTOS) if names is None else list(names)
    photos = {}
    for name in names:
        if name not in _ALL_PHOTOS:
            raise ValueError(f"Unknown sample image {name!r}. Choose from: {', '.join(_ALL_PHOTOS)}.")
        array = getattr(skdata, _ALL_PHOTOS[name][0])()
        if isinstance(array, tuple):  # stereo_motorcycle returns (left, right, disparity)
            array = array[0]
        photos[name] = Image.fromarray(np.asarray(array, dtype=np.uint8)).convert("RGB")
    return photos


def save_sample_images(folder, names=None) -> list[Path]:
    """Write the sample photos as PNG files into ``folder`` and return their paths.

    PNG is lossless, so a saved photo gets exactly the prediction of the in-memory one
    (a JPEG re-encoding can change it: chelsea turned from "tiger cat" into "Egyptian cat").
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, image in sample_images(names).items():
        path = folder / f"{name}.png"
        image.save(path)
        paths.append(path)
    return paths


def make_image_folder(folder, n: int, size: int = 128, per_folder: int = 100, seed: int = 0) -> Path:
    """Write ``n`` generated photos (random crops and flips of the sample photos) as PNG into a tree.

    ``folder/part000/img00000.png`` ...: ``per_folder`` files per sub-folder. For tests and
    measurements of the pipeline at scale.
    """
    rng, photos, folder = random.Random(seed), list(sample_images().values()), Path(folder)
    for i in range(n):
        photo = photos[i % len(photos)]
        side = int(min(photo.size) * rng.uniform(0.6, 1.0))
        left, top = rng.randint(0, photo.width - side), rng.randint(0, photo.height - side)
        image = photo.crop((left, top, left + side, top + side)).resize((size, size))
        if rng.random() < 0.5:
            image = image.transpose(0)  # left-right flip
        path = folder / f"part{i // per_folder:03d}" / f"img{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
    return folder
