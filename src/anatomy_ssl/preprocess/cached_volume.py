"""Read side of a cache entry: geometry, full arrays, and crops read through a memory map.

Crops touch only the bytes they need and are copied straight from the map into the output. An
entry keeps its maps open between `crops` calls (in a process-wide pool bounded by the open-file
limit: each map holds a file descriptor), and after copying it drops the pages it touched from
this process's mapping (`MADV_DONTNEED`; they stay in the page cache), so the resident set stays at
the size of the crops however large the cache is.
"""

from __future__ import annotations

import itertools
import mmap
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from math import prod
from pathlib import Path
from typing import Any

import numpy as np

from anatomy_ssl.errors import InputError
from anatomy_ssl.preprocess.cache_entry import IMAGE_FILE, LABEL_FILE, META_FILE, read_meta

# Unmapping per call is the fallback where pages cannot be dropped from a live map (Windows).
_CAN_DROP_PAGES = hasattr(mmap, "MADV_DONTNEED") and hasattr(mmap.mmap, "madvise")


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


class _MappedArray:
    """A read-only memory map of one `.npy` array, open until the object is dropped."""

    def __init__(self, path: Path, layout: NpyLayout) -> None:
        with path.open("rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        self.array: np.ndarray = np.frombuffer(
            self._map, dtype=layout.dtype, count=prod(layout.shape), offset=layout.offset
        ).reshape(layout.shape)  # read-only view; keeps the map alive

    def drop_pages(self) -> None:
        """Unmap the touched pages from this process (they stay in the page cache); the next
        read maps them again."""
        if _CAN_DROP_PAGES:
            self._map.madvise(mmap.MADV_DONTNEED)


