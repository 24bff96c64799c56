"""Where the voxels of a batch's views lie in their volumes: for losses that pair voxels across
views (SAM's pixel-level contrast), from the geometry a `PretrainingStream` batch carries.

Voxel `u` of view v, sample b is volume voxel `start[v, b] + (size[v] - 1 - u if flipped else
u)` per axis; the map is its own inverse up to the start, so `to_view` and `to_volume` are the
same formula read both ways.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True, eq=False)
class ViewGeometry:
    """The placement of every view of a batch.

    Attributes:
        start_vox: `(V, B, S)` int64 first volume voxel of each crop.
        flips: `(V, B, S)` bool axes mirrored by the augmentation.
        size_vox: `(V, S)` int64 crop size of each view.
        spacing_mm: `(B, S)` float32 voxel size of each sample's volume.
        entry_index: `(B,)` int64 volume of each sample.
    """

    start_vox: torch.Tensor
    flips: torch.Tensor
    size_vox: torch.Tensor
    spacing_mm: torch.Tensor
    entry_index: torch.Tensor

    @classmethod
    def from_batch(cls, batch: Mapping[str, Any], views: Sequence[torch.Tensor]) -> ViewGeometry:
        """From a `PretrainingStream` batch and its views `(B, C, *size)`.

        Raises:
            ValueError: the batch carries no view geometry (a part-based stream).
        """
        missing = {"view_start_vox", "view_flips", "spacing_mm"} - set(batch)
        if missing:
            raise ValueError(f"the batch carries no view geometry (missing {sorted(missing)})")
        device = views[0].device
        return cls(
            start_vox=batch["view_start_vox"].to(device),
            flips=batch["view_flips"].to(device),
            size_vox=torch.tensor([view.shape[2:] for view in views], device=device),
            spacing_mm=batch["spacing_mm"].to(device),
            entry_index=batch["entry_index"].to(device),
        )

    def to_view(self, view: int, volume_vox: torch.Tensor) -> torch.Tensor:
        """`(B, N, S)` volume voxels -> the same points in voxels of view `view`."""
        offset = volume_vox - self.start_vox[view][:, None]  # (B, N, S)
        return self._mirror(view, offset)

    def to_volume(self, view: int, view_vox: torch.Tensor) -> torch.Tensor:
        """`(B, N, S)` voxels of view `view` -> volume voxels."""
        return self._mirror(view, view_vox) + self.start_vox[view][:, None]

    def to_mm(self, volume_vox: torch.Tensor) -> torch.Tensor:
        """`(B, N, S)` volume voxels -> `(B, N, S)` float mm from the volume's first voxel."""
        return volume_vox.float() * self.spacing_mm[:, None]

    def overlap(self, first: int, second: int) -> tuple[torch.Tensor, torch.Tensor]:
        """First and last volume voxel `(B, S)` of the box two views share (last < first along
        an axis where they do not overlap)."""
        low = torch.maximum(self.start_vox[first], self.start_vox[second])
        high = torch.minimum(
            self.start_vox[first] + self.size_vox[first],
            self.start_vox[second] + self.size_vox[second],
        )
        return low, high - 1

    def _mirror(self, view: int, offset: torch.Tensor) -> torch.Tensor:
        flipped = self.flips[view][:, None]  # (B, 1, S)
        return torch.where(flipped, self.size_vox[view] - 1 - offset, offset)


def sample_in_boxes(
    low: torch.Tensor, high: torch.Tensor, count: int, generator: torch.Generator
) -> torch.Tensor:
    """`count` voxels drawn uniformly in each box: `(B, S)` inclusive bounds -> `(B, count, S)`
    int64 (on `low`'s device; draws on the CPU generator, so they replay by seed).

    Raises:
        ValueError: an empty box.
    """
    if (high < low).any():
        raise ValueError("cannot sample points in an empty box (the views do not overlap)")
    extent = (high - low + 1).cpu()  # (B, S)
    uniform = torch.rand((*extent.shape[:1], count, extent.shape[1]), generator=generator)
    offsets = (uniform * extent[:, None]).long().clamp_max(extent[:, None] - 1)
    return low[:, None] + offsets.to(low.device)
