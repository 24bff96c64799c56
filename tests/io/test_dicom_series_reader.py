from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.dicom_series_reader import list_dicom_series, read_dicom_series

INTERCEPT = -1024  # CT_small.dcm's RescaleIntercept, kept by the series writer


def _ras(point_lps: np.ndarray) -> np.ndarray:
    return point_lps * np.array([-1.0, -1.0, 1.0])


OBLIQUE = (1.0, 0.0, 0.0, 0.0, float(np.cos(0.3)), float(np.sin(0.3)))


@pytest.mark.parametrize(
    "orientation", [(1.0, 0.0, 0.0, 0.0, 1.0, 0.0), (1.0, 0.0, 0.0, 0.0, -1.0, 0.0), OBLIQUE]
)
def test_round_trip_geometry_and_values(
    tmp_path: Path, write_dicom_series: Callable, orientation: tuple[float, ...]
) -> None:
    slices = write_dicom_series(tmp_path / "ct", orientation=orientation)
    volume = read_dicom_series(tmp_path / "ct")
    assert volume.array.shape == (1, 12, 10, 5)  # (C, cols, rows, slices)
    row_dir, col_dir = np.array(orientation[:3]), np.array(orientation[3:])
    for k, item in enumerate(slices):
        np.testing.assert_array_equal(volume.array[0, :, :, k], item["pixels"].T + INTERCEPT)
        # DICOM PS3.3 C.7.6.2.1.1: P = IPP + col * column_spacing * row_dir + row * row_spacing
        # * col_dir, with PixelSpacing = (row spacing 0.7, column spacing 0.5).
        for row, col in [(0, 0), (9, 0), (0, 11), (4, 7)]:
            lps = item["position"] + col * 0.5 * row_dir + row * 0.7 * col_dir
            world = volume.affine @ np.array([col, row, k, 1.0])
            np.testing.assert_allclose(world[:3], _ras(lps), atol=1e-4)
    np.testing.assert_allclose(volume.spacing_mm, (0.5, 0.7, 2.5), atol=1e-6)
    assert volume.metadata["series_uid"] == slices[0]["uid"]
    assert volume.metadata["modality"] == "CT"
    assert volume.metadata["series_description"] == "tiny CT"
    assert volume.metadata["num_files"] == 5


def test_lists_series(tmp_path: Path, write_dicom_series: Callable) -> None:
    first = write_dicom_series(tmp_path, count=3, description="one", prefix="a")
    second = write_dicom_series(tmp_path, count=4, description="two", prefix="b")
    series = {info.uid: info for info in list_dicom_series(tmp_path)}
    assert series.keys() == {first[0]["uid"], second[0]["uid"]}
    assert series[first[0]["uid"]].description == "one"
    assert series[second[0]["uid"]].num_files == 4


def test_two_series_need_a_uid_and_the_error_lists_both(
    tmp_path: Path, write_dicom_series: Callable
) -> None:
    first = write_dicom_series(tmp_path, count=3, description="arterial", prefix="a")
    second = write_dicom_series(tmp_path, count=4, description="venous", prefix="b")
    with pytest.raises(InputError, match="series_uid") as caught:
        read_dicom_series(tmp_path)
    message = str(caught.value)
    assert str(tmp_path) in message and "2 DICOM series" in message
    for uid, description, count in [
        (first[0]["uid"], "arterial", 3),
        (second[0]["uid"], "venous", 4),
    ]:
        assert uid in message and description in message and f"{count} file(s)" in message
    picked = read_dicom_series(tmp_path, series_uid=second[0]["uid"])
    assert picked.size_vox == (12, 10, 4)
    assert picked.metadata["series_description"] == "venous"


def test_unknown_uid_lists_the_valid_ones(tmp_path: Path, write_dicom_series: Callable) -> None:
    slices = write_dicom_series(tmp_path, count=2)
    with pytest.raises(InputError, match=r"no DICOM series with uid '1\.2\.3'") as caught:
        read_dicom_series(tmp_path, series_uid="1.2.3")
    assert slices[0]["uid"] in str(caught.value)


def test_missing_middle_slice(tmp_path: Path, write_dicom_series: Callable) -> None:
    slices = write_dicom_series(tmp_path, count=6, spacing=2.5)
    slices[3]["path"].unlink()
    with pytest.raises(InputError, match="missing slice") as caught:
        read_dicom_series(tmp_path)
    message = str(caught.value)
    assert str(tmp_path) in message
    assert "gap of 5 mm after slice 3 of 5" in message and "2.5 mm is typical" in message
    assert slices[2]["path"].name in message


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no DICOM series found") as caught:
        read_dicom_series(tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder not found"):
        list_dicom_series(tmp_path / "nope")


def test_single_file_series_is_a_thin_volume(tmp_path: Path, ct_small_path: Path) -> None:
    shutil.copy(ct_small_path, tmp_path / "only.dcm")
    volume = read_dicom_series(tmp_path)
    assert volume.size_vox == (128, 128, 1)


def test_no_series_names_the_dicom_files_that_cannot_be_read(
    tmp_path: Path, ct_small_path: Path
) -> None:
    (tmp_path / "stray.dcm").write_bytes(b"not a DICOM file")
    (tmp_path / "cut.dcm").write_bytes(ct_small_path.read_bytes()[:-5000])  # truncated
    (tmp_path / "scan.nii.gz").write_bytes(b"")  # not DICOM: not named
    with pytest.raises(InputError, match="no DICOM series found") as caught:
        read_dicom_series(tmp_path)
    assert caught.value.path == str(tmp_path)
    assert caught.value.problem == (
        "no DICOM series found: cut.dcm, stray.dcm cannot be read as DICOM image(s) "
        "(corrupt, truncated, or not DICOM)"
    )


def test_a_slice_name_that_is_not_utf8_is_refused_naming_its_bytes(
    tmp_path: Path, write_dicom_series: Callable
) -> None:
    slices = write_dicom_series(tmp_path, count=3)
    latin1 = os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.dcm")
    slices[1]["path"].rename(latin1)
    with pytest.raises(InputError, match="not UTF-8") as caught:  # was a TypeError from ITK
        read_dicom_series(tmp_path)
    assert "b'caf\\xe9.dcm'" in caught.value.problem and caught.value.path == str(tmp_path)


def test_a_folder_name_that_is_not_utf8_is_refused_before_gdcm_sees_it(
    tmp_path: Path, write_dicom_series: Callable
) -> None:
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/s\xe9rie"))
    write_dicom_series(folder, count=2)
    with pytest.raises(InputError, match="folder name is not UTF-8") as caught:  # GDCM aborted
        list_dicom_series(folder)
    assert caught.value.path == repr(os.fsencode(folder))
