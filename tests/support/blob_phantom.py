"""A small smooth phantom for correspondence tests: a body and three asymmetric organs, which a
test moves by a known number of voxels to plant a correspondence."""

import numpy as np

SIZE = (24, 22, 26)
AFFINE = np.array([[4.0, 0, 0, -48.0], [0, 4.0, 0, -44.0], [0, 0, 4.0, -52.0], [0, 0, 0, 1]])
# (centre offset, semi-axes, intensity) in voxels: a body and three asymmetric organs
BLOBS = [
    ((0, 0, 0), (7, 6, 8), 0.4),
    ((3, 1, 2), (3, 3, 4), 0.8),
    ((-3, -2, -3), (2, 2, 3), 1.0),
    ((0, -3, 0), (1.5, 1.5, 6), 0.9),
]


def phantom_at(points_vox) -> np.ndarray:
    """Intensity (float64) of the unmoved phantom at `(..., 3)` continuous voxel coordinates, so
    a test can sample it through any known transform."""
    grid = np.asarray(points_vox, dtype=float) - np.array(SIZE) / 2
    image = np.zeros(grid.shape[:-1])
    for centre, axes, value in BLOBS:
        radius = np.linalg.norm((grid - centre) / np.asarray(axes), axis=-1)
        inside = 1 / (1 + np.exp((radius - 1) * min(axes) / 0.7))
        image = image * (1 - inside) + value * inside
    return image


def phantom(shift=(0, 0, 0)) -> np.ndarray:
    """`(1, *SIZE)` float32 smooth blobs on a background of 0, moved `shift` voxels."""
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in SIZE], indexing="ij"), axis=-1)
    return phantom_at(grid - np.asarray(shift))[None].astype(np.float32)
