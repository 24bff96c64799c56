"""Between 3D volumes with a single slice and 2D images: array layout and affine.

2D Volumes follow one convention whatever file they came from: the array is `(C, rows, cols)`
and the 3x3 affine maps `(row, col)` to millimetres in the image plane, x across the image (along
the columns) and y down it (along the rows) for a PNG, a radiograph or an axial slice.

A 3D volume `(C, i, j, k)` with one singleton axis becomes 2D as follows. Of the two remaining
voxel axes a < b, a runs along the columns and b along the rows, as ITK, DICOM and NIfTI viewers
display i across and j down; so the array becomes `(C, b, a)`. The plane's world coordinates are
measured along the two LPS (DICOM) world axes closest to the plane, projected into it and made
orthonormal: for axial slices and radiographs that is DICOM's own x (across) and y (down), for
oblique slices the spacing stays true. `lift_to_3d` is the exact inverse (it places the image in
an axial plane), so `write_nifti` -> `read_volume(spatial_dims=2)` keeps a 2D affine unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anatomy_ssl.errors import InputError
from anatomy_ssl.io.itk_conversion import LPS_TO_RAS
from anatomy_ssl.io.volume import Volume

#: Below this |normal| (relative to the two columns' lengths) the plane is undefined.
_PARALLEL_TOLERANCE = 1e-9


def squeeze_to_2d(volume: Volume, *, path: str | Path) -> Volume:
    """Drop the single singleton spatial axis of a 3D volume.

    Args:
        volume: array `(C, i, j, k)` with exactly one of i, j, k equal to 1; 4x4 RAS affine.
        path: the file, named in errors.

    Returns:
        Array `(C, rows, cols)` and a 3x3 image-plane affine (module docstring). Metadata gains
        `affine_3d`, the original 4x4 affine as nested lists.

    Raises:
        InputError: not exactly one singleton axis, or the two remaining axes are parallel.
    """
    size = volume.size_vox
    singletons = [axis for axis, n in enumerate(size) if n == 1]
    if volume.spatial_dims != 3 or len(singletons) != 1:
        raise InputError(
            path,
            f"3D volume where a 2D image is required: spatial shape {size} must have exactly "
            "one axis of size 1",
        )
    dropped = singletons[0]
    col_axis, row_axis = (axis for axis in range(3) if axis != dropped)
    lps = LPS_TO_RAS @ volume.affine  # (4, 4): the flip is its own inverse
    col_step, row_step = lps[:3, col_axis], lps[:3, row_axis]  # (3,) mm per voxel
    normal = np.cross(col_step, row_step)
    scale = np.linalg.norm(col_step) * np.linalg.norm(row_step)
    if not np.linalg.norm(normal) > _PARALLEL_TOLERANCE * scale:
        raise InputError(path, "singular affine: the image plane's two axes are parallel")
    frame = _plane_frame(normal / np.linalg.norm(normal))  # (2, 3): rows x_2d, y_2d
    affine = np.eye(3)
    affine[:2, 0] = frame @ row_step
    affine[:2, 1] = frame @ col_step
    affine[:2, 2] = frame @ lps[:3, 3]
    array = np.squeeze(volume.array, axis=dropped + 1)  # (C, a, b)
    array = np.swapaxes(array, 1, 2)  # (C, b, a) = (C, rows, cols)
    metadata = {**volume.metadata, "affine_3d": volume.affine.tolist()}
    return Volume(array=array, affine=affine, source=volume.source, metadata=metadata)


def lift_to_3d(volume: Volume) -> Volume:
    """Place a 2D image in an axial plane of a 3D volume with one slice of 1 mm.

    Args:
        volume: array `(C, rows, cols)` with a 3x3 image-plane affine.

    Returns:
        Array `(C, cols, rows, 1)` and the 4x4 RAS affine whose image-plane coordinates are the
        LPS x and y, so `squeeze_to_2d(lift_to_3d(v))` gives back v's array and affine.
    """
    plane = volume.affine
    lps = np.eye(4)
    lps[:2, 0] = plane[:2, 1]  # i runs along the columns
    lps[:2, 1] = plane[:2, 0]  # j runs along the rows
    lps[:2, 3] = plane[:2, 2]  # k: 1 mm along LPS z
    array = np.swapaxes(volume.array, 1, 2)[..., None]  # (C, cols, rows, 1)
    return Volume(
        array=array, affine=LPS_TO_RAS @ lps, source=volume.source, metadata=dict(volume.metadata)
    )


def _plane_frame(normal: np.ndarray) -> np.ndarray:
    """Orthonormal in-plane axes from the two LPS axes least aligned with the unit normal.

    Args:
        normal: `(3,)` unit normal of the plane.

    Returns:
        `(2, 3)`: rows are the in-plane x and y directions (LPS). For a plane normal to a world
        axis they are exactly the other two world axes, in x, y, z order.
    """
    kept = [axis for axis in range(3) if axis != int(np.argmax(np.abs(normal)))]
    first, second = np.eye(3)[kept]
    u = first - (first @ normal) * normal
    u /= np.linalg.norm(u)
    v = second - (second @ normal) * normal - (second @ u) * u
    v /= np.linalg.norm(v)
    return np.stack([u, v])
