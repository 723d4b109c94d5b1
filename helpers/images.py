"""Load a student's own image files as RGB, with clear errors for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from helpers.settings import display_path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def load_image(path) -> Image.Image:
    """Open ``path`` as an 8-bit RGB ``PIL.Image``.

    Grayscale, palette, RGBA (composited on white) and 16-bit images are converted.
    Raises ``FileNotFoundError`` for a missing path and ``ValueError`` for a directory,
    an empty file or a file that is not a readable image; messages name the file.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"Image file not found: {display_path(path)}")
    if path.is_dir():
        raise ValueError(f"{display_path(path)} is a directory, not an image file.")
    if path.stat().st_size == 0:
        raise ValueError(f"{display_path(path)} is empty (0 bytes), not an image.")
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{display_path(path)} is not a readable image: {error}") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL image mode to 8-bit RGB."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        values = np.clip(values / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(values).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
