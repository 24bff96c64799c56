"""The body's bounding box in a cached volume: where the anatomy decomposer may cut parts."""

from __future__ import annotations

import numpy as np

from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.preprocess.foreground_crop import foreground_box

#: Voxels brighter than background + this fraction of the intensity range are body.
BODY_THRESHOLD_FRACTION = 0.05
#: The mask is found on every `STRIDE`-th voxel per axis (a box needs no finer mask).
STRIDE = 2


def body_bounding_box(entry: CachedVolume) -> tuple[np.ndarray, np.ndarray]:
    """Half-open voxel box `[start, stop)` of the largest bright connected component.

    The mask is the first channel above `background + 5 %` of its range, on a stride-2 grid;
    the box is mapped back to full resolution (so it may be up to one voxel loose per side).
    A volume with no such voxels (constant, or all body) gives the whole volume.

    Args:
        entry: a cached volume `(C, *size_vox)`.

    Returns:
        `start`, `stop`: `(S,)` int64 voxel indices, `0 <= start < stop <= size_vox`.
    """
    image = entry.load_image()[0]
    coarse = image[(slice(None, None, STRIDE),) * image.ndim]
    low, high = float(coarse.min()), float(coarse.max())
    size = np.asarray(entry.size_vox, dtype=np.int64)
    if not np.isfinite(high - low) or high <= low:
        return np.zeros_like(size), size
    mask = coarse > low + BODY_THRESHOLD_FRACTION * (high - low)
    box = foreground_box(mask, spacing_mm=(1.0,) * mask.ndim, margin_mm=0.0)
    # The voxel before the first bright grid voxel may be body too: step back so the box
    # contains the body (loose, never tight).
    start = np.maximum(np.asarray(box.start, dtype=np.int64) * STRIDE - (STRIDE - 1), 0)
    stop = np.minimum(np.asarray(box.stop, dtype=np.int64) * STRIDE, size)
    return start, np.maximum(stop, start + 1)
