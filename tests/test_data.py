import struct

import numpy as np
import torch
import pytest

from helpers import data


def write_fake_fashion_mnist(root, n=6):
    """Tiny files in torchvision's FashionMNIST/raw layout (idx format)."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    images = (np.arange(n * 28 * 28) % 256).astype(np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    for split in ["train", "t10k"]:
        (raw / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())


def test_offline_cifar_falls_back_to_fashion_mnist_from_the_mirror(monkeypatch, tmp_path, capsys):
    write_fake_fashion_mnist(tmp_path / "mirror")
    monkeypatch.setenv("COURSE_MIRROR_DIR", str(tmp_path / "mirror"))
    bundle = data.load_cifar10()
    assert bundle.name == "Fashion-MNIST" and bundle.is_fallback
    assert bundle.classes == data.FASHION_CLASSES
    image, label = bundle.test[3]
    assert image.shape == (3, 32, 32) and 0 <= image.min() and image.max() <= 1 and label == 3
    out = capsys.readouterr().out
    assert "NOTICE: CIFAR-10 was requested" in out and "offline mode is on" in out


def test_data_dir_copy_is_preferred_over_the_mirror(monkeypatch, tmp_path):
    write_fake_fashion_mnist(tmp_path / "data", n=4)
    write_fake_fashion_mnist(tmp_path / "mirror", n=8)
    monkeypatch.setenv("COURSE_MIRROR_DIR", str(tmp_path / "mirror"))
    assert len(data.load_fashion_mnist_as_rgb32().train) == 4


def test_offline_without_any_copy_names_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-mirror/FashionMNIST/raw.*offline mode is on"):
        data.load_cifar10()


def test_sample_images_are_real_rgb_photos():
    photos = data.sample_images()
    assert list(photos) == list(data.SAMPLE_PHOTOS)
    assert all(p.mode == "RGB" and min(p.size) >= 300 for p in photos.values())
    assert np.asarray(photos["chelsea"]).std() > 20  # a real photo, not a flat image


def test_background_photos_load_as_rgb_too():
    photos = data.sample_images(list(data.BACKGROUND_PHOTOS))
    assert all(p.mode == "RGB" and min(p.size) >= 256 for p in photos.values())


def test_unknown_sample_image_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown sample image 'dog'"):
        data.sample_images(["dog"])


def test_save_sample_images_writes_loadable_files(tmp_path):
    from helpers.images import load_image

    paths = data.save_sample_images(tmp_path, ["coffee", "rocket"])
    assert [p.name for p in paths] == ["coffee.png", "rocket.png"]
    assert load_image(paths[0]).size == data.sample_images(["coffee"])["coffee"].size


def test_cifar_split_keeps_channels_and_scales_to_unit_range():
    class FakeCifar:  # torchvision's CIFAR10 keeps (N, 32, 32, 3) uint8 and a list of labels
        data = np.zeros((2, 32, 32, 3), np.uint8)
        targets = [7, 1]

    FakeCifar.data[1, 0, 0] = (255, 0, 51)
    images = data.cifar_split(FakeCifar)
    image, label = images[1]
    assert len(images) == 2 and image.shape == (3, 32, 32) and label == 1
    assert image[:, 0, 0].tolist() == pytest.approx([1.0, 0.0, 0.2])


def test_fashion_mnist_is_resized_to_32_and_gray_in_three_channels(monkeypatch, tmp_path):
    write_fake_fashion_mnist(tmp_path / "mirror")
    monkeypatch.setenv("COURSE_MIRROR_DIR", str(tmp_path / "mirror"))
    image, _ = data.load_fashion_mnist_as_rgb32().train[2]
    assert image.shape == (3, 32, 32) and image.std() > 0.05
    assert bool((image[0] == image[1]).all() and (image[1] == image[2]).all())


def test_in_memory_images_want_uint8():
    with pytest.raises(ValueError, match="uint8 tensor"):
        data.InMemoryImages(torch.zeros(2, 3, 8, 8), [0, 1])


def test_in_memory_images_want_one_label_per_image():
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        data.InMemoryImages(torch.zeros(3, 3, 8, 8, dtype=torch.uint8), [0, 1])
