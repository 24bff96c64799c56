"""Eden / Adam's anatomy decomposer: at granularity level g, one part of the body per sample.

Hosseinzadeh Taher et al., "Towards Foundation Models Learned from Anatomy in Medical Imaging
via Self-Supervision" (MICCAI DART 2023) and "Representing Part-Whole Hierarchies in Foundation
Models by Learning Localizability, Composability, and Decomposability from Anatomy via
Self-Supervision" (CVPR 2024). At level g a part spans the body's bounding box / 2^g along
every axis (level 0: the whole body; level 1: an octant in 3D, a quadrant in 2D), so parts of
level g + 1 are the sub-parts of those of level g. Vectorized over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

DecomposerMode = Literal["random_box", "grid"]


@dataclass(frozen=True, eq=False)
class PartBoxes:
    """One part box per sample.

    Attributes:
        entry_index: `(B,)` int64 index of each sample's volume.
        start_vox: `(B, S)` int64 first voxel of each part.
        size_vox: `(B, S)` int64 part size, voxels, >= 1.
        level: the granularity level g they were cut at.
    """

    entry_index: np.ndarray
    start_vox: np.ndarray
    size_vox: np.ndarray
    level: int


def sample_part_boxes(
    body_start_vox: np.ndarray,
    body_stop_vox: np.ndarray,
    batch_size: int,
    level: int,
    rng: np.random.Generator,
    *,
    mode: DecomposerMode = "random_box",
) -> PartBoxes:
    """Choose a volume and one part of its body per sample.

    Args:
        body_start_vox, body_stop_vox: `(E, S)` half-open body bounding box of each volume
            (`anatomy.body_bounding_box`), voxels.
        batch_size: samples B.
        level: granularity g >= 0.
        rng: source of randomness.
        mode: "random_box" (v2 style, the default): a box of `extent / 2^g` (rounded, >= 1)
            at a uniformly random position inside the body box; "grid" (v1 style): a uniformly
            chosen cell of the `2^g x ... x 2^g` grid over the body box, so the cells of one
            volume tile its body box exactly (cell edges at `start + floor(i * extent / 2^g)`).

    Returns:
        The boxes; every box lies inside its volume's body box.
    """
    low = np.atleast_2d(np.asarray(body_start_vox, dtype=np.int64))  # (E, S)
    high = np.atleast_2d(np.asarray(body_stop_vox, dtype=np.int64))
    if low.shape != high.shape or np.any(high <= low) or np.any(low < 0):
        raise ValueError("need body boxes (E, S) with 0 <= start < stop")
    if level < 0 or batch_size < 1:
        raise ValueError(f"need level >= 0 and batch_size >= 1, got {level}, {batch_size}")
    entry_index = rng.integers(0, len(low), size=batch_size, dtype=np.int64)  # (B,)
    origin, extent = low[entry_index], (high - low)[entry_index]  # (B, S)
    cells = 2**level
    if mode == "grid":
        cell = rng.integers(0, cells, size=extent.shape, dtype=np.int64)  # (B, S)
        first = origin + cell * extent // cells
        last = origin + (cell + 1) * extent // cells
        size = np.maximum(last - first, 1)
        start = np.minimum(first, origin + extent - size)
    elif mode == "random_box":
        size = np.maximum(np.rint(extent / cells).astype(np.int64), 1)  # (B, S)
        start = origin + rng.integers(0, extent - size + 1, dtype=np.int64)
    else:
        raise ValueError(f"mode must be 'random_box' or 'grid', got {mode!r}")
    return PartBoxes(entry_index=entry_index, start_vox=start, size_vox=size, level=level)