class _MapPool:
    """The open maps of this process, least recently used first, at most `capacity` of them.

    Maps are keyed by their owner (a token per CachedVolume) and file name. Dropping a map from
    the pool closes it once no read is using it.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._maps: OrderedDict[tuple[int, str], _MappedArray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, owner: int, path: Path, layout: NpyLayout) -> _MappedArray:
        key = (owner, path.name)
        with self._lock:
            mapped = self._maps.get(key)
            if mapped is not None:
                self._maps.move_to_end(key)
                return mapped
        mapped = _MappedArray(path, layout)
        with self._lock:
            self._maps[key] = mapped
            while len(self._maps) > self.capacity:
                self._maps.popitem(last=False)
        return mapped

    def release(self, owner: int) -> None:
        with self._lock:
            for name in (IMAGE_FILE, LABEL_FILE):
                self._maps.pop((owner, name), None)

    def after_fork(self) -> None:
        self._lock = threading.Lock()  # a fork while another thread held it would leave it held


def _pool_capacity() -> int:
    """A quarter of the soft open-file limit (each open map holds a descriptor), 16 to 4096."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 256
    if soft == resource.RLIM_INFINITY:
        return 4096
    return int(np.clip(soft // 4, 16, 4096))


_POOL = _MapPool(_pool_capacity())
_OWNERS = itertools.count()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.after_fork)


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
    """A preprocessed volume in the cache (`<cache>/<spec_hash>/entries/<key>/`).

    Entries are immutable once written: the label's presence, the arrays' layout and (while
    in the pool) their memory maps are looked up once per object.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not (self.folder / META_FILE).is_file():
            raise InputError(self.folder, "not a cache entry (no meta.json)")
        self.meta: dict[str, Any] = read_meta(self.folder)
        self._register()

    def _register(self) -> None:
        self._owner = next(_OWNERS)
        weakref.finalize(self, _POOL.release, self._owner).atexit = False

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "_owner"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._register()  # a copy (or another process) gets maps of its own

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

    @cached_property
    def has_label(self) -> bool:
        return (self.folder / LABEL_FILE).is_file()

    @property
    def channels(self) -> int:
        """Image channels C."""
        return self._image_layout.shape[0]

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

    def voxel_to_world(self, indices: np.ndarray) -> np.ndarray:
        """Map `(N, S)` voxel indices (integer or continuous) to `(N, S)` RAS mm points."""
        points = np.atleast_2d(np.asarray(indices, dtype=float))
        dims = self.spatial_dims
        world: np.ndarray = points @ self.affine[:dims, :dims].T + self.affine[:dims, dims]
        return world

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
            A `CropBatch` of copies (nothing in it refers to the memory map).
        """
        starts = self._check_starts(start_vox, size_vox)
        layout = self._image_layout
        image = np.empty((len(starts), layout.shape[0], *size_vox), dtype=layout.dtype)
        self.read_image_into(image, range(len(starts)), starts, size_vox, pad_value=pad_value)
        label = None
        if with_label and self.has_label:
            layout = self._label_layout
            label = np.empty((len(starts), layout.shape[0], *size_vox), dtype=layout.dtype)
            self._read_into(LABEL_FILE, layout, label, range(len(starts)), starts, size_vox, 0)
        return CropBatch(image=image, label=label, start_vox=starts)

    def read_image_into(
        self,
        out: np.ndarray,
        rows: Sequence[int],
        start_vox: np.ndarray,
        size_vox: tuple[int, ...],
        *,
        pad_value: float | None = None,
    ) -> None:
        """Write image crop n (as `crops` cuts it) into `out[rows[n]]`, without a copy between.

        Args:
            out: `(M, C, *size_vox)` array of any dtype (values are cast as numpy assigns).
            rows: `(N,)` row of `out` for each crop.
            start_vox, size_vox, pad_value: as `crops`.
        """
        starts = self._check_starts(start_vox, size_vox)
        fill = self.background_value if pad_value is None else pad_value
        self._read_into(IMAGE_FILE, self._image_layout, out, rows, starts, size_vox, fill)

    def _check_starts(self, start_vox: np.ndarray, size_vox: tuple[int, ...]) -> np.ndarray:
        starts = np.atleast_2d(np.asarray(start_vox, dtype=np.int64))
        if starts.shape[1] != self.spatial_dims or len(size_vox) != self.spatial_dims:
            raise ValueError(
                f"{self.spatial_dims}D entry needs (N, {self.spatial_dims}) starts and a "
                f"{self.spatial_dims}-tuple size; got {starts.shape} and {size_vox}"
            )
        return starts

    def _read_into(
        self,
        name: str,
        layout: NpyLayout,
        out: np.ndarray,
        rows: Sequence[int],
        starts: np.ndarray,
        size_vox: tuple[int, ...],
        fill: float,
    ) -> None:
        path = self.folder / name
        if not _CAN_DROP_PAGES:
            copy_crops(layout.memmap(path), starts, size_vox, fill, out, rows)
            return  # the map is closed when it goes out of scope
        mapped = _POOL.get(self._owner, path, layout)
        try:
            copy_crops(mapped.array, starts, size_vox, fill, out, rows)
        finally:
            mapped.drop_pages()  # the resident set must not grow with the cache

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


def copy_crops(
    source: np.ndarray,
    starts: np.ndarray,
    size_vox: tuple[int, ...],
    fill: float,
    out: np.ndarray,
    rows: Sequence[int],
) -> None:
    """Copy the `(C, *size_vox)` crops of a `(C, *shape)` array at `(N, S)` starts into
    `out[rows[n]]`, filling only the part of each crop that lies outside the array.

    One strided copy per crop: slicing a memory map reads only the touched pages, whereas
    fancy-indexing all crops at once would build N * prod(size) index arrays. `fill` is cast to
    the source dtype first, as if the crop had been padded in that dtype.
    """
    fill_value = np.empty((), dtype=source.dtype)
    np.copyto(fill_value, fill, casting="unsafe")
    shape = source.shape[1:]
    everything = slice(None)
    for row, start in zip(rows, starts.tolist(), strict=True):
        target = out[row]  # (C, *size_vox) view
        inside, placed = [], []
        for s, n, length in zip(start, size_vox, shape, strict=True):
            low, high = min(max(s, 0), length), min(max(s + n, 0), length)
            inside.append(slice(low, high))
            placed.append(slice(low - s, high - s))
        if any(part.stop <= part.start for part in inside):
            target[...] = fill_value  # the crop lies entirely outside the array: all padding
            continue
        for axis, (part, n) in enumerate(zip(placed, size_vox, strict=True)):
            before = (everything,) * (axis + 1)
            if part.start > 0:
                target[(*before, slice(0, part.start))] = fill_value
            if part.stop < n:
                target[(*before, slice(part.stop, n))] = fill_value
        target[(everything, *placed)] = source[(everything, *inside)]
