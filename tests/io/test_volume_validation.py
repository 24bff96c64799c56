from __future__ import annotations

import numpy as np
import pytest

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.volume import Volume
from anatomy_ssl.io.volume_validation import (
    MAX_SPACING_MM,
    MIN_SPACING_MM,
    validate_image,
    validate_label,
)

PATH = "/data/case_007.nii.gz"


def _image(
    shape: tuple[int, ...] = (1, 6, 7, 8),
    affine: np.ndarray | None = None,
    dtype: type = np.float32,
) -> Volume:
    array = np.arange(np.prod(shape)).reshape(shape).astype(dtype)
    spatial = len(shape) - 1
    return Volume(array=array, affine=np.eye(spatial + 1) if affine is None else affine)


def _refused(volume: Volume, phrase: str, spatial_dims: int = 3) -> str:
    with pytest.raises(InputError, match=phrase) as caught:
        validate_image(volume, path=PATH, spatial_dims=spatial_dims)
    message = str(caught.value)
    assert message.startswith(PATH)
    return message


class TestImage:
    def test_good_volume_passes(self) -> None:
        validate_image(_image(), path=PATH, spatial_dims=3)
        validate_image(_image((1, 5, 6)), path=PATH, spatial_dims=2)
        validate_image(_image((1, 5, 6, 1)), path=PATH, spatial_dims=2)  # squeezable

    def test_2d_where_3d_is_required(self) -> None:
        _refused(_image((1, 5, 6)), "2D image where a 3D volume is required")

    def test_single_slice_where_3d_is_required(self) -> None:
        message = _refused(_image((1, 5, 6, 1)), "2D image where a 3D volume is required")
        assert "spatial_dims=2" in message

    def test_3d_where_2d_is_required(self) -> None:
        _refused(_image(), "3D volume where a 2D image is required", spatial_dims=2)

    def test_zero_size_axis(self) -> None:
        _refused(_image((1, 6, 0, 8)), "zero-size axis")

    def test_nan_and_inf_are_counted(self) -> None:
        volume = _image()
        volume.array[0, 1, 2, 3] = np.nan
        volume.array[0, 2, 2, 3] = np.nan
        volume.array[0, 0, 0, 0] = -np.inf
        message = _refused(volume, "2 NaN and 1 infinite voxel")
        assert "336" in message

    def test_constant_image_names_the_value(self) -> None:
        volume = Volume(array=np.full((1, 4, 4, 4), -1024, np.int16), affine=np.eye(4))
        _refused(volume, "constant image: every voxel is -1024")

    def test_zero_spacing(self) -> None:
        _refused(_image(affine=np.diag([1.0, 0.0, 1.0, 1.0])), "zero voxel spacing along axis 1")

    @pytest.mark.parametrize("size", [MIN_SPACING_MM / 10, MAX_SPACING_MM * 2])
    def test_absurd_spacing(self, size: float) -> None:
        _refused(_image(affine=np.diag([1.0, 1.0, size, 1.0])), "implausible voxel spacing")

    def test_non_finite_affine(self) -> None:
        affine = np.eye(4)
        affine[0, 3] = np.nan
        _refused(_image(affine=affine), "affine has NaN or infinite")

    def test_singular_affine(self) -> None:
        affine = np.eye(4)
        affine[:3, 2] = [1.0, 0.0, 0.0]  # k parallel to i
        _refused(_image(affine=affine), "singular affine")

    def test_complex_voxels(self) -> None:
        _refused(_image(dtype=np.complex64), "unsupported voxel type")

    def test_bad_spatial_dims_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match="spatial_dims"):
            validate_image(_image(), path=PATH, spatial_dims=4)


class TestLabel:
    def _label(self, array: np.ndarray, affine: np.ndarray | None = None) -> Volume:
        return Volume(array=array, affine=np.eye(4) if affine is None else affine)

    def _refused(self, label: Volume, phrase: str) -> str:
        with pytest.raises(InputError, match=phrase) as caught:
            validate_label(label, image=_image(), path=PATH)
        assert str(caught.value).startswith(PATH)
        return str(caught.value)

    def test_integer_labels_keep_their_dtype(self) -> None:
        label = self._label(np.zeros((1, 6, 7, 8), np.int16))
        assert validate_label(label, image=_image(), path=PATH).array.dtype == np.int16

    @pytest.mark.parametrize(
        ("values", "dtype"),
        [((0.0, 3.0), np.uint8), ((0.0, 300.0), np.int16), ((0, 7e4), np.int32)],
    )
    def test_integer_valued_floats_become_integers(self, values: tuple, dtype: type) -> None:
        array = np.full((1, 6, 7, 8), values[0], np.float32)
        array[0, 0, 0, 0] = values[1]
        checked = validate_label(self._label(array), image=_image(), path=PATH)
        assert checked.array.dtype == dtype
        np.testing.assert_array_equal(checked.array, array)

    def test_bool_becomes_uint8(self) -> None:
        label = self._label(np.ones((1, 6, 7, 8), bool))
        assert validate_label(label, image=_image(), path=PATH).array.dtype == np.uint8

    def test_non_integer_values(self) -> None:
        array = np.zeros((1, 6, 7, 8), np.float32)
        array[0, :2, 0, 0] = 0.5
        message = self._refused(self._label(array), "non-integer label values in 2 voxel")
        assert "0.5" in message

    @pytest.mark.parametrize("dtype", [np.int16, np.float32])
    def test_negative_values_are_refused_with_the_values(self, dtype: type) -> None:
        array = np.zeros((1, 6, 7, 8), dtype)
        array[0, :3, 0, 0] = -1
        array[0, 5, 5, 5] = -7
        array[0, 4, 4, 4] = 2
        message = self._refused(self._label(array), r"negative label values \(-7, -1\) in 4 voxel")
        assert "class indices >= 0" in message

    def test_nan_is_not_an_integer(self) -> None:
        array = np.zeros((1, 6, 7, 8), np.float64)
        array[0, 1, 1, 1] = np.nan
        self._refused(self._label(array), "non-integer label values")

    def test_shape_mismatch(self) -> None:
        message = self._refused(self._label(np.zeros((1, 6, 7, 9), np.uint8)), "does not match")
        assert "(6, 7, 9)" in message and "(6, 7, 8)" in message

    def test_several_channels(self) -> None:
        self._refused(self._label(np.zeros((2, 6, 7, 8), np.uint8)), "one channel; got 2")

    def test_affine_within_tolerance_matches(self) -> None:
        affine = np.eye(4)
        affine[:3, 3] = 1e-4  # 0.17 um: float32 header noise
        affine[0, 1] = 1e-5
        validate_label(
            self._label(np.zeros((1, 6, 7, 8), np.uint8), affine), image=_image(), path=PATH
        )

    @pytest.mark.parametrize(
        ("change", "phrase"),
        [
            ((slice(0, 3), 3), "origins differ by 2 mm"),
            ((1, 1), "voxel sizes differ"),
            ((0, 1), "axis directions differ"),
        ],
    )
    def test_affine_mismatch(self, change: tuple, phrase: str) -> None:
        affine = np.eye(4)
        affine[change] += np.array([2.0, 0, 0]) if isinstance(change[0], slice) else 0.2
        message = self._refused(self._label(np.zeros((1, 6, 7, 8), np.uint8), affine), phrase)
        assert "label affine" in message and "image affine" in message
