from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.sitk_reader import read_sitk_image

FLIP_XY = np.diag([-1.0, -1.0, 1.0, 1.0])


@pytest.mark.parametrize("suffix", [".nrrd", ".mha", ".mhd"])
def test_itk_files_keep_index_order_and_become_ras(
    tmp_path: Path,
    suffix: str,
    phantom_data: np.ndarray,
    phantom_affine: np.ndarray,
    write_itk: Callable,
) -> None:
    affine = phantom_affine[:, [2, 0, 1, 3]]  # a permuted direction in ITK terms
    path = write_itk(tmp_path / f"img{suffix}", phantom_data, affine)
    volume = read_sitk_image(path)
    assert volume.array.shape == (1, 6, 7, 8)
    np.testing.assert_array_equal(volume.array[0], phantom_data)
    np.testing.assert_allclose(volume.affine, affine, atol=1e-12)


def test_affine_agrees_with_itk_physical_points(tmp_path: Path) -> None:
    image = sitk.GetImageFromArray(np.zeros((4, 3, 2), np.int16))  # size (2, 3, 4)
    image.SetSpacing((0.5, 0.8, 3.0))
    image.SetOrigin((12.0, -7.0, 40.0))
    angle = np.deg2rad(25)
    direction = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    image.SetDirection(direction[:, [1, 2, 0]].ravel().tolist())
    sitk.WriteImage(image, str(tmp_path / "oblique.nrrd"))
    volume = read_sitk_image(tmp_path / "oblique.nrrd")
    for index in [(0, 0, 0), (1, 2, 3), (1, 0, 2)]:
        lps = np.array(image.TransformIndexToPhysicalPoint(index))
        ras = volume.affine @ np.array([*index, 1.0])
        np.testing.assert_allclose(ras[:3], lps * [-1, -1, 1], atol=1e-9)


def test_vector_pixels_become_channels(tmp_path: Path, write_itk: Callable) -> None:
    rgb = np.arange(3 * 4 * 5 * 3, dtype=np.uint8).reshape(3, 4, 5, 3)
    volume = read_sitk_image(write_itk(tmp_path / "rgb.nrrd", rgb, np.eye(4)))
    assert volume.array.shape == (3, 3, 4, 5)
    np.testing.assert_array_equal(volume.array[1], rgb[..., 1])


def test_2d_itk_image_is_rows_then_columns(tmp_path: Path) -> None:
    pixels = np.arange(12, dtype=np.float32).reshape(3, 4)  # 3 rows, 4 columns
    image = sitk.GetImageFromArray(pixels)
    image.SetSpacing((0.5, 2.0))
    image.SetOrigin((10.0, 20.0))
    sitk.WriteImage(image, str(tmp_path / "flat.mha"))
    volume = read_sitk_image(tmp_path / "flat.mha")
    np.testing.assert_array_equal(volume.array[0], pixels)
    # (row, col) -> (x across = col * 0.5 + 10, y down = row * 2 + 20)
    np.testing.assert_allclose(volume.affine, [[0, 0.5, 10], [2, 0, 20], [0, 0, 1]])


def test_single_dicom_file(ct_small_path: Path) -> None:
    volume = read_sitk_image(ct_small_path)
    ds = pydicom.dcmread(ct_small_path)
    assert volume.array.shape == (1, 128, 128, 1)
    expected = ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
    np.testing.assert_array_equal(volume.array[0, :, :, 0], expected.T)  # (cols, rows)
    origin = FLIP_XY[:3, :3] @ np.array([float(v) for v in ds.ImagePositionPatient])
    np.testing.assert_allclose(volume.affine[:3, 3], origin, atol=1e-5)
    assert volume.metadata["modality"] == "CT"
    assert volume.metadata["series_uid"] == ds.SeriesInstanceUID
    assert volume.metadata["format"] == "dicom_file"


def test_mr_small_metadata() -> None:
    volume = read_sitk_image(get_testdata_file("MR_small.dcm"))
    assert volume.metadata["modality"] == "MR"
    assert volume.size_vox == (64, 64, 1)


def test_truncated_dicom() -> None:
    path = get_testdata_file("MR_truncated.dcm")
    with pytest.raises(InputError, match="corrupt, truncated") as caught:
        read_sitk_image(path)
    assert str(path) in str(caught.value)


def test_text_file_named_nrrd(tmp_path: Path) -> None:
    path = tmp_path / "notes.nrrd"
    path.write_text("this is not an image\n")
    with pytest.raises(InputError, match="not a NRRD image") as caught:
        read_sitk_image(path)
    assert str(path) in str(caught.value)


def test_metaimage_header_without_its_data_file(tmp_path: Path, write_itk: Callable) -> None:
    path = write_itk(tmp_path / "img.mhd", np.ones((2, 3, 4), np.float32), np.eye(4))
    path.with_suffix(".raw").unlink()
    with pytest.raises(InputError, match="MetaImage") as caught:
        read_sitk_image(path)
    assert str(path) in str(caught.value)


def test_png_is_not_read_here(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a NRRD, MetaImage or DICOM"):
        read_sitk_image(tmp_path / "picture.png")


def _metaimage_with_spacing(path: Path, spacing: str) -> Path:
    """A (5, 4, 3) float32 MetaImage whose header says `ElementSpacing = spacing`."""
    header = (
        "ObjectType = Image\nNDims = 3\nDimSize = 5 4 3\nElementType = MET_FLOAT\n"
        f"ElementSpacing = {spacing}\nElementByteOrderMSB = False\nElementDataFile = LOCAL\n"
    )
    path.write_bytes(header.encode() + np.arange(60, dtype="<f4").tobytes())
    return path


def test_zero_spacing_is_refused_naming_the_file_and_spacing(tmp_path: Path) -> None:
    path = _metaimage_with_spacing(tmp_path / "zero.mha", "1 0 2")
    with pytest.raises(InputError, match="zero voxel spacing") as caught:
        read_sitk_image(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "(1.0, 0.0, 2.0)" in message


def test_negative_spacing_reverses_the_axis_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _metaimage_with_spacing(tmp_path / "negative.mha", "1 -2 2")
    with caplog.at_level(logging.WARNING):
        volume = read_sitk_image(path)
    assert volume.spacing_mm == (1.0, 2.0, 2.0)
    np.testing.assert_allclose(volume.affine[:3, 1], [0.0, 2.0, 0.0])  # LPS -y is RAS +y
    (warning,) = [r.getMessage() for r in caplog.records if r.name.startswith("anatomy_ssl")]
    assert str(path) in warning and "negative voxel spacing" in warning
