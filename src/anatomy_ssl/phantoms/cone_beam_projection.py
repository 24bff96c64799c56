"""Perspective (cone-beam) projection of an axis-aligned RAS volume, one coronal plane at a time.

For a volume whose voxel axes run along x, y, z, every coronal plane of voxel centres (constant
j) meets the rays from a point source on a separable grid: the x where a ray crosses the plane
depends only on the detector column, the z only on the row, both magnified about the source by
the same factor. So the bilinear samples of a whole plane are two gathers (rows, then columns)
with 1D weights, and its nearest-neighbour label samples one outer-indexed gather. This gives the
samples of `ray_casting.ray_cast_projection` (rays cut at the voxel-centre planes) at a fraction
of the cost; the loop runs over planes, not voxels.
"""

from __future__ import annotations

import numpy as np

from anatomy_ssl.phantoms.radiograph_geometry import RadiographGeometry


def cone_beam_projection(
    mu: np.ndarray,
    ranks: dict[str, np.ndarray],
    affine: np.ndarray,
    geometry: RadiographGeometry,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Project from `geometry`'s point source onto its detector.

    Outside the volume is air (attenuation 0, background label). Labels are sampled by nearest
    neighbour once per plane, so a structure thinner than a voxel may be missed by oblique rays.

    Args:
        mu: `(X, Y, Z)` linear attenuation, 1/mm, on an axis-aligned RAS grid.
        ranks: label-set name -> `(X, Y, Z)` uint8 draw-order ranks (`LabelDrawOrder.ranks`).
        affine: `(4, 4)` voxel-to-RAS matrix with a diagonal, positive linear part, mm.
        geometry: a perspective geometry (`source_mm` set) from `radiograph_geometry`, whose
            affine has no rotation.

    Returns:
        `(H, W)` float64 optical depth and, per label set, the `(H, W)` uint8 highest rank
        along each ray.
    """
    if geometry.source_mm is None:
        raise ValueError("cone_beam_projection needs a geometry with a source")
    source = geometry.source_mm
    size_x, size_y, size_z = mu.shape
    spacing_x, spacing_y, spacing_z = np.diag(affine)[:3]
    origin = affine[:3, 3]
    detector = geometry.detector_points_mm()  # (H, W, 3)
    detector_x, detector_z = detector[0, :, 0], detector[:, 0, 2]  # (W,), (H,)
    distance = geometry.detector_y_mm - source[1]  # source to detector, mm
    # Path length per plane: the obliquity |d| of each ray, d scaled to unit steps in y.
    obliquity = np.sqrt(
        1.0
        + ((detector_x[None, :] - source[0]) ** 2 + (detector_z[:, None] - source[2]) ** 2)
        / distance**2
    )  # (H, W)
    # Zero borders: indices clipped into -1..n land on them, so samples outside read air / 0.
    padded_mu = np.pad(mu, ((1, 1), (0, 0), (1, 1)))  # (X+2, Y, Z+2)
    padded_ranks = {name: np.pad(rank, ((1, 1), (0, 0), (1, 1))) for name, rank in ranks.items()}
    integral = np.zeros((geometry.shape[1], geometry.shape[0]))  # (W, H)
    top = {name: np.zeros((geometry.shape[1], geometry.shape[0]), np.uint8) for name in ranks}
    for j in range(size_y):
        magnification = (origin[1] + spacing_y * j - source[1]) / distance
        i = (source[0] + (detector_x - source[0]) * magnification - origin[0]) / spacing_x  # (W,)
        k = (source[2] + (detector_z - source[2]) * magnification - origin[2]) / spacing_z  # (H,)
        (i_low, i_high), i_weights = _linear_taps(i, size_x)
        (k_low, k_high), k_weights = _linear_taps(k, size_z)
        plane = padded_mu[:, j, :]  # (X+2, Z+2)
        along_x = i_weights[0][:, None] * plane[i_low] + i_weights[1][:, None] * plane[i_high]
        integral += k_weights[0] * along_x[:, k_low] + k_weights[1] * along_x[:, k_high]  # (W, H)
        i_near, k_near = _nearest_tap(i, size_x), _nearest_tap(k, size_z)
        for name, rank in padded_ranks.items():
            sampled = rank[i_near[:, None], j, k_near[None, :]]  # (W, H)
            np.maximum(top[name], sampled, out=top[name])
    integral = integral.T * spacing_y * obliquity  # (H, W)
    return integral, {name: np.ascontiguousarray(rank.T) for name, rank in top.items()}


def _linear_taps(
    position: np.ndarray, size: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Linear interpolation at `(N,)` continuous indices into an axis of `size` padded by one.

    Returns:
        The two taps' indices into the padded axis (0 and size + 1 are the zero borders) and
        their `(N,)` weights.
    """
    low = np.floor(position)
    fraction = position - low
    low_tap = np.clip(low, -1, size).astype(int) + 1
    high_tap = np.clip(low + 1, -1, size).astype(int) + 1
    return (low_tap, high_tap), (1.0 - fraction, fraction)


def _nearest_tap(position: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour index into an axis of `size` padded by one (borders when outside)."""
    return np.clip(np.floor(position + 0.5), -1, size).astype(int) + 1
