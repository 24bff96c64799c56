"""The public entry point for reading images and label maps of any supported format."""

from __future__ import annotations

from pathlib import Path

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.dicom_series_reader import read_dicom_series
from anatomy_ssl.io.file_formats import SUPPORTED_SUFFIXES, FileFormat, detect_format
from anatomy_ssl.io.image2d_reader import read_image_2d
from anatomy_ssl.io.image_plane import squeeze_to_2d
from anatomy_ssl.io.nifti_reader import Channel, read_nifti
from anatomy_ssl.io.sitk_reader import read_sitk_image
from anatomy_ssl.io.volume import Volume
from anatomy_ssl.io.volume_validation import validate_image, validate_label

_SUPPORTED = ", ".join(SUPPORTED_SUFFIXES) + " or a folder of DICOM files"


def read_volume(
    path: str | Path,
    *,
    spatial_dims: int = 3,
    channel: Channel = None,
    series_uid: str | None = None,
    to_grayscale: bool = True,
) -> Volume:
    """Read and validate an image: NIfTI, NRRD, MetaImage, DICOM file or series, PNG / JPEG.

    Args:
        path: a file, or a folder holding DICOM series.
        spatial_dims: 3 for volumes, 2 for images. With 2, a 3D file with exactly one axis of
            size 1 (a single DICOM slice or radiograph, a 2D NIfTI) is squeezed to 2D.
        channel: 4D NIfTI only: index of the volume to keep, "all", or None (refuses T > 1).
        series_uid: DICOM folders only: which series to read when there are several.
        to_grayscale: PNG / JPEG only: colour -> one luminance channel.

    Returns:
        3D: array `(C, i, j, k)` in the file's voxel index order (not reoriented; see
        `preprocess/`) with a 4x4 RAS mm affine. 2D: array `(C, rows, cols)` with a 3x3
        image-plane affine (x across, y down, mm; see `image_plane`). Voxels keep the file's
        numeric dtype (scaled NIfTI -> float32, DICOM rescale applied by ITK).

    Raises:
        InputError: missing path, unsupported or mismatched format, corrupt file, options that
            do not apply to the format, 2D where 3D is required (or vice versa), or anything
            `validate_image` refuses.
    """
    path = Path(path)
    volume = _read_any(path, channel=channel, series_uid=series_uid, to_grayscale=to_grayscale)
    if spatial_dims == 2 and volume.spatial_dims == 3 and volume.size_vox.count(1) == 1:
        volume = squeeze_to_2d(volume, path=path)
    validate_image(volume, path=path, spatial_dims=spatial_dims)
    return volume


def read_label(path: str | Path, *, image: Volume, series_uid: str | None = None) -> Volume:
    """Read a label map and check it against its image.

    Args:
        path: the label file (any format `read_volume` reads; indexed PNGs give their indices).
        image: the image it annotates, as returned by `read_volume`.
        series_uid: DICOM folders only, as for `read_volume`.

    Returns:
        Array `(1, ...)` with the image's spatial shape and an integer dtype (the file's integer
        type, bool -> uint8, integer-valued floats -> the smallest of uint8 / int16 / int32 /
        int64); the affine matches the image's within tolerance (`validate_label`).

    Raises:
        InputError: a missing, unsupported or corrupt file, several channels, non-integer or
            negative values, or a shape or affine that differs from the image's. (A constant
            label map, e.g. all background, is fine.)
    """
    path = Path(path)
    label = _read_any(
        path, channel=None, series_uid=series_uid, to_grayscale=False, keep_palette_indices=True
    )
    if image.spatial_dims == 2 and label.spatial_dims == 3 and label.size_vox.count(1) == 1:
        label = squeeze_to_2d(label, path=path)
    if label.spatial_dims != image.spatial_dims:
        raise InputError(
            path, f"label is {label.spatial_dims}D but the image is {image.spatial_dims}D"
        )
    return validate_label(label, image=image, path=path)


def _read_any(
    path: Path,
    *,
    channel: Channel,
    series_uid: str | None,
    to_grayscale: bool,
    keep_palette_indices: bool = False,
) -> Volume:
    """Dispatch on the detected format; no validation."""
    if not path.exists():
        raise InputError(path, "file not found")
    file_format = detect_format(path)
    if file_format is None:
        raise InputError(path, f"not a supported image: expected one of {_SUPPORTED}")
    if channel is not None and file_format is not FileFormat.NIFTI:
        raise InputError(path, f"channel= applies to 4D NIfTI files, not {file_format.value}")
    if series_uid is not None and file_format is not FileFormat.DICOM_SERIES:
        raise InputError(path, f"series_uid= applies to DICOM folders, not {file_format.value}")
    if file_format is FileFormat.NIFTI:
        return read_nifti(path, channel=channel)
    if file_format is FileFormat.DICOM_SERIES:
        return read_dicom_series(path, series_uid=series_uid)
    if file_format is FileFormat.IMAGE_2D:
        return read_image_2d(
            path, to_grayscale=to_grayscale, keep_palette_indices=keep_palette_indices
        )
    return read_sitk_image(path)
