"""Find the DICOM series in a folder and read one of them as a 3D volume."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.dicom_slice_order import order_dicom_slices
from anatomy_ssl.io.file_formats import is_dicom_file, is_utf8_path, printable_path
from anatomy_ssl.io.itk_conversion import itk_error_reason, volume_from_itk
from anatomy_ssl.io.volume import Volume

#: How many unreadable files an error message names before summarising the rest.
_MAX_LISTED = 5


@dataclass(frozen=True)
class DicomSeriesInfo:
    """One series found in a folder.

    Attributes:
        uid: SeriesInstanceUID.
        description: SeriesDescription of its first file ("" when absent).
        files: paths of its files, in GDCM's order.
    """

    uid: str
    description: str
    files: tuple[str, ...]

    @property
    def num_files(self) -> int:
        """Number of files (slices, or frames files) in the series."""
        return len(self.files)

    def summary(self) -> str:
        """One line for listings: uid, description, number of files."""
        return f"{self.uid} ({self.description!r}, {self.num_files} file(s))"


def list_dicom_series(folder: str | Path) -> list[DicomSeriesInfo]:
    """The DICOM series directly inside a folder (not its subfolders), sorted by UID.

    Args:
        folder: a folder of DICOM files.

    Returns:
        One DicomSeriesInfo per SeriesInstanceUID; empty if the folder holds no DICOM series.

    Raises:
        InputError: the folder does not exist, or its path is not UTF-8 (see `is_utf8_path`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(printable_path(folder), "folder not found")
    if not is_utf8_path(folder):  # GDCM aborts the process on such a path
        problem = "folder name is not UTF-8, so SimpleITK cannot open it; rename it"
        raise InputError(printable_path(folder), problem)
    series = []
    for uid in sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)):
        files = tuple(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), uid))
        if files:
            description = _tag(files[0], "SeriesDescription")
            series.append(DicomSeriesInfo(uid=uid, description=description, files=files))
    return sorted(series, key=lambda info: info.uid)


def read_dicom_series(folder: str | Path, *, series_uid: str | None = None) -> Volume:
    """Read one DICOM series as a 3D volume.

    Args:
        folder: a folder of DICOM files.
        series_uid: the SeriesInstanceUID to read; may be None when the folder holds one series.

    Returns:
        Array `(C, i, j, k)`: i the pixel column (moving along ImageOrientationPatient's row
        direction), j the pixel row, k the slice, ordered along the normal `row x column`;
        4x4 RAS mm affine
        (converted from DICOM's LPS). A one-file series gives `k == 1` (or the frames of a
        multi-frame file). Values have RescaleSlope / RescaleIntercept applied (e.g. CT in HU).
        Metadata: `format`, `series_uid`, `series_description`, `modality`, `num_files`,
        `original_dtype`.

    Raises:
        InputError: no series (the message names the DICOM files that cannot be read); several
            series and no `series_uid` (the message lists them); an unknown `series_uid` (lists
            the valid ones); a file name that is not UTF-8 (named by its bytes' repr); missing
            slices, duplicate positions or non-uniform spacing; unreadable pixel data.
    """
    folder = Path(folder)
    series = list_dicom_series(folder)
    if not series:
        raise InputError(folder, f"no DICOM series found{_unreadable_files_note(folder)}")
    listing = "\n  ".join(info.summary() for info in series)
    if series_uid is None:
        if len(series) > 1:
            raise InputError(
                folder,
                f"{len(series)} DICOM series found; choose one with series_uid=UID:\n  {listing}",
            )
        chosen = series[0]
    else:
        matches = [info for info in series if info.uid == series_uid]
        if not matches:
            raise InputError(
                folder, f"no DICOM series with uid {series_uid!r}; the folder holds:\n  {listing}"
            )
        chosen = matches[0]
    non_utf8 = [printable_path(Path(file).name) for file in chosen.files if not is_utf8_path(file)]
    if non_utf8:
        raise InputError(
            folder,
            f"DICOM file name(s) not UTF-8, so SimpleITK cannot open them: {_listing(non_utf8)}; "
            "rename them",
        )
    files = order_dicom_slices(chosen.files, folder=folder)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    try:
        image = reader.Execute()
    except RuntimeError as error:
        raise InputError(
            folder, f"cannot read DICOM series {chosen.uid}: {itk_error_reason(error)}"
        ) from error
    metadata: dict[str, Any] = {
        "format": "dicom_series",
        "series_uid": chosen.uid,
        "series_description": chosen.description,
        "modality": _tag(files[0], "Modality"),
        "num_files": chosen.num_files,
    }
    try:
        return volume_from_itk(image, source=str(folder), metadata=metadata)
    except ValueError as error:
        raise InputError(folder, str(error)) from error


def _unreadable_files_note(folder: Path) -> str:
    """Why a folder holds no series: its DICOM files (if any) cannot be read as DICOM images."""
    names = sorted(printable_path(child.name) for child in folder.iterdir() if is_dicom_file(child))
    if not names:
        return " (the folder holds no DICOM files)"
    return (
        f": {_listing(names)} cannot be read as DICOM image(s) (corrupt, truncated, or not DICOM)"
    )


def _listing(names: list[str]) -> str:
    """The first `_MAX_LISTED` names, comma separated, then how many more."""
    more = len(names) - _MAX_LISTED
    return ", ".join(names[:_MAX_LISTED]) + (f" and {more} more" if more > 0 else "")


def _tag(file: str, keyword: str) -> str:
    """A text tag of a DICOM file's header, "" when absent or unreadable."""
    try:
        header = pydicom.dcmread(file, stop_before_pixels=True, specific_tags=[keyword])
    except (InvalidDicomError, OSError, ValueError):
        return ""
    return str(header.get(keyword, "")).strip()
