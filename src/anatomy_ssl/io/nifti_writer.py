"""Write a Volume to NIfTI atomically."""

from __future__ import annotations

import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.file_formats import full_suffix
from anatomy_ssl.io.image_plane import lift_to_3d
from anatomy_ssl.io.volume import Volume

#: Integer dtypes tried, smallest first, for 64-bit integer arrays (which many tools reject).
_NARROW_INTEGER_DTYPES = (np.uint8, np.int16, np.int32)


def write_nifti(volume: Volume, path: str | Path) -> Path:
    """Write a volume as `.nii` or `.nii.gz`, replacing any existing file atomically.

    The data is written to a temporary file in the destination folder and renamed over `path`,
    so readers never see a half-written file, even if the process dies.

    Args:
        volume: 3D `(C, X, Y, Z)` with a 4x4 RAS affine, or 2D `(C, rows, cols)` with a 3x3
            image-plane affine; 2D images are stored as `(cols, rows, 1)` with a 1 mm third axis
            (`image_plane.lift_to_3d`), which `read_volume(spatial_dims=2)` undoes exactly.
        path: destination ending in `.nii` or `.nii.gz` (gzip-compressed); missing parent
            folders are created.

    Returns:
        The written path. One channel gives a 3D NIfTI `(X, Y, Z)`, C > 1 a 4D `(X, Y, Z, C)`.
        The affine is stored as sform and, unless it has shear, as qform (float32 in the
        header), units mm. Voxels keep
        their dtype without scaling, except: bool -> uint8, float16 -> float32, and 64-bit
        integers -> the smallest of uint8, int16, int32 that holds the values (else int64).

    Raises:
        InputError: `path` does not end in `.nii` / `.nii.gz`.
    """
    path = Path(path)
    suffix = full_suffix(path)
    if suffix not in (".nii", ".nii.gz"):
        raise InputError(path, "a NIfTI file name must end in .nii or .nii.gz")
    if volume.spatial_dims == 2:
        volume = lift_to_3d(volume)
    data = _storable(volume.array)  # (C, X, Y, Z)
    data = data[0] if data.shape[0] == 1 else np.moveaxis(data, 0, -1)  # (X, Y, Z[, C])
    image = nib.Nifti1Image(data, volume.affine, dtype=data.dtype)
    image.header.set_xyzt_units(xyz="mm")
    image.set_sform(volume.affine, code="aligned")
    image.set_qform(volume.affine, code="aligned")
    if not np.allclose(image.get_qform(), volume.affine, atol=1e-4):
        image.set_qform(None)  # sheared: a qform cannot hold it, so tools must use the sform
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=suffix, delete=False
    ) as handle:
        temporary = Path(handle.name)
    try:
        nib.save(image, temporary)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _storable(array: np.ndarray) -> np.ndarray:
    """The array in a dtype NIfTI tools read without surprises (see `write_nifti`)."""
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if array.dtype == np.float16:
        return array.astype(np.float32)
    if array.dtype in (np.int64, np.uint64) and array.size:
        low, high = array.min(), array.max()
        for dtype in _NARROW_INTEGER_DTYPES:
            info = np.iinfo(dtype)
            if info.min <= low and high <= info.max:
                return array.astype(dtype)
    return array
