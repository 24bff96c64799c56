"""Exact parallel-beam projection of an axis-aligned RAS volume: sums along the A-P array axis."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates

from anatomy_ssl.phantoms.radiograph_geometry import RadiographGeometry, radiograph_geometry


def parallel_projection(
    mu: np.ndarray,
    ranks: dict[str, np.ndarray],
    affine: np.ndarray,
    geometry: RadiographGeometry,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Project along voxel axis j (+y) onto `geometry`'s detector grid.

    Each ray of the volume's own grid runs through one column of voxels `(i, :, k)`, so its
    optical depth is the plain sum of attenuation times the voxel size along y, and its label
    rank the largest rank in the column. On another pixel grid the projection is resampled
    bilinearly (labels: nearest neighbour; no anti-aliasing, so prefer spacings at or finer
    than the volume's); outside the volume's shadow, by less than a pixel, edges are extended.

    Args:
        mu: `(X, Y, Z)` linear attenuation, 1/mm, on an axis-aligned RAS grid.
        ranks: label-set name -> `(X, Y, Z)` uint8 draw-order ranks (`LabelDrawOrder.ranks`).
        affine: `(4, 4)` voxel-to-RAS matrix with a diagonal, positive linear part, mm.
        geometry: a parallel-beam geometry of this volume (`radiograph_geometry`).

    Returns:
        `(H, W)` float64 optical depth and, per label set, the `(H, W)` uint8 highest rank
        along each ray.
    """
    integral = _display_order(mu.sum(axis=1, dtype=np.float64) * affine[1, 1])  # (Z, X)
    top = {name: _display_order(rank.max(axis=1)) for name, rank in ranks.items()}  # (Z, X)
    native = radiograph_geometry(affine, mu.shape)  # pixel (r, c) <-> voxels (X-1-c, :, Z-1-r)
    if native.shape == geometry.shape and np.allclose(native.affine, geometry.affine):
        return integral, top
    to_native = np.linalg.inv(native.affine) @ geometry.affine  # output pixel -> native pixel
    pixels = np.indices(geometry.shape, dtype=float)  # (2, H, W): row, col
    coords = np.tensordot(to_native[:2, :2], pixels, axes=1) + to_native[:2, 2, None, None]
    integral = map_coordinates(integral, coords, order=1, mode="nearest")
    top = {
        name: map_coordinates(rank, coords, order=0, mode="nearest") for name, rank in top.items()
    }
    return integral, top


def _display_order(projection: np.ndarray) -> np.ndarray:
    """`(X, Z)` projection -> `(Z, X)` (rows, cols): Superior at the top, patient's Right left."""
    return np.ascontiguousarray(projection[::-1, ::-1].T)
