from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.nifti_reader import read_nifti


def test_reads_channel_first_with_the_files_affine(
    tmp_path: Path, phantom_data: np.ndarray, phantom_affine: np.ndarray, write_nib: Callable
) -> None:
    path = write_nib(tmp_path / "a.nii.gz", phantom_data, phantom_affine)
    volume = read_nifti(path)
    assert volume.array.shape == (1, 6, 7, 8)
    np.testing.assert_array_equal(volume.array[0], phantom_data)
    np.testing.assert_array_equal(volume.affine, phantom_affine)
    assert volume.spacing_mm == (0.75, 1.25, 2.5)
    assert volume.source == str(path)
    assert volume.metadata["format"] == "nifti"


def test_nibabel_anatomical_keeps_integers_in_native_byte_order(nibabel_data: Path) -> None:
    path = nibabel_data / "anatomical.nii"
    volume = read_nifti(path)
    reference = nib.load(path)
    assert volume.array.shape == (1, 33, 41, 25)
    assert volume.array.dtype == np.int16 and volume.array.dtype.isnative
    assert volume.metadata["original_dtype"] == ">i2"
    np.testing.assert_array_equal(volume.array[0], np.asarray(reference.dataobj))
    np.testing.assert_array_equal(volume.affine, reference.affine)


def test_integer_labels_are_not_scaled(tmp_path: Path, write_nib: Callable) -> None:
    labels = np.zeros((4, 5, 6), dtype=np.uint8)
    labels[1:3, 2:4, 3:5] = 7
    volume = read_nifti(write_nib(tmp_path / "seg.nii.gz", labels, np.eye(4)))
    assert volume.array.dtype == np.uint8
    assert volume.metadata["scaled"] is False


def test_scaled_integers_become_float32(tmp_path: Path) -> None:
    data = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    image = nib.Nifti1Image(data, np.eye(4), dtype=np.int16)
    image.header.set_slope_inter(0.5, -10.0)
    nib.save(image, tmp_path / "scaled.nii")
    volume = read_nifti(tmp_path / "scaled.nii")
    assert volume.array.dtype == np.float32
    np.testing.assert_allclose(volume.array[0], data * 0.5 - 10.0)
    assert volume.metadata["scaled"] is True


def test_header_units_in_metres_become_millimetres(tmp_path: Path) -> None:
    image = nib.Nifti1Image(np.ones((2, 3, 4), np.float32), np.diag([0.001, 0.001, 0.002, 1]))
    image.header.set_xyzt_units(xyz="meter")
    nib.save(image, tmp_path / "m.nii")
    np.testing.assert_allclose(read_nifti(tmp_path / "m.nii").spacing_mm, (1.0, 1.0, 2.0))


def test_2d_nifti_gets_a_singleton_third_axis(tmp_path: Path, write_nib: Callable) -> None:
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    volume = read_nifti(write_nib(tmp_path / "flat.nii", data, np.eye(4)))
    assert volume.array.shape == (1, 3, 4, 1)


def test_vector_intent_5d_becomes_channels(tmp_path: Path, write_nib: Callable) -> None:
    data = np.arange(2 * 3 * 4 * 3, dtype=np.float32).reshape(2, 3, 4, 1, 3)
    volume = read_nifti(write_nib(tmp_path / "vec.nii", data, np.eye(4)), channel="all")
    assert volume.array.shape == (3, 2, 3, 4)
    np.testing.assert_array_equal(volume.array[2], data[..., 0, 2])


class TestFourD:
    def test_refuses_to_guess(self, nibabel_data: Path) -> None:
        path = nibabel_data / "example4d.nii.gz"
        with pytest.raises(InputError) as caught:
            read_nifti(path)
        message = str(caught.value)
        assert str(path) in message
        assert "T=2" in message and "channel=INDEX" in message and "channel='all'" in message

    def test_picks_one_volume(self, nibabel_data: Path) -> None:
        path = nibabel_data / "example4d.nii.gz"
        volume = read_nifti(path, channel=1)
        assert volume.array.shape == (1, 128, 96, 24)
        np.testing.assert_array_equal(volume.array[0], np.asarray(nib.load(path).dataobj)[..., 1])

    def test_keeps_all_as_channels(self, nibabel_data: Path) -> None:
        path = nibabel_data / "example4d.nii.gz"
        volume = read_nifti(path, channel="all")
        assert volume.array.shape == (2, 128, 96, 24)
        np.testing.assert_array_equal(volume.array[1], np.asarray(nib.load(path).dataobj)[..., 1])

    @pytest.mark.parametrize("channel", [2, -1])
    def test_out_of_range_index_names_file_and_t(self, nibabel_data: Path, channel: int) -> None:
        path = nibabel_data / "example4d.nii.gz"
        with pytest.raises(InputError, match="out of range") as caught:
            read_nifti(path, channel=channel)
        assert str(path) in str(caught.value) and "T=2" in str(caught.value)

    def test_single_volume_4d_is_squeezed(self, tmp_path: Path, write_nib: Callable) -> None:
        data = np.arange(24, dtype=np.float32).reshape(2, 3, 4, 1)
        path = write_nib(tmp_path / "t1.nii.gz", data, np.eye(4))
        assert read_nifti(path).array.shape == (1, 2, 3, 4)
        assert read_nifti(path, channel=0).array.shape == (1, 2, 3, 4)


class TestDamagedFiles:
    def test_random_bytes(self, tmp_path: Path) -> None:
        path = tmp_path / "noise.nii.gz"
        path.write_bytes(np.random.default_rng(0).bytes(2000))
        with pytest.raises(InputError, match="corrupt or truncated") as caught:
            read_nifti(path)
        assert str(path) in str(caught.value)

    def test_gzip_of_random_bytes(self, tmp_path: Path) -> None:
        path = tmp_path / "noise2.nii.gz"
        path.write_bytes(gzip.compress(np.random.default_rng(1).bytes(2000)))
        with pytest.raises(InputError, match="corrupt or truncated"):
            read_nifti(path)

    @pytest.mark.parametrize("name", ["cut.nii.gz", "cut.nii"])
    def test_cut_in_half(self, tmp_path: Path, write_nib: Callable, name: str) -> None:
        data = np.random.default_rng(2).normal(size=(16, 16, 16)).astype(np.float32)
        whole = write_nib(tmp_path / ("whole" + name[3:]), data, np.eye(4)).read_bytes()
        path = tmp_path / name
        path.write_bytes(whole[: len(whole) // 2])
        with pytest.raises(InputError, match="corrupt or truncated") as caught:
            read_nifti(path)
        assert str(path) in str(caught.value)


def test_zero_size_axis_in_the_header(tmp_path: Path, write_nib: Callable) -> None:
    path = write_nib(tmp_path / "empty.nii", np.zeros((4, 0, 3), np.float32), np.eye(4))
    with pytest.raises(
        InputError, match=r"zero-size axis: the header's dimensions are \(4, 0, 3\)"
    ):
        read_nifti(path)
