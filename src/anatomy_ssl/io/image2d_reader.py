"""Read PNG and JPEG images (radiographs exported as pictures) with Pillow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.volume import Volume

#: ITU-R BT.601 luma weights for R, G, B (what Pillow's "L" conversion uses).
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])

#: Pixel size when the file gives none we can trust (PNG / JPEG dpi is a print setting).
DEFAULT_PIXEL_SPACING_MM = 1.0

#: Pillow modes converted to RGB(A) before reading (palette, CMYK, other colour spaces).
_TO_RGB_MODES = {
    "P": "RGBA",
    "PA": "RGBA",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
}


def read_image_2d(
    path: str | Path, *, to_grayscale: bool = True, keep_palette_indices: bool = False
) -> Volume:
    """Read a PNG or JPEG into a `(C, H, W)` Volume.

    Args:
        path: a `.png`, `.jpg` or `.jpeg` file.
        to_grayscale: convert colour to one channel of BT.601 luminance (integer images are
            rounded back to their dtype, so a grey picture saved as RGB keeps its values).
            False keeps R, G, B as three channels.
        keep_palette_indices: for palette PNGs, return the palette indices rather than colours
            (label maps saved as indexed PNGs).

    Returns:
        Array `(C, H, W)` (rows, then columns) in the file's dtype (uint8, uint16 for 16-bit
        PNGs, ...); alpha is dropped. Affine `(3, 3)`: `(row, col)` -> `(x, y)` mm with x across
        the image and y down it, 1 mm pixels. The EXIF orientation of JPEGs is applied.
        Metadata: `format`, `mode`, `original_dtype`, `had_alpha`.

    Raises:
        InputError: the file is not a readable image (corrupt, truncated, other format).
    """
    path = Path(path)
    try:
        with Image.open(path) as opened:
            picture = ImageOps.exif_transpose(opened)
            mode = picture.mode
            if mode in _TO_RGB_MODES and not (keep_palette_indices and mode == "P"):
                picture = picture.convert(_TO_RGB_MODES[mode])
            pixels = np.array(picture)  # (H, W) or (H, W, bands), a writable copy
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise InputError(path, f"corrupt, truncated or not a PNG/JPEG image ({error})") from error
    if pixels.dtype == np.bool_:
        pixels = pixels.astype(np.uint8)
    bands = pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, -1, 0)  # (bands, H, W)
    had_alpha = bands.shape[0] in (2, 4)
    if had_alpha:
        bands = bands[:-1]
    if to_grayscale and bands.shape[0] == 3:
        bands = _luminance(bands)
    spacing = DEFAULT_PIXEL_SPACING_MM
    affine = np.array([[0.0, spacing, 0.0], [spacing, 0.0, 0.0], [0.0, 0.0, 1.0]])
    metadata: dict[str, Any] = {
        "format": "image_2d",
        "mode": mode,
        "original_dtype": str(pixels.dtype),
        "had_alpha": had_alpha,
    }
    return Volume(array=bands, affine=affine, source=str(path), metadata=metadata)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """`(3, H, W)` colour -> `(1, H, W)` BT.601 luma, in the input's dtype."""
    luma = np.tensordot(LUMA_WEIGHTS, rgb, axes=1)[None]  # (1, H, W) float64
    if np.issubdtype(rgb.dtype, np.integer):
        return np.rint(luma).astype(rgb.dtype)
    return luma.astype(rgb.dtype)
