"""Order the slices of a DICOM series along its normal and refuse gaps, duplicates and tilts.

ITK builds a series' geometry from the first slices' positions and trusts the rest; a missing
slice or a mixed-in localizer would silently distort the volume. Here every slice's
ImagePositionPatient is projected onto the normal of ImageOrientationPatient (row x column) and
the gaps between neighbours must agree with their median.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from anatomy_ssl.errors import InputError

#: A gap may differ from the median gap by at most this fraction of it.
GAP_TOLERANCE = 0.10

#: Slices closer than this along the normal (mm) are at the same position.
DUPLICATE_POSITION_MM = 1e-3

#: Largest difference between two slices' direction cosines (ImageOrientationPatient).
ORIENTATION_TOLERANCE = 1e-4

#: How many problem gaps an error message lists before summarising the rest.
_MAX_LISTED = 5

_GEOMETRY_TAGS = ["ImagePositionPatient", "ImageOrientationPatient"]


def order_dicom_slices(files: Sequence[str], *, folder: str | Path) -> list[str]:
    """Sort a series' files by position along the slice normal, checking uniform spacing.

    Args:
        files: the files of one series.
        folder: the series folder, named in errors.

    Returns:
        The files sorted by increasing position along `row x column` of the orientation (the
        order in which ITK's slice axis k points along that normal). A single file is returned
        as it is.

    Raises:
        InputError: a slice lacks position / orientation, orientations differ, two slices share
            a position, or a gap deviates from the median gap by more than `GAP_TOLERANCE`
            (missing slices or non-uniform spacing); the message names the slices and files.
    """
    if len(files) < 2:
        return list(files)
    positions, orientations = _read_geometry(files, folder)  # (N, 3), (N, 6)
    tilted = np.flatnonzero(
        np.abs(orientations - orientations[0]).max(axis=1) > ORIENTATION_TOLERANCE
    )
    if tilted.size:
        raise InputError(
            folder,
            f"slices of one series have different orientations (ImageOrientationPatient): "
            f"{Path(files[tilted[0]]).name} differs from {Path(files[0]).name}",
        )
    normal = np.cross(orientations[0, :3], orientations[0, 3:])
    normal /= np.linalg.norm(normal)
    along = positions @ normal  # (N,) mm along the normal
    order = np.argsort(along, kind="stable")
    sorted_files = [files[index] for index in order]
    _check_gaps(along[order], sorted_files, folder)
    return sorted_files


def _read_geometry(files: Sequence[str], folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """ImagePositionPatient `(N, 3)` and ImageOrientationPatient `(N, 6)` of every file."""
    positions, orientations = [], []
    for file in files:
        try:
            header = pydicom.dcmread(file, stop_before_pixels=True, specific_tags=_GEOMETRY_TAGS)
        except (InvalidDicomError, OSError, ValueError) as error:
            raise InputError(
                folder, f"cannot read DICOM header of {Path(file).name}: {error}"
            ) from error
        position = header.get("ImagePositionPatient")
        orientation = header.get("ImageOrientationPatient")
        if position is None or orientation is None or len(position) != 3 or len(orientation) != 6:
            raise InputError(
                folder,
                f"{Path(file).name} lacks ImagePositionPatient / ImageOrientationPatient, so the "
                "slices cannot be stacked into a 3D volume",
            )
        positions.append([float(value) for value in position])
        orientations.append([float(value) for value in orientation])
    return np.asarray(positions), np.asarray(orientations)


def _check_gaps(along: np.ndarray, files: Sequence[str], folder: str | Path) -> None:
    """Refuse duplicate positions and gaps off the median; `along` is sorted, `(N,)` mm."""
    gaps = np.diff(along)  # (N - 1,) mm; gap g lies between slices g and g + 1
    duplicates = np.flatnonzero(gaps < DUPLICATE_POSITION_MM)
    if duplicates.size:
        listed = "; ".join(
            f"{Path(files[g]).name} and {Path(files[g + 1]).name} at {_mm(along[g])} mm"
            for g in duplicates[:_MAX_LISTED]
        )
        raise InputError(
            folder,
            f"duplicate slice positions ({duplicates.size}): {listed}{_more(duplicates.size)}; "
            "the series may hold several volumes (echoes, time points) or repeated slices",
        )
    typical = float(np.median(gaps))
    bad = np.flatnonzero(np.abs(gaps - typical) > GAP_TOLERANCE * typical)
    if bad.size:
        listed = "; ".join(
            f"gap of {_mm(gaps[g])} mm after slice {g + 1} of {len(files)} ({Path(files[g]).name})"
            for g in bad[:_MAX_LISTED]
        )
        raise InputError(
            folder,
            f"missing slice(s) or non-uniform spacing: {listed}{_more(bad.size)} "
            f"where {_mm(typical)} mm is typical",
        )


def _mm(value: float) -> str:
    return f"{round(float(value), 3):g}"


def _more(count: int) -> str:
    return f"; and {count - _MAX_LISTED} more" if count > _MAX_LISTED else ""
