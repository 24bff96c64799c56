"""Tile starts that cover a whole volume with fixed-size crops."""

from __future__ import annotations

import itertools

import numpy as np


def covering_tile_starts(size_vox: tuple[int, ...], tile_vox: tuple[int, ...]) -> np.ndarray:
    """First voxels of tiles that cover the volume: a regular grid with stride = tile, the last
    tile per axis moved back to end at the border; an axis shorter than the tile gets one
    centred tile (padded by the crop reader).

    Returns:
        `(T, S)` int64 starts, in C order over the axes.
    """
    per_axis = []
    for size, tile in zip(size_vox, tile_vox, strict=True):
        if size <= tile:
            per_axis.append([(size - tile) // 2])
        else:
            starts = [*range(0, size - tile, tile), size - tile]
            per_axis.append(starts)
    return np.asarray(list(itertools.product(*per_axis)), dtype=np.int64)
