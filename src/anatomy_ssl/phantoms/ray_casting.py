"""Project a volume of any affine, either beam, by sampling points along every ray.

Rays are cut by planes of constant y (the beam axis) spaced about one voxel apart; each sample
sits midway between two planes and stands for the path between them. Callers interpolate any
volume at the samples (`scipy.ndimage.map_coordinates`) and reduce along the last axis. Detector
rows are processed in chunks so memory stays bounded.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import map_coordinates

from anatomy_ssl.phantoms.radiograph_geometry import RadiographGeometry, volume_corners_mm

#: Default bound on samples per chunk (each costs about 50 bytes while a chunk is processed).
DEFAULT_MAX_SAMPLES_PER_CHUNK = 1 << 20


@dataclass(frozen=True, eq=False)
class RayChunk:
    """Samples along the rays of some detector rows.

    Attributes:
        rows: the detector rows covered.
        voxel_coords: `(3, r, cols, S)` continuous voxel indices of the samples (S per ray).
        step_mm: `(r, cols)` length of ray each sample stands for, mm.
    """

    rows: slice
    voxel_coords: np.ndarray
    step_mm: np.ndarray


def ray_chunks(
    geometry: RadiographGeometry,
    affine: np.ndarray,
    size_vox: tuple[int, ...],
    *,
    max_samples: int = DEFAULT_MAX_SAMPLES_PER_CHUNK,
) -> Iterator[RayChunk]:
    """Samples along every detector ray through a volume, a chunk of rows at a time.

    The samples span the volume's extent along y, with the plane spacing of the voxel axis most
    aligned with y, adjusted so a whole number of steps fits. For a parallel beam through an
    axis-aligned RAS volume on the default grid, the samples are exactly the voxel centres.

    Args:
        geometry: detector and source.
        affine: `(4, 4)` voxel-to-RAS matrix of the volume, mm.
        size_vox: `(X, Y, Z)` volume shape.
        max_samples: at most this many samples per chunk (at least one row is always given).

    Yields:
        Chunks covering the detector rows in order.
    """
    corners = volume_corners_mm(affine, size_vox)  # (8, 3)
    y_low, y_high = float(corners[:, 1].min()), float(corners[:, 1].max())
    plane_spacing = float(np.abs(affine[1, :3]).max())  # mm along y per voxel step
    count = max(1, math.ceil((y_high - y_low) / plane_spacing - 1e-6))
    step_y = (y_high - y_low) / count
    offsets = y_low + (np.arange(count) + 0.5) * step_y - geometry.detector_y_mm  # (S,) mm
    world_to_voxel = np.linalg.inv(affine)
    rows, cols = geometry.shape
    rows_per_chunk = max(1, max_samples // (cols * count))
    for start in range(0, rows, rows_per_chunk):
        chunk = slice(start, min(rows, start + rows_per_chunk))
        detector = geometry.detector_points_mm(chunk)  # (r, W, 3)
        direction = geometry.ray_directions(detector)  # (r, W, 3), y component 1
        points = detector[..., None, :] + offsets[:, None] * direction[..., None, :]  # (r,W,S,3)
        voxels = points @ world_to_voxel[:3, :3].T + world_to_voxel[:3, 3]  # (r, W, S, 3)
        yield RayChunk(
            rows=chunk,
            voxel_coords=np.moveaxis(voxels, -1, 0),  # (3, r, W, S)
            step_mm=step_y * np.linalg.norm(direction, axis=-1),  # (r, W)
        )


def ray_cast_projection(
    mu: np.ndarray,
    ranks: dict[str, np.ndarray],
    affine: np.ndarray,
    geometry: RadiographGeometry,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Project a volume of any affine, parallel or perspective beam, by sampling along rays.

    Attenuation is interpolated trilinearly and label ranks by nearest neighbour at each sample
    (one per plane spacing, so a structure thinner than a voxel may be missed by oblique rays);
    outside the volume is air (attenuation 0, background).

    Args:
        mu: `(X, Y, Z)` linear attenuation, 1/mm.
        ranks: label-set name -> `(X, Y, Z)` uint8 draw-order ranks (`LabelDrawOrder.ranks`).
        affine: `(4, 4)` voxel-to-RAS matrix, mm.
        geometry: detector and source.

    Returns:
        `(H, W)` float64 optical depth and, per label set, the `(H, W)` uint8 highest rank
        along each ray.
    """
    integral = np.zeros(geometry.shape)
    top = {name: np.zeros(geometry.shape, dtype=np.uint8) for name in ranks}
    for chunk in ray_chunks(geometry, affine, mu.shape):
        coords = chunk.voxel_coords  # (3, r, W, S)
        samples = map_coordinates(mu, coords, order=1, mode="grid-constant", cval=0.0)
        integral[chunk.rows] = samples.sum(axis=-1, dtype=np.float64) * chunk.step_mm
        for name, rank in ranks.items():
            sampled = map_coordinates(rank, coords, order=0, mode="grid-constant", cval=0)
            top[name][chunk.rows] = sampled.max(axis=-1)  # (r, W)
    return integral, top
