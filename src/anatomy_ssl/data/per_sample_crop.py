"""Crops of a batch tensor at a different offset per sample, and the split into sub-parts."""

from __future__ import annotations

import numpy as np
import torch


def crop_per_sample(
    x: torch.Tensor, start_vox: np.ndarray, size_vox: tuple[int, ...]
) -> torch.Tensor:
    """`(B, C, *spatial)` -> `(B, C, *size_vox)`: sample `b`'s crop starts at `start_vox[b]`.

    One advanced-indexing gather for the whole batch (no loop over samples).

    Args:
        x: the batch.
        start_vox: `(B, S)` int first voxel of each crop; crops must lie inside `x`.
        size_vox: crop size `(S,)`.
    """
    starts = torch.as_tensor(np.asarray(start_vox), dtype=torch.long)  # (B, S)
    batch, spatial_dims = starts.shape
    limit = torch.tensor(x.shape[2:]) - torch.tensor(size_vox)
    if batch != x.shape[0] or torch.any(starts < 0) or torch.any(starts > limit):
        raise ValueError(f"crops of {size_vox} at {start_vox.tolist()} leave {tuple(x.shape)}")
    channels_last = x.movedim(1, -1)  # (B, *spatial, C)
    index: list[torch.Tensor] = [torch.arange(batch).view(batch, *([1] * spatial_dims))]
    for axis, size in enumerate(size_vox):
        shape = [batch] + [1] * spatial_dims
        shape[1 + axis] = size
        index.append((starts[:, axis, None] + torch.arange(size)).view(shape))  # (B, .., n, ..)
    return channels_last[tuple(index)].movedim(-1, 1).contiguous()  # (B, C, *size_vox)


def split_into_halves(x: torch.Tensor) -> list[torch.Tensor]:
    """`(B, C, *W)` -> 2^S tensors `(B, C, *W / 2)`: the halves along every axis, in C order
    (sub-part `p` has offset `bits(p) * W / 2`, the first axis the most significant bit)."""
    batch, channels, *size = x.shape
    if any(n % 2 for n in size):
        raise ValueError(f"need even spatial sizes to split into halves, got {size}")
    spatial_dims = len(size)
    split = [batch, channels]
    for n in size:
        split += [2, n // 2]
    halves = x.reshape(split)  # (B, C, 2, W0/2, 2, W1/2, ...)
    bit_axes = [2 + 2 * a for a in range(spatial_dims)]
    keep_axes = [3 + 2 * a for a in range(spatial_dims)]
    ordered = halves.permute(*bit_axes, 0, 1, *keep_axes)  # (2, .., 2, B, C, *W/2)
    flat = ordered.reshape(2**spatial_dims, batch, channels, *(n // 2 for n in size))
    return [part.contiguous() for part in flat.unbind(0)]
