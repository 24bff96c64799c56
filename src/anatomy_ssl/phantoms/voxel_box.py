"""Bounding boxes of masks in voxel space, so expensive fields are computed only near them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mask_box(mask: np.ndarray, margin: int | Sequence[int] = 0) -> tuple[slice, ...] | None:
    """Smallest box of voxels holding every True voxel of `mask`, grown by `margin` voxels per
    side and clipped to the array.

    Args:
        mask: N-D bool array.
        margin: voxels added on each side, one for all axes or one per axis.

    Returns:
        One slice per axis, or None when the mask is empty.
    """
    margins = np.broadcast_to(np.asarray(margin, dtype=int), (mask.ndim,))
    box = []
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(np.any(mask, axis=others))
        if hits.size == 0:
            return None
        pad = int(margins[axis])
        box.append(
            slice(max(int(hits[0]) - pad, 0), min(int(hits[-1]) + 1 + pad, mask.shape[axis]))
        )
    return tuple(box)


def gaussian_radius(sigma: float, truncate: float = 4.0) -> int:
    """Half-width in voxels of scipy's Gaussian kernel for `sigma` (its default truncation)."""
    return int(truncate * float(sigma) + 0.5)
