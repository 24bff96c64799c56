from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.dicom_slice_order import order_dicom_slices


def _paths(slices: list[dict]) -> list[str]:
    return [str(item["path"]) for item in slices]


def test_sorts_along_the_normal_whatever_the_file_names(
    tmp_path: Path, write_dicom_series: Callable
) -> None:
    slices = write_dicom_series(tmp_path, count=4)  # names run against positions
    shuffled = _paths(slices)[::-1]
    assert order_dicom_slices(shuffled, folder=tmp_path) == _paths(slices)


def test_sorts_along_a_flipped_normal(tmp_path: Path, write_dicom_series: Callable) -> None:
    # row x column = (1,0,0) x (0,-1,0) = (0,0,-1): increasing position means decreasing z
    slices = write_dicom_series(tmp_path, count=3, orientation=(1, 0, 0, 0, -1, 0))
    assert order_dicom_slices(_paths(slices)[::-1], folder=tmp_path) == _paths(slices)


def test_single_file_is_accepted(tmp_path: Path, write_dicom_series: Callable) -> None:
    slices = write_dicom_series(tmp_path, count=1)
    assert order_dicom_slices(_paths(slices), folder=tmp_path) == _paths(slices)


def test_duplicate_positions(tmp_path: Path, write_dicom_series: Callable) -> None:
    slices = write_dicom_series(tmp_path, count=4)
    ds = pydicom.dcmread(slices[2]["path"])
    ds.ImagePositionPatient = [float(v) for v in slices[1]["position"]]
    ds.save_as(slices[2]["path"])
    with pytest.raises(InputError, match="duplicate slice positions") as caught:
        order_dicom_slices(_paths(slices), folder=tmp_path)
    assert str(tmp_path) in str(caught.value) and slices[2]["path"].name in str(caught.value)


def test_non_uniform_spacing(tmp_path: Path, write_dicom_series: Callable) -> None:
    slices = write_dicom_series(tmp_path, count=5, spacing=2.0)
    ds = pydicom.dcmread(slices[4]["path"])
    ds.ImagePositionPatient = [float(v) for v in slices[4]["position"] + [0.0, 0.0, 0.5]]
    ds.save_as(slices[4]["path"])
    with pytest.raises(InputError, match=r"gap of 2\.5 mm after slice 4 of 5 .* 2 mm is typical"):
        order_dicom_slices(_paths(slices), folder=tmp_path)


def test_mixed_orientations(tmp_path: Path, write_dicom_series: Callable) -> None:
    slices = write_dicom_series(tmp_path, count=3)
    ds = pydicom.dcmread(slices[1]["path"])
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]
    ds.save_as(slices[1]["path"])
    with pytest.raises(InputError, match="different orientations"):
        order_dicom_slices(_paths(slices), folder=tmp_path)


def test_missing_position(tmp_path: Path, write_dicom_series: Callable) -> None:
    slices = write_dicom_series(tmp_path, count=3)
    ds = pydicom.dcmread(slices[0]["path"])
    del ds.ImagePositionPatient
    ds.save_as(slices[0]["path"])
    with pytest.raises(InputError, match="lacks ImagePositionPatient"):
        order_dicom_slices(_paths(slices), folder=tmp_path)
