"""Checks that a freshly read image or label map can be used, with errors a user can act on."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.volume import Volume

#: Smallest and largest plausible voxel size per axis (mm); outside is a unit or header error.
MIN_SPACING_MM = 0.01
MAX_SPACING_MM = 100.0

#: Below this |det| of the direction cosines (1 for orthogonal axes) an affine is singular.
SINGULAR_DIRECTION_DET = 1e-6

#: A label's origin and voxel sizes may differ from the image's by this fraction of the image's
#: smallest voxel size (absorbs float32 NIfTI headers and DICOM -> NIfTI conversions).
LABEL_POSITION_TOLERANCE = 1e-3

#: Largest difference between a label's and the image's unit axis directions.
LABEL_DIRECTION_TOLERANCE = 1e-4

_INTEGER_LABEL_DTYPES = (np.uint8, np.int16, np.int32, np.int64)

#: How many distinct offending label values an error message lists.
_SHOWN_LABEL_VALUES = 5


def validate_image(volume: Volume, *, path: str | Path, spatial_dims: int) -> None:
    """Refuse images that cannot be used, naming the file and the problem.

    Args:
        volume: the image, `(C, ...)` with S spatial axes and an `(S + 1, S + 1)` affine.
        path: the file or folder it was read from.
        spatial_dims: 2 or 3, what the caller needs. A 3D volume with exactly one axis of size 1
            is accepted for 2 (see `image_plane.squeeze_to_2d`); for 3 no axis may have size 1.

    Raises:
        InputError: zero-size axis; wrong dimensionality; non-numeric voxels; NaN or infinite
            voxels (with counts); a constant image (with its value); an affine that is not
            finite, has a voxel size outside `MIN_SPACING_MM..MAX_SPACING_MM` or is singular.
        ValueError: `spatial_dims` is not 2 or 3 (a programming error).
    """
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 or 3; got {spatial_dims}")
    array = volume.array
    if 0 in array.shape:
        raise InputError(path, f"zero-size axis: array shape (channels, spatial...) {array.shape}")
    _check_dimensionality(volume, path, spatial_dims)
    if not (
        np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
        or array.dtype == np.bool_
    ):
        raise InputError(path, f"unsupported voxel type {array.dtype}; expected real numbers")
    low, high = array.min(), array.max()  # NaN and +-inf show up here: no extra full pass
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite([low, high]).all():
        nan = int(np.count_nonzero(np.isnan(array)))
        inf = int(np.count_nonzero(np.isinf(array)))
        raise InputError(path, f"{nan} NaN and {inf} infinite voxel(s) out of {array.size}")
    if low == high:
        raise InputError(path, f"constant image: every voxel is {low.item()}")
    check_affine(volume.affine, path=path)


def _check_dimensionality(volume: Volume, path: str | Path, spatial_dims: int) -> None:
    """Refuse 2D where 3D is required and vice versa."""
    size = volume.size_vox
    singletons = sum(1 for n in size if n == 1)
    if spatial_dims == 3 and (volume.spatial_dims == 2 or singletons):
        raise InputError(
            path,
            f"2D image where a 3D volume is required: spatial shape {size}"
            + (" has a single slice; read it with spatial_dims=2" if singletons else ""),
        )
    if spatial_dims == 2 and volume.spatial_dims == 3 and singletons != 1:
        raise InputError(
            path,
            f"3D volume where a 2D image is required: spatial shape {size} has "
            f"{singletons} axes of size 1 (exactly one is needed to read it as 2D)",
        )


def check_affine(affine: np.ndarray, *, path: str | Path) -> None:
    """Refuse non-finite, implausibly scaled or singular voxel-to-world matrices.

    Args:
        affine: `(S + 1, S + 1)` voxel -> world (mm) matrix.
        path: the file, named in errors.

    Raises:
        InputError: with the offending values.
    """
    dims = affine.shape[0] - 1
    if not np.all(np.isfinite(affine)):
        raise InputError(path, f"affine has NaN or infinite entries: {_brief(affine)}")
    linear = affine[:dims, :dims]
    spacing = np.linalg.norm(linear, axis=0)  # (S,) mm per voxel along each array axis
    for axis, size in enumerate(spacing):
        if size <= 0:
            raise InputError(path, f"zero voxel spacing along axis {axis}: {_brief(affine)}")
        if not MIN_SPACING_MM <= size <= MAX_SPACING_MM:
            raise InputError(
                path,
                f"implausible voxel spacing {size:g} mm along axis {axis} (expected "
                f"{MIN_SPACING_MM:g} to {MAX_SPACING_MM:g} mm; are the header's units wrong?)",
            )
    if abs(np.linalg.det(linear / spacing)) < SINGULAR_DIRECTION_DET:
        raise InputError(path, f"singular affine (voxel axes are parallel): {_brief(affine)}")


def validate_label(label: Volume, *, image: Volume, path: str | Path) -> Volume:
    """Check a label map against its image and give it an integer dtype.

    Args:
        label: one channel, `(1, ...)`, read from `path`.
        image: the (already validated) image it annotates.
        path: the label's file, named in errors.

    Returns:
        The label with an integer dtype: integer labels keep theirs, bool becomes uint8,
        integer-valued floats become the smallest of uint8, int16, int32, int64 that holds them.

    Raises:
        InputError: several channels; non-integer (or NaN) or negative values (with the
            values); a spatial shape or affine that differs from the image's (affines within
            `LABEL_POSITION_TOLERANCE` x the image's smallest spacing and
            `LABEL_DIRECTION_TOLERANCE` match).
    """
    if label.num_channels != 1:
        raise InputError(path, f"a label map must have one channel; got {label.num_channels}")
    if label.size_vox != image.size_vox:
        raise InputError(
            path,
            f"label shape {label.size_vox} does not match the image's spatial shape "
            f"{image.size_vox}",
        )
    label = label.with_array(_integer_labels(label.array, path))
    _check_no_negative_labels(label.array, path)
    _check_same_geometry(label.affine, image.affine, path)
    return label


def _integer_labels(array: np.ndarray, path: str | Path) -> np.ndarray:
    """Integer version of a label array, refusing non-integer values."""
    if np.issubdtype(array.dtype, np.integer):
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(path, f"unsupported label voxel type {array.dtype}")
    fractional = ~(np.isfinite(array) & (array == np.round(array)))
    count = int(np.count_nonzero(fractional))
    if count:
        example = array[fractional].flat[0].item()
        raise InputError(
            path,
            f"non-integer label values in {count} voxel(s) (e.g. {example!r}); a label map "
            "must hold integer class indices",
        )
    low, high = (array.min(), array.max()) if array.size else (0, 0)
    for dtype in _INTEGER_LABEL_DTYPES:
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return array.astype(dtype)
    raise InputError(path, f"label values {low}..{high} do not fit a 64-bit integer")


def _check_no_negative_labels(array: np.ndarray, path: str | Path) -> None:
    """Refuse negative class indices in an integer label array (e.g. -1 "ignore" markers)."""
    if np.issubdtype(array.dtype, np.unsignedinteger) or array.size == 0 or array.min() >= 0:
        return
    negative = array < 0
    values = np.unique(array[negative]).tolist()
    shown = ", ".join(str(value) for value in values[:_SHOWN_LABEL_VALUES])
    if len(values) > _SHOWN_LABEL_VALUES:
        shown += ", ..."
    raise InputError(
        path,
        f"negative label values ({shown}) in {int(np.count_nonzero(negative))} voxel(s); a "
        "label map must hold class indices >= 0 (0 = background)",
    )


def _check_same_geometry(
    label_affine: np.ndarray, image_affine: np.ndarray, path: str | Path
) -> None:
    """Refuse a label affine that places voxels elsewhere than the image's."""
    dims = image_affine.shape[0] - 1
    if label_affine.shape != image_affine.shape:
        raise InputError(path, f"label is {label_affine.shape[0] - 1}D but the image is {dims}D")
    image_linear, label_linear = image_affine[:dims, :dims], label_affine[:dims, :dims]
    image_spacing = np.linalg.norm(image_linear, axis=0)  # (S,) mm
    label_spacing = np.linalg.norm(label_linear, axis=0)
    tolerance_mm = LABEL_POSITION_TOLERANCE * float(image_spacing.min())
    problems = []
    origin_shift = float(np.linalg.norm(label_affine[:dims, dims] - image_affine[:dims, dims]))
    if not origin_shift <= tolerance_mm:
        problems.append(f"origins differ by {origin_shift:.4g} mm")
    spacing_diff = float(np.abs(label_spacing - image_spacing).max())
    if not spacing_diff <= tolerance_mm:
        problems.append(f"voxel sizes differ by up to {spacing_diff:.4g} mm")
    with np.errstate(divide="ignore", invalid="ignore"):
        direction_diff = float(
            np.abs(label_linear / label_spacing - image_linear / image_spacing).max()
        )
    if not direction_diff <= LABEL_DIRECTION_TOLERANCE:
        problems.append(f"axis directions differ by up to {direction_diff:.3g}")
    if problems:
        raise InputError(
            path,
            f"label geometry does not match the image ({'; '.join(problems)}; tolerance "
            f"{tolerance_mm:.3g} mm): label affine {_brief(label_affine)} vs image affine "
            f"{_brief(image_affine)}",
        )


def _brief(affine: np.ndarray) -> str:
    """An affine on one line with 3 decimals."""
    rows = ["[" + ", ".join(f"{value:.3f}" for value in row) + "]" for row in affine]
    return "[" + ", ".join(rows) + "]"
