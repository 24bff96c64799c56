"""Read side of a cache entry: geometry, full arrays, and crops read through a memory map.

Crops touch only the bytes they need. The memory map is opened per `crops` call and closed after
copying, so the resident set stays at the size of the crops however large the cache is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from anatomy_ssl.errors import InputError
from anatomy_ssl.preprocess.cache_entry import IMAGE_FILE, LABEL_FILE, META_FILE, read_meta


@dataclass(frozen=True)
class NpyLayout:
    """Where the array of a `.npy` file lies: dtype, shape and byte offset of the data."""

    dtype: np.dtype
    shape: tuple[int, ...]
    offset: int

    @classmethod
    def read(cls, path: Path) -> NpyLayout:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        try:
            if not mapped.flags.c_contiguous:
                raise InputError(path, "only C-ordered arrays are supported in the cache")
            return cls(mapped.dtype, tuple(mapped.shape), int(mapped.offset))
        finally:
            del mapped  # unmap: only the layout is kept

    def memmap(self, path: Path) -> np.ndarray:
        return np.memmap(path, dtype=self.dtype, mode="r", offset=self.offset, shape=self.shape)


@dataclass(frozen=True)
class CropBatch:
    """Crops cut from one cached volume.

    Attributes:
        image: `(N, C, *crop_size)` in the cache dtype.
        label: `(N, 1, *crop_size)` integers, or None when the entry has no label.
        start_vox: `(N, S)` voxel index of each crop's first voxel (may be negative at borders).
    """

    image: np.ndarray
    label: np.ndarray | None
    start_vox: np.ndarray


class CachedVolume:
    """A preprocessed volume in the cache (`<cache>/<spec_hash>/entries/<key>/`)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not (self.folder / META_FILE).is_file():
            raise InputError(self.folder, "not a cache entry (no meta.json)")
        self.meta: dict[str, Any] = read_meta(self.folder)

    def __repr__(self) -> str:
        return f"CachedVolume({self.subject_id!r}, size_vox={self.size_vox}, key={self.key!r})"

    @property
    def key(self) -> str:
        return str(self.meta["key"])

    @property
    def subject_id(self) -> str:
        return str(self.meta["subject_id"])

    @property
    def split(self) -> str | None:
        split = self.meta.get("split")
        return None if split is None else str(split)

    @property
    def affine(self) -> np.ndarray:
        """`(S + 1, S + 1)` voxel-to-world matrix, RAS mm."""
        return np.asarray(self.meta["affine"], dtype=float)

    @property
    def spacing_mm(self) -> tuple[float, ...]:
        return tuple(float(s) for s in self.meta["spacing_mm"])

    @property
    def size_vox(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.meta["size_vox"])

    @property
    def spatial_dims(self) -> int:
        return len(self.size_vox)

    @property
    def has_label(self) -> bool:
        return (self.folder / LABEL_FILE).is_file()

    @property
    def background_value(self) -> float:
        """Value of the image outside the body (used to pad crops at the border)."""
        return float(self.meta["background_value"])

    @cached_property
    def _image_layout(self) -> NpyLayout:
        return NpyLayout.read(self.folder / IMAGE_FILE)

    @cached_property
    def _label_layout(self) -> NpyLayout:
        return NpyLayout.read(self.folder / LABEL_FILE)

    def load_image(self) -> np.ndarray:
        """The whole image `(C, *size_vox)` in memory."""
        return np.load(self.folder / IMAGE_FILE, allow_pickle=False)

    def load_label(self) -> np.ndarray | None:
        """The whole label map `(1, *size_vox)`, or None."""
        return np.load(self.folder / LABEL_FILE, allow_pickle=False) if self.has_label else None

    def world_to_voxel(self, points_mm: np.ndarray) -> np.ndarray:
        """Map `(N, S)` RAS mm points to `(N, S)` continuous voxel indices."""
        points = np.atleast_2d(np.asarray(points_mm, dtype=float))
        homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1)
        return (np.linalg.inv(self.affine) @ homogeneous.T).T[:, : self.spatial_dims]

    def crops(
        self,
        start_vox: np.ndarray,
        size_vox: tuple[int, ...],
        *,
        with_label: bool = True,
        pad_value: float | None = None,
    ) -> CropBatch:
        """Cut crops whose first voxels are `start_vox`, padding where they leave the volume.

        Args:
            start_vox: `(N, S)` integer voxel index of each crop's first voxel; may be negative
                or run past the end (that part is padded).
            size_vox: crop size per spatial axis.
            with_label: also cut the label map (if the entry has one); padded with 0.
            pad_value: image padding; defaults to the entry's background value.

        Returns:
            A `CropBatch` of copies (the memory map is closed before returning).
        """
        starts = np.atleast_2d(np.asarray(start_vox, dtype=np.int64))
        if starts.shape[1] != self.spatial_dims or len(size_vox) != self.spatial_dims:
            raise ValueError(
                f"{self.spatial_dims}D entry needs (N, {self.spatial_dims}) starts and a "
                f"{self.spatial_dims}-tuple size; got {starts.shape} and {size_vox}"
            )
        fill = self.background_value if pad_value is None else pad_value
        image = _cut(self._image_layout, self.folder / IMAGE_FILE, starts, size_vox, fill)
        label = None
        if with_label and self.has_label:
            label = _cut(self._label_layout, self.folder / LABEL_FILE, starts, size_vox, 0)
        return CropBatch(image=image, label=label, start_vox=starts)

    def crops_at_centers(
        self,
        center_vox: np.ndarray,
        size_vox: tuple[int, ...],
        **kwargs: Any,
    ) -> CropBatch:
        """Crops centred on `(N, S)` voxel indices (rounded); see `crops`."""
        centers = np.rint(np.atleast_2d(center_vox)).astype(np.int64)
        return self.crops(centers - np.asarray(size_vox) // 2, size_vox, **kwargs)

    def crops_at_mm(
        self, center_mm: np.ndarray, size_vox: tuple[int, ...], **kwargs: Any
    ) -> CropBatch:
        """Crops centred on `(N, S)` world points in RAS mm; see `crops`."""
        return self.crops_at_centers(self.world_to_voxel(center_mm), size_vox, **kwargs)


def _cut(
    layout: NpyLayout,
    path: Path,
    starts: np.ndarray,
    size_vox: tuple[int, ...],
    fill: float,
) -> np.ndarray:
    """Copy `(N, C, *size_vox)` crops out of a memory-mapped `(C, *shape)` array."""
    source = layout.memmap(path)
    spatial = np.asarray(layout.shape[1:])
    size = np.asarray(size_vox)
    out = np.full((len(starts), layout.shape[0], *size_vox), fill, dtype=layout.dtype)
    low = np.clip(starts, 0, spatial)  # (N, S) inside-volume part of each crop
    high = np.clip(starts + size, 0, spatial)
    # One strided copy per crop: slicing the map reads only the touched pages, whereas
    # fancy-indexing all crops at once would build N * prod(size) index arrays.
    for n in range(len(starts)):
        if np.any(high[n] <= low[n]):
            continue  # the crop lies entirely outside the volume: all padding
        src = [slice(int(a), int(b)) for a, b in zip(low[n], high[n], strict=True)]
        dst = [
            slice(int(a - s), int(b - s))
            for a, b, s in zip(low[n], high[n], starts[n], strict=True)
        ]
        target: tuple[int | slice, ...] = (n, slice(None), *dst)
        out[target] = source[(slice(None), *src)]
    del source  # unmap now: the resident set must not grow with the cache
    return out
