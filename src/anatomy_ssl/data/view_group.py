"""How many views of one size each sample contributes (SimCLR pairs, DINO multi-crop, MAE)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ViewGroup:
    """`count` views of `size_vox` voxels per sample.

    A method's view configuration is a list of groups, e.g. SimCLR / MoCo
    `[ViewGroup(2, (32, 32, 32))]`, DINO multi-crop `[ViewGroup(2, (48,) * 3),
    ViewGroup(4, (24,) * 3)]`, MAE `[ViewGroup(1, (32,) * 3)]`.

    Attributes:
        count: views of this size per sample, >= 1.
        size_vox: crop size per spatial axis `(S,)`, voxels, each >= 1.
    """

    count: int
    size_vox: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "size_vox", tuple(int(n) for n in self.size_vox))
        if self.count < 1:
            raise ValueError(f"a view group needs count >= 1, got {self.count}")
        if len(self.size_vox) not in (2, 3) or min(self.size_vox) < 1:
            raise ValueError(f"size_vox must be 2 or 3 positive sizes, got {self.size_vox}")

    @property
    def spatial_dims(self) -> int:
        return len(self.size_vox)
