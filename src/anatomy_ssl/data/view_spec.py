"""Where to cut one view of a batch: an entry and a first voxel per sample, one crop size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class ViewSpec:
    """One view of every sample in a batch: B crops of one size.

    Attributes:
        entry_index: `(B,)` int64 index of each sample's cached volume in the entry list.
        start_vox: `(B, S)` int64 voxel index of each crop's first voxel; may be negative or run
            past the volume where the crop is larger than the volume (that part is padded).
        size_vox: crop size per spatial axis `(S,)`, voxels.
    """

    entry_index: np.ndarray
    start_vox: np.ndarray
    size_vox: tuple[int, ...]

    def __post_init__(self) -> None:
        batch = len(self.entry_index)
        if self.entry_index.ndim != 1 or self.start_vox.shape != (batch, len(self.size_vox)):
            raise ValueError(
                f"need entry_index (B,) and start_vox (B, {len(self.size_vox)}); got "
                f"{self.entry_index.shape} and {self.start_vox.shape}"
            )

    @property
    def batch_size(self) -> int:
        return len(self.entry_index)

    @property
    def center_vox(self) -> np.ndarray:
        """`(B, S)` voxel index of each crop's centre (`start + size // 2`)."""
        return self.start_vox + np.asarray(self.size_vox, dtype=np.int64) // 2
