from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from anatomy_ssl.io.itk_conversion import itk_error_reason, itk_index_affine, volume_from_itk


def test_index_affine_is_direction_times_spacing_plus_origin() -> None:
    image = sitk.Image([2, 3, 4], sitk.sitkFloat32)
    image.SetSpacing((0.5, 2.0, 3.0))
    image.SetOrigin((1.0, 2.0, 3.0))
    image.SetDirection((0, 1, 0, 1, 0, 0, 0, 0, -1))
    expected = [[0, 2, 0, 1], [0.5, 0, 0, 2], [0, 0, -3, 3], [0, 0, 0, 1]]
    np.testing.assert_allclose(itk_index_affine(image), expected)


def test_3d_array_is_in_index_order_and_ras() -> None:
    array = np.arange(24, dtype=np.int16).reshape(4, 3, 2)  # (k, j, i)
    volume = volume_from_itk(sitk.GetImageFromArray(array), source="s", metadata={"a": 1})
    assert volume.array.shape == (1, 2, 3, 4)
    assert volume.array[0, 1, 2, 3] == array[3, 2, 1]
    np.testing.assert_allclose(volume.affine, np.diag([-1.0, -1.0, 1.0, 1.0]))
    assert volume.metadata == {"a": 1, "original_dtype": "int16"}


def test_2d_vector_image() -> None:
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)  # (rows, cols, channel)
    volume = volume_from_itk(sitk.GetImageFromArray(rgb, isVector=True), source="", metadata={})
    assert volume.array.shape == (3, 2, 3)
    np.testing.assert_array_equal(volume.array[2], rgb[..., 2])


def test_4d_is_refused() -> None:
    with pytest.raises(ValueError, match="4-D"):
        volume_from_itk(sitk.Image([2, 2, 2, 2], sitk.sitkUInt8), source="", metadata={})


def test_error_reason_is_the_last_line() -> None:
    error = RuntimeError("Exception thrown\n  at somewhere.cxx:12\nsitk::ERROR: the reason\n")
    assert itk_error_reason(error) == "sitk::ERROR: the reason"
