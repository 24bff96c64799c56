"""Read NIfTI-1/2 files (`.nii`, `.nii.gz`) with nibabel."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any, Literal

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.nifti_header_checks import check_data_size, check_header_spacing
from anatomy_ssl.io.volume import Volume

#: Everything nibabel, gzip and zlib raise on damaged files.
_CORRUPT_ERRORS = (ImageFileError, HeaderDataError, OSError, EOFError, zlib.error, ValueError)

#: Factor from the header's spatial unit to millimetres (unknown units are taken as mm).
_UNIT_TO_MM: dict[str, float] = {"meter": 1000.0, "mm": 1.0, "micron": 0.001, "unknown": 1.0}

Channel = int | Literal["all"] | None


def read_nifti(path: str | Path, *, channel: Channel = None) -> Volume:
    """Read a NIfTI file into a channel-first Volume.

    Args:
        path: a `.nii` or `.nii.gz` file.
        channel: for 4D files `(X, Y, Z, T)` with T > 1: an index in `0..T-1` picks one volume,
            `"all"` keeps all T as channels; None (default) refuses T > 1 so no volume is
            silently dropped. T == 1 is squeezed whatever this says (only index 0 is valid).

    Returns:
        Array `(C, X, Y, Z)`, the spatial axes in nibabel's (file) voxel order, and the header's
        best affine (sform, else qform) as a 4x4 RAS mm matrix (header units metre / micron are
        converted to mm). A 2D file gives `Z == 1`. Voxels keep the on-disk dtype (integer label
        maps stay integer) in native byte order; files with a non-identity scl_slope /
        scl_inter are scaled and become float32.
        Metadata: `format`, `original_dtype`, `scaled`, `num_volumes`.

    Raises:
        InputError: corrupt or truncated file, a zero voxel spacing (pixdim) in the header,
            dimensions implying more voxel bytes than the file holds, unsupported voxel type or
            dimensionality, or a 4D file without a usable `channel`. A negative pixdim is read
            as its absolute value, with a logged warning.
    """
    path = Path(path)
    image = _load(path)
    dims = tuple(int(n) for n in image.header["dim"][1 : int(image.header["dim"][0]) + 1])
    if 0 in dims:  # nibabel would silently cut the shape at the first 0
        raise InputError(path, f"zero-size axis: the header's dimensions are {dims}")
    check_header_spacing(path, image)
    check_data_size(path, image)
    try:
        data = np.asanyarray(image.dataobj)  # (X, Y[, Z[, T, ...]]), scaled if the header says
    except _CORRUPT_ERRORS as error:
        raise InputError(path, f"corrupt or truncated NIfTI file ({error})") from error
    raw_dtype = np.dtype(image.get_data_dtype())
    affine = np.asarray(image.affine, dtype=np.float64)
    unit = image.header.get_xyzt_units()[0]
    if raw_dtype.fields is not None or not np.issubdtype(data.dtype, np.number):
        raise InputError(path, f"unsupported NIfTI voxel type {raw_dtype} (RGB / structured)")
    slope = getattr(image.dataobj, "slope", 1.0)
    inter = getattr(image.dataobj, "inter", 0.0)
    scaled = bool(slope != 1.0 or inter != 0.0)
    if scaled:
        data = data.astype(np.float32, copy=False)
    elif not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))  # torch refuses big-endian arrays
    affine[:3] *= _UNIT_TO_MM.get(unit, 1.0)
    data = _as_xyzt(data, path)  # (X, Y, Z, T)
    array = _select_channels(data, channel, path)  # (C, X, Y, Z)
    metadata: dict[str, Any] = {
        "format": "nifti",
        "original_dtype": str(raw_dtype),
        "scaled": scaled,
        "num_volumes": int(data.shape[3]),
    }
    return Volume(array=array, affine=affine, source=str(path), metadata=metadata)


def _load(path: Path) -> nib.Nifti1Image:
    """The image with its header parsed (data not read yet)."""
    try:
        image = nib.load(path, mmap=False)
    except _CORRUPT_ERRORS as error:
        raise InputError(path, f"corrupt or truncated NIfTI file ({error})") from error
    if not isinstance(image, nib.Nifti1Image):  # Nifti2Image is a subclass
        raise InputError(path, f"not a NIfTI image (nibabel read a {type(image).__name__})")
    return image


def _as_xyzt(data: np.ndarray, path: Path) -> np.ndarray:
    """Reshape NIfTI data of 2 to 7 axes to `(X, Y, Z, T)`."""
    if data.ndim < 2:
        raise InputError(path, f"NIfTI with {data.ndim} axis/axes; expected 2D, 3D or 4D")
    if data.ndim == 2:
        return data[:, :, None, None]  # (X, Y, 1, 1)
    extra = [size for size in data.shape[3:] if size != 1]
    if len(extra) > 1:
        raise InputError(
            path, f"NIfTI of shape {data.shape} has more than one non-spatial axis longer than 1"
        )
    # Only singleton axes are dropped, so this reshape never reorders voxels.
    return data.reshape((*data.shape[:3], extra[0] if extra else 1))


def _select_channels(data: np.ndarray, channel: Channel, path: Path) -> np.ndarray:
    """`(X, Y, Z, T)` -> `(C, X, Y, Z)` following the `channel` rule of `read_nifti`."""
    volumes = data.shape[3]
    if channel == "all":
        return np.moveaxis(data, 3, 0)
    if channel is None:
        if volumes > 1:
            raise InputError(
                path,
                f"4D volume with T={volumes} volumes; choose one with channel=INDEX "
                "or keep all with channel='all'",
            )
        return np.moveaxis(data, 3, 0)
    if isinstance(channel, bool) or not isinstance(channel, int):
        raise InputError(path, f"channel must be an index, 'all' or None; got {channel!r}")
    if not 0 <= channel < volumes:
        raise InputError(
            path,
            f"channel={channel} is out of range: the file holds T={volumes} volume(s) "
            f"(valid indices 0..{volumes - 1})",
        )
    return data[None, :, :, :, channel]
