"""Cut part boxes of any size from cached volumes and resample them to one input size."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional

from anatomy_ssl.preprocess.cached_volume import CachedVolume


def read_resampled_boxes(
    entries: Sequence[CachedVolume],
    entry_index: np.ndarray,
    start_vox: np.ndarray,
    size_vox: np.ndarray,
    out_size_vox: tuple[int, ...],
) -> torch.Tensor:
    """Each sample's box, resampled to `out_size_vox`.

    Boxes are shrunk with area averaging (anti-aliased) when they are at least as large as the
    output along every axis, and otherwise (bi/tri)linearly interpolated with
    `align_corners=False`, so a box of exactly `out_size_vox` comes back unchanged. Samples are
    grouped by (volume, box size): each group is read in one call and resampled as one batch
    (the same values as one sample at a time), and boxes already of the output size are copied
    from the memory map straight into the output.

    Args:
        entries: the cached volumes `entry_index` refers to.
        entry_index: `(B,)` volume of each sample.
        start_vox: `(B, S)` first voxel of each box (parts outside the volume are padded with
            the entry's background).
        size_vox: `(B, S)` box sizes, voxels.
        out_size_vox: output size `(S,)`.

    Returns:
        `(B, C, *out_size_vox)` float32.

    Raises:
        ValueError: the volumes the samples come from have different channel counts.
    """
    index = np.asarray(entry_index, dtype=np.int64).reshape(-1)  # (B,)
    starts = np.asarray(start_vox, dtype=np.int64).reshape(len(index), -1)  # (B, S)
    sizes = np.asarray(size_vox, dtype=np.int64).reshape(starts.shape)  # (B, S)
    out_size = tuple(int(n) for n in out_size_vox)
    keys, group = np.unique(np.column_stack([index, sizes]), axis=0, return_inverse=True)
    group = group.reshape(-1)  # (B,) (volume, box size) group of each sample
    channels = {entries[int(entry)].channels for entry in keys[:, 0]}
    if len(channels) != 1:
        raise ValueError(f"the boxes' volumes have different channel counts: {channels}")
    out = torch.empty((len(index), channels.pop(), *out_size), dtype=torch.float32)
    for number, key in enumerate(keys.tolist()):
        entry, box = entries[key[0]], tuple(key[1:])
        rows = np.flatnonzero(group == number)
        if box == out_size:
            entry.read_image_into(out.numpy(), rows.tolist(), starts[rows], box)
            continue
        crops = np.empty((len(rows), out.shape[1], *box), dtype=np.float32)
        entry.read_image_into(crops, range(len(rows)), starts[rows], box)
        out[torch.from_numpy(rows)] = resample_to(torch.from_numpy(crops), out_size)
    return out


def resample_to(x: torch.Tensor, size_vox: tuple[int, ...]) -> torch.Tensor:
    """`(N, C, *box)` -> `(N, C, *size_vox)`: area-averaged when shrinking along every axis,
    else linear (`align_corners=False`); unchanged when the sizes already match."""
    box = tuple(x.shape[2:])
    if box == tuple(size_vox):
        return x
    if all(b >= s for b, s in zip(box, size_vox, strict=True)):
        return functional.interpolate(x, size=size_vox, mode="area")
    mode = "trilinear" if len(size_vox) == 3 else "bilinear"
    return functional.interpolate(x, size=size_vox, mode=mode, align_corners=False)
