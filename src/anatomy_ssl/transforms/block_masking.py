"""Random block masks for masked image modeling (SimMIM, Xie et al. 2022), vectorized."""

from __future__ import annotations

import math

import torch


def random_block_mask(
    batch_size: int,
    spatial_size: tuple[int, ...],
    block_vox: int,
    mask_ratio: float,
    generator: torch.Generator,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Mask whole cubic (square in 2D) blocks of each sample, the same number per sample.

    The image is tiled by blocks of `block_vox` voxels per axis; each sample masks exactly
    `round(mask_ratio * blocks)` of them (Python rounding), chosen uniformly: the blocks with
    the lowest of one random score each (one argsort for the whole batch).

    Args:
        batch_size: samples B.
        spatial_size: `(S,)` spatial shape, voxels; each divisible by `block_vox`.
        block_vox: block side, voxels.
        mask_ratio: fraction of blocks to mask, in [0, 1].
        generator: source of the random scores (drawn on its device).
        device: where the mask is returned; defaults to the generator's device.

    Returns:
        `(B, 1, *spatial_size)` bool, True where masked.

    Raises:
        ValueError: a size is not divisible by `block_vox`, or an argument is out of range.
    """
    if block_vox < 1 or batch_size < 1 or not 0.0 <= mask_ratio <= 1.0:
        raise ValueError("need block_vox >= 1, batch_size >= 1 and mask_ratio in [0, 1]")
    if any(size % block_vox for size in spatial_size):
        raise ValueError(f"spatial size {spatial_size} is not divisible by block_vox={block_vox}")
    grid = tuple(size // block_vox for size in spatial_size)  # blocks per axis
    blocks = math.prod(grid)
    masked = round(mask_ratio * blocks)
    scores = torch.rand((batch_size, blocks), generator=generator, device=generator.device)
    chosen = scores.argsort(dim=1)[:, :masked]  # (B, masked) block indices
    mask = torch.zeros((batch_size, blocks), dtype=torch.bool, device=generator.device)
    mask.scatter_(1, chosen, True)
    mask = mask.reshape(batch_size, 1, *grid)  # (B, 1, *grid)
    for axis in range(2, mask.ndim):
        mask = mask.repeat_interleave(block_vox, dim=axis)  # (B, 1, *spatial) at the end
    return mask.to(generator.device if device is None else device)
