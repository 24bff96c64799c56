"""SimpleITK image -> Volume: array axis order and the LPS -> RAS change of world frame.

ITK (like DICOM) measures the world in LPS+ millimetres (+x Left, +y Posterior, +z Superior);
the Volume contract uses RAS+ (nibabel's), so x and y change sign. `sitk.GetArrayFromImage`
returns axes in reverse index order, `(k, j, i)`; Volumes keep the affine's index order instead.

3D images become `(C, i, j, k)` with a 4x4 RAS affine. 2D images (2D NRRD / MetaImage) become
`(C, rows, cols) = (C, j, i)` with a 3x3 image-plane affine in ITK's own 2D frame (x across the
image, y down it), the same convention as `image2d_reader` and `image_plane.squeeze_to_2d`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk

from anatomy_ssl.io.volume import Volume

#: Multiplying an LPS point (homogeneous, 3D) by this gives the RAS point, and vice versa.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def itk_index_affine(image: sitk.Image) -> np.ndarray:
    """The voxel-index -> ITK physical-point matrix, with columns in ITK index order.

    Args:
        image: a 2D or 3D SimpleITK image.

    Returns:
        `(S + 1, S + 1)` float64 matrix: `direction @ diag(spacing)` with the origin as the last
        column, in ITK's own world frame (LPS mm for 3D), columns ordered `(i, j[, k])`.
    """
    dims = image.GetDimension()
    spacing = np.asarray(image.GetSpacing(), dtype=np.float64)  # (S,) mm
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(dims, dims)
    affine = np.eye(dims + 1)
    affine[:dims, :dims] = direction * spacing[None, :]
    affine[:dims, dims] = np.asarray(image.GetOrigin(), dtype=np.float64)
    return affine


def volume_from_itk(image: sitk.Image, *, source: str, metadata: dict[str, Any]) -> Volume:
    """Wrap a 2D or 3D SimpleITK image (scalar or vector pixels) as a Volume.

    Args:
        image: the image; vector pixels (e.g. RGB) become channels.
        source: path recorded in the Volume.
        metadata: reader facts; `original_dtype` is added.

    Returns:
        3D: array `(C, i, j, k)` with a 4x4 RAS mm affine. 2D: array `(C, rows, cols)` with a
        3x3 image-plane affine (x along the columns, y along the rows, mm).

    Raises:
        ValueError: for images that are neither 2D nor 3D (callers turn this into InputError).
    """
    dims = image.GetDimension()
    if dims not in (2, 3):
        raise ValueError(f"{dims}-D images are not supported (only 2D and 3D)")
    array = sitk.GetArrayFromImage(image)  # (k, j, i[, c]) or (j, i[, c]), a fresh copy
    scalar = image.GetNumberOfComponentsPerPixel() == 1
    array = array[None] if scalar else np.moveaxis(array, -1, 0)  # (C, k, j, i) or (C, j, i)
    index_affine = itk_index_affine(image)
    if dims == 3:
        array = np.transpose(array, (0, 3, 2, 1))  # (C, i, j, k)
        affine = LPS_TO_RAS @ index_affine
    else:
        # (C, j, i) is already (C, rows, cols); swap the affine's columns to (j, i) to match.
        affine = index_affine[:, [1, 0, 2]]
    info = {**metadata, "original_dtype": str(array.dtype)}
    return Volume(array=array, affine=affine, source=source, metadata=info)


def itk_error_reason(error: RuntimeError) -> str:
    """The informative last line of SimpleITK's multi-line exception text."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
