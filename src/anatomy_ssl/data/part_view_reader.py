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
    `align_corners=False`, so a box of exactly `out_size_vox` comes back unchanged. Boxes
    differ in size from sample to sample, so each is read and resampled on its own (one memory
    map slice per sample, as any per-sample dataset read).

    Args:
        entries: the cached volumes `entry_index` refers to.
        entry_index: `(B,)` volume of each sample.
        start_vox: `(B, S)` first voxel of each box (parts outside the volume are padded with
            the entry's background).
        size_vox: `(B, S)` box sizes, voxels.
        out_size_vox: output size `(S,)`.

    Returns:
        `(B, C, *out_size_vox)` float32.
    """
    out = []
    for entry, start, size in zip(entry_index, start_vox, size_vox, strict=True):
        box = tuple(int(n) for n in size)
        crop = torch.from_numpy(
            entries[int(entry)].crops(start[None], box, with_label=False).image
        ).float()  # (1, C, *box)
        out.append(resample_to(crop, out_size_vox))
    return torch.cat(out)


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
