"""What views of an anatomical part a part-based method needs (Eden / Adam)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from anatomy_ssl.anatomy import DecompositionSchedule
from anatomy_ssl.anatomy.anatomy_decomposer import DecomposerMode
from anatomy_ssl.data.view_group import ViewGroup

PartScale = Literal["native", "resize"]


@dataclass(frozen=True)
class PartViewLayout:
    """Views of one anatomical part per sample, at the voxel scale of the data or resampled to
    one input size.

    With `scale="resize"` (the papers' choice for whole 2D images) every part is resampled to
    `size_vox`, so a level-0 part (the whole body) reaches the encoder shrunk several-fold and
    unevenly per axis, at a scale a downstream task on native crops never shows it. With
    `scale="native"` (the default of `decomposer.scale`) nothing is resampled: the input
    grows with the part. At level g every view is a box of `native_size_vox(body_extent, g)`
    (the median part size, rounded up to `size_multiple`) centred on the part, so the encoder
    always sees anatomy at the spacing it is evaluated at.

    Views come in this order: `views` full views of the part (`size_vox`), then `local_crops`
    crops of `local_size_vox` at random positions inside the first view, then (if `sub_parts`)
    the first view's 2^S halves along every axis (`size_vox / 2`, C order over the halves:
    sub-part `p` has offset `bits(p) * size_vox / 2`). Every view is augmented independently;
    views are never flipped (a mirrored part would look like its contralateral twin).

    Attributes:
        size_vox: network input size `(S,)` a part is resampled to.
        schedule: which granularity level each step draws parts at.
        mode: decomposer mode ("random_box" or "grid").
        views: full views per part, >= 1; the first is cut exactly at the part box, the others
            from boxes shifted by up to `jitter_fraction` of the part size per axis.
        jitter_fraction: in [0, 0.5).
        local_crops: local crops per part (multi-crop), >= 0.
        local_size_vox: their size, at most `size_vox`.
        sub_parts: add the 2^S sub-parts of the first view (`size_vox` must be even).
        scale: "native" (views at the data's spacing, size per level) or "resize".
        size_multiple: native view sizes are rounded up to a multiple of this (the encoder's
            input multiple, doubled when sub-parts are halves); local crops keep the fraction
            `local_size_vox / size_vox` of the native size.
    """

    size_vox: tuple[int, ...]
    schedule: DecompositionSchedule
    mode: DecomposerMode = "random_box"
    views: int = 2
    jitter_fraction: float = 0.1
    local_crops: int = 0
    local_size_vox: tuple[int, ...] | None = None
    sub_parts: bool = False
    scale: PartScale = "resize"
    size_multiple: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "size_vox", tuple(int(n) for n in self.size_vox))
        if self.views < 1 or self.local_crops < 0 or not 0 <= self.jitter_fraction < 0.5:
            raise ValueError("need views >= 1, local_crops >= 0 and 0 <= jitter_fraction < 0.5")
        if self.local_crops and (
            self.local_size_vox is None
            or len(self.local_size_vox) != len(self.size_vox)
            or any(n < 1 or n > m for n, m in zip(self.local_size_vox, self.size_vox, strict=True))
        ):
            raise ValueError(f"local crops need a local_size_vox within {self.size_vox}")
        if self.sub_parts and any(n % 2 for n in self.size_vox):
            raise ValueError(f"sub-parts need an even size_vox, got {self.size_vox}")
        if self.scale not in ("native", "resize") or self.size_multiple < 1:
            raise ValueError(
                f"need scale 'native' or 'resize' and size_multiple >= 1, got {self.scale!r}, "
                f"{self.size_multiple}"
            )

    def native_size_vox(self, body_extent_vox: np.ndarray, level: int) -> tuple[int, ...]:
        """The view size at `level` with `scale="native"`: the median over volumes of the
        part size `body extent / 2^level`, rounded up to `size_multiple` (voxels, `(S,)`).

        Args:
            body_extent_vox: `(E, S)` body bounding-box extent of each volume, voxels.
        """
        part = np.median(np.asarray(body_extent_vox, dtype=float), axis=0) / 2**level  # (S,)
        step = self.size_multiple
        return tuple(int(max(np.ceil(n / step), 1)) * step for n in part)

    def local_size_at(self, size_vox: tuple[int, ...]) -> tuple[int, ...] | None:
        """Local crop size for views of `size_vox`: the layout's local/full ratio, rounded to
        `size_multiple` (at least one multiple, at most the view)."""
        if self.local_size_vox is None or tuple(size_vox) == self.size_vox:
            return self.local_size_vox
        step = self.size_multiple
        return tuple(
            min(max(round(n * local / full / step), 1) * step, n)
            for n, local, full in zip(size_vox, self.local_size_vox, self.size_vox, strict=True)
        )

    @property
    def spatial_dims(self) -> int:
        return len(self.size_vox)

    @property
    def sub_part_count(self) -> int:
        return 2**self.spatial_dims if self.sub_parts else 0

    def view_groups(self) -> list[ViewGroup]:
        """The views' sizes as view groups, in batch order."""
        groups = [ViewGroup(self.views, self.size_vox)]
        if self.local_crops:
            assert self.local_size_vox is not None
            groups.append(ViewGroup(self.local_crops, self.local_size_vox))
        if self.sub_parts:
            half = tuple(n // 2 for n in self.size_vox)
            groups.append(ViewGroup(self.sub_part_count, half))
        return groups
