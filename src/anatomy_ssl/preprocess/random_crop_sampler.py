"""Random crop positions inside a volume, vectorized over crops."""

from __future__ import annotations

import numpy as np


def random_crop_starts(
    size_vox: tuple[int, ...],
    crop_size_vox: tuple[int, ...],
    count: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Uniformly random first-voxel indices of crops that lie inside the volume where possible.

    Args:
        size_vox: volume spatial shape `(S,)`.
        crop_size_vox: crop shape `(S,)`.
        count: number of crops N.
        rng: source of randomness.

    Returns:
        `(N, S)` int64 starts. Along an axis shorter than the crop, the crop is centred on the
        volume (padding split evenly on both sides).
    """
    size = np.asarray(size_vox, dtype=np.int64)
    crop = np.asarray(crop_size_vox, dtype=np.int64)
    slack = size - crop  # (S,) room to move; negative when the crop is larger than the volume
    high = np.maximum(slack, 0) + 1
    starts = rng.integers(0, high, size=(count, len(size)), dtype=np.int64)  # (N, S)
    return np.where(slack >= 0, starts, slack // 2)
