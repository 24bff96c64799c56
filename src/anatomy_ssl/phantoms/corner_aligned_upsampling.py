"""Upsample coarse grids that span a field of view corner to corner (control points, fields).

The corner samples of the coarse grid sit on the corner voxels of the fine grid (as in
`scipy.ndimage.zoom(..., grid_mode=False)`), so the same coarse values describe the same field,
in world terms, at any resolution of the same field of view. Interpolation is separable, so it
is done as three small matrix products (BLAS) instead of per-voxel spline evaluation: for cubic
order on a brain-sized grid that is over ten times faster than `zoom`, with the same result.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage as ndi


@functools.lru_cache(maxsize=64)
def interpolation_matrix(coarse: int, fine: int, order: int) -> np.ndarray:
    """`(fine, coarse)` float32 matrix of 1D corner-aligned spline interpolation.

    Column `i` is `scipy.ndimage.zoom` of the `i`-th unit vector (mirror boundary), so
    `matrix @ values` equals `zoom(values, fine / coarse, order=order, grid_mode=False)`.
    The returned array is read-only (cached).
    """
    columns = [
        ndi.zoom(unit, fine / coarse, order=order, mode="mirror", grid_mode=False)
        for unit in np.eye(coarse)
    ]
    matrix = np.stack(columns, axis=1).astype(np.float32)  # (fine, coarse)
    matrix.setflags(write=False)
    return matrix


def upsample_corner_aligned(
    field: np.ndarray, size_vox: tuple[int, int, int], *, order: int = 3
) -> np.ndarray:
    """Interpolate a coarse `(C, a, b, c)` grid onto a `(C, X, Y, Z)` grid of the same extent.

    Args:
        field: `(C, a, b, c)` values (each spatial axis at least 2).
        size_vox: `(X, Y, Z)` output grid.
        order: spline order, 1 (linear) or 3 (cubic, smooth).

    Returns:
        `(C, X, Y, Z)` float32.
    """
    if field.ndim != 4 or min(field.shape[1:]) < 2:
        raise ValueError(f"field must be (C, a, b, c) with a, b, c >= 2; got {field.shape}")
    out = field.astype(np.float32)  # (C, a, b, c)
    for fine in size_vox:
        matrix = interpolation_matrix(out.shape[1], int(fine), order)  # (fine, coarse)
        # Contract the first spatial axis and append the fine one: the axes cycle, and after
        # three steps they are back in order, contiguous: (C, b, c, X) -> (C, c, X, Y) -> ...
        out = np.tensordot(out, matrix, axes=([1], [1]))
    return out
