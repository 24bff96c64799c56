from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.image2d_reader import read_image_2d

RNG = np.random.default_rng(0)
GREY = RNG.integers(0, 256, size=(5, 7), dtype=np.uint8)  # 5 rows, 7 columns
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def test_grey_png_is_rows_then_columns_with_x_across_y_down(tmp_path: Path) -> None:
    Image.fromarray(GREY).save(tmp_path / "g.png")
    volume = read_image_2d(tmp_path / "g.png")
    assert volume.array.shape == (1, 5, 7) and volume.array.dtype == np.uint8
    np.testing.assert_array_equal(volume.array[0], GREY)
    # pixel (row 2, col 3) lies 3 mm across and 2 mm down
    np.testing.assert_array_equal(volume.affine @ [2, 3, 1], [3, 2, 1])
    assert volume.spacing_mm == (1.0, 1.0)


def test_rgb_to_luminance(tmp_path: Path) -> None:
    Image.fromarray(RGB).save(tmp_path / "c.png")
    volume = read_image_2d(tmp_path / "c.png")
    expected = np.rint(RGB @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    assert volume.array.shape == (1, 5, 7)
    np.testing.assert_array_equal(volume.array[0], expected)


def test_grey_saved_as_rgb_keeps_its_values(tmp_path: Path) -> None:
    Image.fromarray(np.repeat(GREY[..., None], 3, axis=2)).save(tmp_path / "g3.png")
    np.testing.assert_array_equal(read_image_2d(tmp_path / "g3.png").array[0], GREY)


def test_rgb_kept_as_channels(tmp_path: Path) -> None:
    Image.fromarray(RGB).save(tmp_path / "c.png")
    volume = read_image_2d(tmp_path / "c.png", to_grayscale=False)
    np.testing.assert_array_equal(volume.array, np.moveaxis(RGB, -1, 0))


def test_alpha_is_dropped(tmp_path: Path) -> None:
    rgba = np.concatenate([RGB, np.full((5, 7, 1), 128, np.uint8)], axis=2)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    volume = read_image_2d(tmp_path / "a.png", to_grayscale=False)
    assert volume.array.shape == (3, 5, 7) and volume.metadata["had_alpha"] is True


def test_16_bit_png(tmp_path: Path) -> None:
    deep = RNG.integers(0, 65536, size=(4, 6), dtype=np.uint16)
    Image.fromarray(deep).save(tmp_path / "d.png")
    volume = read_image_2d(tmp_path / "d.png")
    assert volume.array.dtype == np.uint16
    np.testing.assert_array_equal(volume.array[0], deep)


def test_palette_png_as_indices_or_colours(tmp_path: Path) -> None:
    indices = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    picture = Image.fromarray(indices, mode="P")
    picture.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0])
    picture.save(tmp_path / "p.png")
    labels = read_image_2d(tmp_path / "p.png", to_grayscale=False, keep_palette_indices=True)
    np.testing.assert_array_equal(labels.array[0], indices)
    colours = read_image_2d(tmp_path / "p.png", to_grayscale=False)
    assert colours.array.shape == (3, 2, 3)
    np.testing.assert_array_equal(colours.array[:, 0, 1], [255, 0, 0])


def test_jpeg(tmp_path: Path) -> None:
    smooth = np.tile(np.linspace(0, 255, 16, dtype=np.uint8), (8, 1))
    Image.fromarray(smooth).save(tmp_path / "s.jpg", quality=95)
    volume = read_image_2d(tmp_path / "s.jpg")
    assert volume.array.shape == (1, 8, 16)
    assert np.abs(volume.array[0].astype(int) - smooth).max() < 8


@pytest.mark.parametrize("name", ["bad.png", "bad.jpg"])
def test_not_an_image(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"definitely not pixels")
    with pytest.raises(InputError, match="not a PNG/JPEG image") as caught:
        read_image_2d(path)
    assert str(path) in str(caught.value)


def test_truncated_png(tmp_path: Path) -> None:
    Image.fromarray(RNG.integers(0, 256, size=(64, 64), dtype=np.uint8)).save(tmp_path / "w.png")
    whole = (tmp_path / "w.png").read_bytes()
    (tmp_path / "t.png").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="truncated"):
        read_image_2d(tmp_path / "t.png")
