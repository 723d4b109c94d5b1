import numpy as np
import pytest
from PIL import Image

from helpers.images import load_image


@pytest.mark.parametrize("suffix", ["jpg", "png", "webp", "bmp"])
def test_common_formats_load_as_rgb(tmp_path, suffix):
    path = tmp_path / f"photo.{suffix}"
    Image.new("RGB", (20, 10), (200, 30, 40)).save(path)
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (20, 10)
    assert abs(int(np.asarray(image)[5, 5, 0]) - 200) < 10


def test_grayscale_and_palette_become_rgb(tmp_path):
    Image.new("L", (4, 4), 128).save(tmp_path / "gray.png")
    Image.new("RGB", (4, 4), (0, 255, 0)).convert("P").save(tmp_path / "palette.png")
    gray, palette = load_image(tmp_path / "gray.png"), load_image(tmp_path / "palette.png")
    assert gray.mode == palette.mode == "RGB"
    assert tuple(np.asarray(gray)[0, 0]) == (128, 128, 128)
    assert tuple(np.asarray(palette)[0, 0]) == (0, 255, 0)


def test_transparent_pixels_are_composited_on_white(tmp_path):
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    assert tuple(np.asarray(load_image(tmp_path / "clear.png"))[0, 0]) == (255, 255, 255)


def test_16_bit_images_are_scaled_not_clipped(tmp_path):
    values = np.full((4, 4), 32768, dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    pixel = np.asarray(load_image(tmp_path / "deep.png"))[0, 0]
    assert 120 <= pixel[0] <= 135  # half of full scale, not saturated at 255


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.jpg"):
        load_image(tmp_path / "nothere.jpg")


def test_directory_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        load_image(tmp_path)


def test_empty_file_is_rejected(tmp_path):
    (tmp_path / "empty.png").touch()
    with pytest.raises(ValueError, match="empty.png is empty"):
        load_image(tmp_path / "empty.png")


def test_text_file_is_not_an_image(tmp_path):
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(ValueError, match="notes.jpg is not a readable image"):
        load_image(tmp_path / "notes.jpg")


def test_truncated_image_is_not_readable(tmp_path):
    path = tmp_path / "cut.png"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ValueError, match="cut.png is not a readable image"):
        load_image(path)
