from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.nifti_reader import read_nifti
from anatomy_ssl.io.nifti_writer import write_nifti
from anatomy_ssl.io.volume import Volume
from anatomy_ssl.io.volume_reader import read_volume


@pytest.mark.parametrize("name", ["out.nii.gz", "out.nii"])
def test_float32_round_trip_is_exact(
    tmp_path: Path, name: str, phantom_data: np.ndarray, phantom_affine: np.ndarray
) -> None:
    volume = Volume(array=phantom_data[None], affine=phantom_affine)
    back = read_nifti(write_nifti(volume, tmp_path / name))
    assert back.array.dtype == np.float32
    np.testing.assert_array_equal(back.array, volume.array)
    np.testing.assert_array_equal(back.affine, volume.affine)
    assert back.metadata["scaled"] is False


def test_integer_labels_stay_integer(tmp_path: Path, phantom_affine: np.ndarray) -> None:
    labels = np.zeros((1, 6, 7, 8), np.int16)
    labels[0, 2:4, 3:5, 1:6] = 300
    back = read_nifti(
        write_nifti(Volume(array=labels, affine=phantom_affine), tmp_path / "s.nii.gz")
    )
    assert back.array.dtype == np.int16
    np.testing.assert_array_equal(back.array, labels)


def test_int64_is_narrowed_without_changing_values(tmp_path: Path) -> None:
    labels = np.arange(24, dtype=np.int64).reshape(1, 2, 3, 4)
    back = read_nifti(write_nifti(Volume(array=labels, affine=np.eye(4)), tmp_path / "l.nii"))
    assert back.array.dtype == np.uint8
    np.testing.assert_array_equal(back.array, labels)


def test_oblique_affine_round_trips_to_float32_precision(tmp_path: Path) -> None:
    angle = np.deg2rad(17)
    affine = np.eye(4)
    affine[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    affine[:3, :3] *= [0.8, 0.8, 2.0]
    affine[:3, 3] = [-91.3, 12.7, 40.1]
    volume = Volume(array=np.ones((1, 2, 3, 4), np.float32), affine=affine)
    back = read_nifti(write_nifti(volume, tmp_path / "o.nii.gz"))
    np.testing.assert_allclose(back.affine, affine, atol=1e-5)


def test_several_channels_make_a_4d_file(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    path = write_nifti(Volume(array=array, affine=np.eye(4)), tmp_path / "m.nii.gz")
    assert nib.load(path).shape == (3, 4, 5, 2)
    np.testing.assert_array_equal(read_nifti(path, channel="all").array, array)


def test_2d_round_trip_through_read_volume(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    affine = np.array([[0.0, 0.5, 10.0], [0.25, 0.0, -4.0], [0.0, 0.0, 1.0]])
    path = write_nifti(Volume(array=array, affine=affine), tmp_path / "flat.nii.gz")
    assert nib.load(path).shape == (4, 3, 1)  # (cols, rows, 1): viewers show i across
    back = read_volume(path, spatial_dims=2)
    np.testing.assert_array_equal(back.array, array)
    np.testing.assert_array_equal(back.affine, affine)


def test_replaces_atomically_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    first = Volume(array=np.zeros((1, 2, 2, 2), np.float32), affine=np.eye(4))
    second = Volume(array=np.ones((1, 2, 2, 2), np.float32), affine=np.eye(4))
    write_nifti(first, tmp_path / "sub" / "v.nii.gz")
    write_nifti(second, tmp_path / "sub" / "v.nii.gz")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["v.nii.gz"]
    np.testing.assert_array_equal(read_nifti(tmp_path / "sub" / "v.nii.gz").array, second.array)


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    good = Volume(array=np.zeros((1, 2, 2, 2), np.float32), affine=np.eye(4))
    write_nifti(good, tmp_path / "v.nii")
    unstorable = Volume(array=np.zeros((1, 2, 2, 2), np.dtype("V4")), affine=np.eye(4))
    with pytest.raises(Exception):  # noqa: B017 (any nibabel error)
        write_nifti(unstorable, tmp_path / "v.nii")
    assert [p.name for p in tmp_path.iterdir()] == ["v.nii"]
    np.testing.assert_array_equal(read_nifti(tmp_path / "v.nii").array, good.array)


def test_refuses_other_suffixes(tmp_path: Path) -> None:
    volume = Volume(array=np.zeros((1, 2, 2, 2), np.float32), affine=np.eye(4))
    with pytest.raises(InputError, match=r"\.nii or \.nii\.gz") as caught:
        write_nifti(volume, tmp_path / "v.nrrd")
    assert str(tmp_path / "v.nrrd") in str(caught.value)


def test_sheared_affine_is_kept_in_the_sform_only(tmp_path: Path) -> None:
    affine = np.eye(4)
    affine[0, 1] = 0.25  # shear: no qform can represent it
    volume = Volume(array=np.ones((1, 2, 3, 4), np.float32), affine=affine)
    path = write_nifti(volume, tmp_path / "shear.nii.gz")
    header = nib.load(path).header
    assert (int(header["qform_code"]), int(header["sform_code"])) == (0, 2)
    np.testing.assert_array_equal(read_nifti(path).affine, affine)
