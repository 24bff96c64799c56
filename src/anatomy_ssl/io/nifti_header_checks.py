"""Checks of a NIfTI header made before its voxels are read: voxel spacing and data size.

nibabel quietly repairs some header faults while loading (a zero pixdim becomes 1 mm, a negative
one its absolute value) and trusts the header's dimensions when it allocates the voxel array, so
a header claiming 32767^3 voxels ends in a MemoryError. These checks catch both first.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import cast

import nibabel as nib
import numpy as np
from nibabel.arrayproxy import ArrayProxy
from nibabel.openers import ImageOpener

from anatomy_ssl.errors import InputError

log = logging.getLogger(__name__)

#: Largest ratio of decompressed to compressed size deflate (gzip) can reach (about 1032:1),
#: so a `.nii.gz` of N bytes never holds more than this times N bytes of header and voxels.
MAX_GZIP_EXPANSION = 1032


def check_header_spacing(path: Path, image: nib.Nifti1Image) -> None:
    """Refuse a zero voxel spacing (pixdim) in the header and log a warning for a negative one.

    The header is read again as written, since nibabel's load has already replaced the values.
    Only spatial axes (the first three) longer than one voxel are checked: the spacing of a
    single-slice axis is never used.

    Args:
        path: the NIfTI file `image` was loaded from.
        image: the loaded image (its header class says NIfTI-1 or NIfTI-2).

    Raises:
        InputError: a checked axis has pixdim 0 (the message gives the header's pixdims).
    """
    with ImageOpener(str(path)) as opener:
        written = type(image.header).from_fileobj(opener, check=False)
    axes = min(int(written["dim"][0]), 3)
    sizes = [int(n) for n in written["dim"][1 : axes + 1]]
    pixdims = tuple(float(p) for p in written["pixdim"][1 : axes + 1])  # header units
    checked = [pixdim for pixdim, size in zip(pixdims, sizes, strict=True) if size > 1]
    if any(pixdim == 0 for pixdim in checked):
        raise InputError(
            path,
            f"zero voxel spacing in the header: pixdim {pixdims} for an image of size "
            f"{tuple(sizes)}; every axis needs a positive voxel size",
        )
    if any(pixdim < 0 for pixdim in checked):
        log.warning(
            "%s: negative voxel spacing in the header (pixdim %s); using its absolute value %s",
            path,
            pixdims,
            tuple(abs(pixdim) for pixdim in pixdims),
        )


def check_data_size(path: Path, image: nib.Nifti1Image) -> None:
    """Refuse a header that claims more voxel bytes than the file can hold.

    An uncompressed file must hold the header's data offset plus every voxel; a gzip file
    (`.nii.gz`) cannot decompress to more than `MAX_GZIP_EXPANSION` times its size. Nothing is
    decompressed or read beyond the header.

    Args:
        path: the NIfTI file `image` was loaded from.
        image: the loaded image (header parsed, data not read).

    Raises:
        InputError: "implausible dimensions", with the claimed shape, voxel type and bytes.
    """
    proxy = cast(ArrayProxy, image.dataobj)  # shape, voxel type, offset as nibabel reads them
    shape = tuple(int(n) for n in proxy.shape)
    dtype = np.dtype(proxy.dtype)
    offset = int(proxy.offset)
    data_bytes = math.prod(shape) * dtype.itemsize
    file_bytes = path.stat().st_size
    compressed = path.name.lower().endswith(".gz")
    capacity = file_bytes * MAX_GZIP_EXPANSION if compressed else file_bytes
    if offset + data_bytes <= capacity:
        return
    claim = (
        f"the header claims {' x '.join(str(n) for n in shape)} voxels of {dtype} "
        f"({data_bytes:,} bytes)"
    )
    if compressed:
        held = f"a gzip file of {file_bytes:,} bytes decompresses to at most {capacity:,} bytes"
    else:
        held = (
            f"the file holds {max(file_bytes - offset, 0):,} bytes after its {offset}-byte header"
        )
    raise InputError(
        path, f"implausible dimensions (corrupt or truncated file?): {claim}, but {held}"
    )
