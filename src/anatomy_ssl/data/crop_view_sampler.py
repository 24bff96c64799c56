"""Random overlapping crop views of randomly chosen cached volumes, vectorized over samples.

Each sample picks one volume and an anchor point; every view of that sample is a crop centred
near the anchor, so views of one sample overlap (the positive pairs of SimCLR / MoCo, the global
and local crops of DINO) while different samples come from anywhere in the data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from anatomy_ssl.data.view_group import ViewGroup
from anatomy_ssl.data.view_spec import ViewSpec


def sample_view_specs(
    volume_sizes: np.ndarray,
    view_groups: Sequence[ViewGroup],
    batch_size: int,
    rng: np.random.Generator,
    *,
    max_center_offset_fraction: float = 0.5,
) -> list[ViewSpec]:
    """Sample where to cut every view of a batch.

    For each sample: a volume uniformly over the E entries; an anchor voxel uniformly among the
    positions where the largest view fits inside the volume (the volume centre along an axis
    shorter than that view); then each view's centre is the anchor plus an integer offset drawn
    uniformly with `|offset| < max_center_offset_fraction * view size` per axis, clamped so the
    view stays inside the volume. A view larger than the volume along an axis is centred on it
    along that axis (and padded when read). The anchor lies where every view fits, so clamping
    only moves centres towards it: with a fraction <= 0.5, two views of one sample have centres
    less than half their summed sizes apart and overlap.

    Args:
        volume_sizes: `(E, S)` spatial size of each cached volume, voxels.
        view_groups: the views per sample, e.g. `[ViewGroup(2, (32, 32, 32))]`.
        batch_size: samples B.
        rng: source of randomness (the draws are a fixed sequence for given shapes).
        max_center_offset_fraction: per-axis bound on a view centre's distance from the
            anchor, as a fraction of that view's size (0 makes views concentric).

    Returns:
        One ViewSpec per view, in group order (all views of group 0, then group 1, ...); all
        share the same `entry_index`.
    """
    sizes = np.atleast_2d(np.asarray(volume_sizes, dtype=np.int64))  # (E, S)
    spatial_dims = sizes.shape[1]
    if len(sizes) == 0 or np.any(sizes < 1):
        raise ValueError(f"need at least one volume with positive sizes, got {sizes.shape}")
    if not view_groups:
        raise ValueError("need at least one view group")
    if any(group.spatial_dims != spatial_dims for group in view_groups):
        view_sizes = [group.size_vox for group in view_groups]
        raise ValueError(f"{spatial_dims}D volumes cannot give views of sizes {view_sizes}")
    if batch_size < 1 or max_center_offset_fraction < 0:
        raise ValueError("need batch_size >= 1 and max_center_offset_fraction >= 0")

    entry_index = rng.integers(0, len(sizes), size=batch_size, dtype=np.int64)  # (B,)
    volume = sizes[entry_index]  # (B, S)
    largest = np.max([group.size_vox for group in view_groups], axis=0)  # (S,)
    anchor_extent = np.minimum(largest, volume)  # (B, S) the largest view, cut to the volume
    low, high = _inside_center_range(anchor_extent, volume)
    anchor = rng.integers(low, high + 1, dtype=np.int64)  # (B, S)

    specs = []
    for group in view_groups:
        size = np.asarray(group.size_vox, dtype=np.int64)  # (S,)
        # The largest integer strictly below fraction * size: views of one sample overlap.
        reach = np.maximum(np.ceil(max_center_offset_fraction * size).astype(np.int64) - 1, 0)
        for _ in range(group.count):
            offset = rng.integers(-reach, reach + 1, size=volume.shape, dtype=np.int64)  # (B, S)
            low, high = _inside_center_range(size, volume)
            center = np.clip(anchor + offset, low, high)
            fits = size <= volume  # (B, S)
            start = np.where(fits, center - size // 2, (volume - size) // 2)
            specs.append(ViewSpec(entry_index.copy(), start, group.size_vox))
    return specs


def _inside_center_range(size: np.ndarray, volume: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest centre (`start + size // 2`) of a crop of `size` inside `volume`.

    Args:
        size: `(S,)` or `(B, S)` crop sizes, voxels.
        volume: `(B, S)` volume sizes, voxels.

    Returns:
        Two `(B, S)` arrays; where the crop is larger than the volume, high < low.
    """
    low = np.broadcast_to(size // 2, volume.shape)
    return low, volume - size + size // 2
