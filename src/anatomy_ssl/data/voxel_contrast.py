"""How much neighbouring voxels differ inside the body: the data's own fine contrast.

Intensity augmentation should not drown the differences it is meant to teach invariance
around. On the CT phantom at 6 mm after a [-1000, 1000] HU window, adjacent body voxels differ
by a median of about 0.007 (cache units), while the default noise of pretraining views reaches
0.03. `median_neighbour_difference` measures that scale on the crops pretraining will read, so a
default can follow it (`training.augmentation_calibration`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from anatomy_ssl.anatomy.body_foreground import BODY_THRESHOLD_FRACTION
from anatomy_ssl.preprocess import CachedVolume

#: Volumes sampled (evenly spaced through the sorted entries).
MAX_VOLUMES = 16
#: Random crops read from each sampled volume.
CROPS_PER_VOLUME = 8


def median_neighbour_difference(
    entry_folders: Sequence[str | Path], crop_size_vox: int, *, seed: int = 0
) -> float:
    """Median absolute difference between adjacent voxels inside the body, in random crops.

    For up to `MAX_VOLUMES` entries, `CROPS_PER_VOLUME` cubic (square in 2D) crops are cut at
    random positions; a voxel is body when its first channel exceeds the entry's background by
    `BODY_THRESHOLD_FRACTION` of the range seen in that entry's crops; every pair of voxels
    adjacent along a spatial axis with both voxels in the body contributes `|a - b|`.

    Args:
        entry_folders: cache entry folders (all 2D or all 3D).
        crop_size_vox: side of the crops, voxels (the pretraining crop size).
        seed: where the crops are cut.

    Returns:
        The median difference in cache intensity units, or NaN when no adjacent body voxels
        were found (empty or constant images).
    """
    if not entry_folders:
        raise ValueError("no cache entries to measure contrast on")
    chosen = np.unique(np.linspace(0, len(entry_folders) - 1, MAX_VOLUMES).round().astype(int))
    rng = np.random.default_rng(seed)
    differences = []
    for index in chosen:
        entry = CachedVolume(entry_folders[index])
        size = np.asarray(entry.size_vox)
        crop = tuple(min(crop_size_vox, int(side)) for side in size)
        starts = rng.integers(0, size - np.asarray(crop) + 1, (CROPS_PER_VOLUME, len(size)))
        image = entry.crops(starts, crop, with_label=False).image[:, 0]  # (N, *crop)
        background = entry.background_value
        high = float(image.max())
        if not high > background:
            continue
        body = image > background + BODY_THRESHOLD_FRACTION * (high - background)
        for axis in range(1, image.ndim):
            # both voxels of the pair in the body
            both = np.delete(body, -1, axis=axis) & np.delete(body, 0, axis=axis)
            differences.append(np.abs(np.diff(image, axis=axis))[both])
    pooled = np.concatenate(differences) if differences else np.empty(0)
    return float(np.median(pooled)) if pooled.size else float("nan")
