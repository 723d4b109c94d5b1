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


# --------------------------------------------------------------------------- Caltech-101 and its fallback

FAKE_CALTECH = {"BACKGROUND_Google": 2, "Faces": 3, "accordion": 2, "camera": 4}  # category -> images


def write_fake_caltech101(root, counts=FAKE_CALTECH):
    """Generated JPEGs in torchvision's Caltech101 layout: caltech101/101_ObjectCategories/<category>/image_0001.jpg,
    and caltech101/Annotations/<annotation category>/annotation_0001.mat (Faces -> Faces_2, as torchvision maps it)."""
    from PIL import Image
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    base = root / "caltech101"
    for category, n in counts.items():
        folder = base / "101_ObjectCategories" / category
        folder.mkdir(parents=True)
        for i in range(1, n + 1):
            pixels = rng.integers(0, 256, size=(48 + 8 * i, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"image_{i:04d}.jpg")
        if category != "BACKGROUND_Google":
            notes = base / "Annotations" / {"Faces": "Faces_2"}.get(category, category)
            notes.mkdir(parents=True)
            for i in range(1, n + 1):
                savemat(notes / f"annotation_{i:04d}.mat", {"obj_contour": np.ones((2, 5)) * i})
    return base / "101_ObjectCategories"


def test_cached_caltech101_loads_offline_in_torchvision_layout(course_env, capsys):
    from torchvision import datasets

    photos = write_fake_caltech101(course_env / "data")
    caltech = data.load_caltech101()
    assert caltech.name == "Caltech-101" and not caltech.is_fallback and caltech.root == photos
    assert caltech.categories == ["Faces", "accordion", "camera"]  # BACKGROUND_Google is not a category
    assert len(caltech) == 9 and [p.name for p in caltech.files("camera")][-1] == "image_0004.jpg"
    assert "NOTICE" not in capsys.readouterr().out
    # the fake layout is the one torchvision reads: category and annotation of the last image of "camera"
    reference = datasets.Caltech101(course_env / "data", target_type=["category", "annotation"])
    image, (label, contour) = reference[len(reference) - 1]
    assert reference.categories[label] == "camera" and contour[0, 0] == 4
    assert image.size == (64, 80)


def test_offline_caltech101_falls_back_to_fashion_mnist_files_and_says_so(course_env, monkeypatch, capsys):
    write_fake_fashion_mnist(course_env / "mirror")
    monkeypatch.setenv("COURSE_MIRROR_DIR", str(course_env / "mirror"))
    fallback = data.load_caltech101()
    out = capsys.readouterr().out
    assert "NOTICE: Caltech-101 was requested" in out and "offline mode is on" in out
    assert "caltech101/101_ObjectCategories" in out  # where the files are expected
    assert "Using Fashion-MNIST's 6 test images instead" in out and "fashion_mnist_images" in out
    assert fallback.name == "Fashion-MNIST" and fallback.is_fallback
    assert fallback.root == course_env / "data" / data.FASHION_FILES_FOLDER and len(fallback) == 6
    assert fallback.categories == sorted(data.FASHION_FOLDERS[:6])  # the fake labels are 0..5, one image each
    from helpers.images import load_image

    image = load_image(fallback.files("coat")[0])
    assert image.size == (data.FASHION_FILE_SIZE, data.FASHION_FILE_SIZE)
    assert not any(p.name.endswith(".tmp") for p in (course_env / "data").iterdir())


def test_fashion_mnist_files_are_written_once(course_env, monkeypatch):
    write_fake_fashion_mnist(course_env / "mirror")
    monkeypatch.setenv("COURSE_MIRROR_DIR", str(course_env / "mirror"))
    first = data.fashion_mnist_as_files()
    monkeypatch.setattr(data, "fashion_mnist_split", lambda train: pytest.fail("written again"))
    assert data.fashion_mnist_as_files() == first


def test_fashion_mnist_files_are_dark_on_light_like_the_catalogue_photos(course_env, monkeypatch):
    write_fake_fashion_mnist(course_env / "mirror")  # image 0: pixel values 0, 1, 2, ... from the top left
    monkeypatch.setenv("COURSE_MIRROR_DIR", str(course_env / "mirror"))
    from PIL import Image

    pixels = np.asarray(Image.open(data.fashion_mnist_as_files().files("T-shirt_top")[0]))
    assert pixels[:4, :8].mean() > 245  # stored values 0-1 (black), top left: written white
    assert pixels[33, 4:36].mean() < 50  # stored values 224-234 (light), row 8: written dark


def test_failed_caltech_download_falls_back_and_names_the_error(monkeypatch, capsys, course_env):
    write_fake_fashion_mnist(course_env / "data")
    monkeypatch.setenv("COURSE_OFFLINE", "0")

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(data.datasets, "Caltech101", no_network)
    assert data.load_caltech101().name == "Fashion-MNIST"
    assert "101_ObjectCategories is not there and the download failed (OSError: network is unreachable)" in capsys.readouterr().out


def test_write_subset_total_spreads_over_evenly_spaced_categories(course_env, tmp_path):
    write_fake_caltech101(course_env / "data")
    caltech = data.load_caltech101()
    paths = data.write_subset(caltech, tmp_path / "two", total=2)
    assert sorted(p.parent.name for p in paths) == ["Faces", "camera"]  # evenly spaced: categories 0 and 2 of 3
    paths = data.write_subset(caltech, tmp_path / "eight", total=8)
    counts = {c: len(list((tmp_path / "eight" / c).iterdir())) for c in caltech.categories}
    assert counts == {"Faces": 3, "accordion": 2, "camera": 3} and len(paths) == 8
    assert all(p.read_bytes() == (caltech.root / p.parent.name / p.name).read_bytes() for p in paths)


def test_write_subset_per_category_makes_one_folder_per_category(course_env, tmp_path):
    write_fake_caltech101(course_env / "data")
    caltech = data.load_caltech101()
    paths = data.write_subset(caltech, tmp_path / "subset", per_category=2, seed=3)
    assert sorted(p.name for p in (tmp_path / "subset").iterdir()) == caltech.categories
    assert [p.parent.name for p in paths] == ["Faces", "Faces", "accordion", "accordion", "camera", "camera"]
    again = data.write_subset(caltech, tmp_path / "again", per_category=2, seed=3)
    assert [p.name for p in again] == [p.name for p in paths]  # the seed decides the draw


@pytest.mark.parametrize("kwargs, message", [
    ({"total": 0}, "total must be an integer >= 1, got 0"),
    ({"per_category": -1}, "per_category must be an integer >= 1, got -1"),
    ({"total": 2.5}, "total must be an integer >= 1, got 2.5"),
    ({}, "exactly one of total= .* or per_category="),
    ({"total": 3, "per_category": 1}, "exactly one of total="),
    ({"per_category": 3}, "Category 'accordion' of Caltech-101 has 2 images; the subset asks for 3"),
])
def test_write_subset_bad_input_is_a_clear_error(course_env, tmp_path, kwargs, message):
    write_fake_caltech101(course_env / "data")
    with pytest.raises(ValueError, match=message):
        data.write_subset(data.load_caltech101(), tmp_path / "subset", **kwargs)


def test_write_subset_refuses_a_folder_that_holds_files(course_env, tmp_path):
    write_fake_caltech101(course_env / "data")
    (tmp_path / "subset").mkdir()
    (tmp_path / "subset" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="subset is not empty"):
        data.write_subset(data.load_caltech101(), tmp_path / "subset", total=2)
    assert (tmp_path / "subset" / "notes.txt").read_text() == "mine"


def test_imagenet_matches_by_whole_name_or_last_word():
    names = ["Polaroid camera", "reflex camera", "electric guitar", "guitar pick", "cup", "measuring cup", "face powder"]
    assert data.imagenet_matches("camera", names) == ["Polaroid camera", "reflex camera"]
    assert data.imagenet_matches("electric_guitar", names) == ["electric guitar"]
    assert data.imagenet_matches("guitar", names) == ["electric guitar"]  # the last word
    assert data.imagenet_matches("electric", names) == []  # a first word is not enough
    assert data.imagenet_matches("cup", names) == ["cup", "measuring cup"]
    assert data.imagenet_matches("Faces", names) == []


def test_damaged_caltech_copy_is_named_in_the_notice(course_env, monkeypatch, capsys):
    write_fake_caltech101(course_env / "data", {"accordion": 2})  # no BACKGROUND_Google: torchvision cannot read it
    write_fake_fashion_mnist(course_env / "mirror")
    monkeypatch.setenv("COURSE_MIRROR_DIR", str(course_env / "mirror"))
    assert data.load_caltech101().is_fallback
    assert "101_ObjectCategories could not be read (ValueError" in capsys.readouterr().out
