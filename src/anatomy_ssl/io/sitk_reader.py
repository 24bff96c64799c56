"""Read NRRD, MetaImage (.mha / .mhd) and single DICOM files with SimpleITK."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.file_formats import FileFormat, detect_format
from anatomy_ssl.io.itk_conversion import itk_error_reason, volume_from_itk
from anatomy_ssl.io.volume import Volume

log = logging.getLogger(__name__)

#: The ITK reader forced for each format, so a file that is not what its suffix says fails
#: loudly instead of being decoded by whichever reader happens to accept it.
_IMAGE_IO: dict[FileFormat, str] = {
    FileFormat.NRRD: "NrrdImageIO",
    FileFormat.METAIMAGE: "MetaImageIO",
    FileFormat.DICOM_FILE: "GDCMImageIO",
}

_FORMAT_NAMES: dict[FileFormat, str] = {
    FileFormat.NRRD: "NRRD",
    FileFormat.METAIMAGE: "MetaImage",
    FileFormat.DICOM_FILE: "DICOM",
}

#: DICOM tags copied into the metadata of a single DICOM file (ITK "group|element" keys).
_DICOM_TAGS: dict[str, str] = {
    "modality": "0008|0060",
    "series_uid": "0020|000e",
    "series_description": "0008|103e",
}


def read_sitk_image(path: str | Path) -> Volume:
    """Read one NRRD, MetaImage or DICOM file.

    Args:
        path: a `.nrrd` / `.nhdr`, `.mha` / `.mhd`, or DICOM file (`.dcm`, `.dicom`, or an
            extension-less file with the DICOM magic bytes).

    Returns:
        3D files: array `(C, i, j, k)` in ITK index order with a 4x4 RAS mm affine (converted
        from ITK's LPS). A single DICOM slice is 3D with one slice (`k == 1`). 2D files: array
        `(C, rows, cols)` with a 3x3 image-plane affine. Vector pixels (RGB) are channels. The
        dtype is the file's (DICOM rescale slope/intercept applied by ITK). Metadata: `format`,
        `original_dtype`, and for DICOM `modality`, `series_uid`, `series_description`.

    Raises:
        InputError: the format is not one of these, the header gives a zero voxel spacing, or
            the file is corrupt, truncated, not the format its name says, or neither 2D nor 3D.
            A negative spacing is read as a reversed axis (ITK's reading), with a logged
            warning.
    """
    path = Path(path)
    file_format = detect_format(path)
    if file_format not in _IMAGE_IO:
        raise InputError(path, "not a NRRD, MetaImage or DICOM file")
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.SetImageIO(_IMAGE_IO[file_format])
    try:
        reader.ReadImageInformation()
        _check_spacing(path, reader.GetSpacing())
        image = reader.Execute()
    except RuntimeError as error:
        name = _FORMAT_NAMES[file_format]
        raise InputError(
            path,
            f"cannot read it as {name}: the file is corrupt, truncated or not a {name} image "
            f"({itk_error_reason(error)})",
        ) from error
    metadata: dict[str, Any] = {"format": file_format.value}
    if file_format is FileFormat.DICOM_FILE:
        for name, key in _DICOM_TAGS.items():
            if reader.HasMetaDataKey(key):
                metadata[name] = reader.GetMetaData(key).strip()
    try:
        return volume_from_itk(image, source=str(path), metadata=metadata)
    except ValueError as error:
        raise InputError(path, str(error)) from error


def _check_spacing(path: Path, spacing: tuple[float, ...]) -> None:
    """Refuse a zero voxel spacing (mm, ITK index order); warn about a negative one."""
    if any(size == 0 for size in spacing):
        raise InputError(
            path,
            f"zero voxel spacing in the header: spacing {spacing} mm; every axis needs a "
            "positive voxel size",
        )
    if any(size < 0 for size in spacing):
        log.warning(
            "%s: negative voxel spacing in the header (%s mm); read as %s mm with the axis "
            "direction reversed",
            path,
            spacing,
            tuple(abs(size) for size in spacing),
        )
