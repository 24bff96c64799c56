"""What views of an anatomical part a part-based method needs (Eden / Adam)."""

from __future__ import annotations

from dataclasses import dataclass

from anatomy_ssl.anatomy import DecompositionSchedule
from anatomy_ssl.anatomy.anatomy_decomposer import DecomposerMode
from anatomy_ssl.data.view_group import ViewGroup


@dataclass(frozen=True)
class PartViewLayout:
    """Views of one anatomical part per sample, all resampled to the network's input size.

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
    """

    size_vox: tuple[int, ...]
    schedule: DecompositionSchedule
    mode: DecomposerMode = "random_box"
    views: int = 2
    jitter_fraction: float = 0.1
    local_crops: int = 0
    local_size_vox: tuple[int, ...] | None = None
    sub_parts: bool = False

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
