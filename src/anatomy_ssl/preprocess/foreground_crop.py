"""Foreground (body) bounding box: largest connected component above a threshold, plus margin."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from anatomy_ssl.io.volume import Volume


@dataclass(frozen=True)
class CropBox:
    """A half-open voxel box `[start, stop)` per spatial axis."""

    start: tuple[int, ...]
    stop: tuple[int, ...]

    @property
    def slices(self) -> tuple[slice, ...]:
        return tuple(slice(a, b) for a, b in zip(self.start, self.stop, strict=True))

    def apply(self, volume: Volume) -> Volume:
        """Crop an image or label map (a view); the affine origin moves so world positions stay."""
        array = volume.array[(slice(None), *self.slices)]
        affine = volume.affine.copy()
        dims = volume.spatial_dims
        affine[:dims, dims] = (
            volume.affine[:dims, :dims] @ np.asarray(self.start) + affine[:dims, dims]
        )
        return volume.with_array(array, affine)


def foreground_box(mask: np.ndarray, *, spacing_mm: tuple[float, ...], margin_mm: float) -> CropBox:
    """Bounding box of the largest connected component of `mask`, grown by `margin_mm`.

    Args:
        mask: boolean `(D, H, W)` or `(H, W)` foreground mask.
        spacing_mm: voxel size per axis, to turn the margin into voxels.
        margin_mm: margin added on each side, clipped to the array.

    Returns:
        The box; the whole array when the mask is empty (nothing is cropped away).
    """
    shape = mask.shape
    if not mask.any():
        return CropBox((0,) * mask.ndim, tuple(shape))
    components, count = ndimage.label(mask)
    if count > 1:
        sizes = np.bincount(components.ravel())
        sizes[0] = 0
        mask = components == int(np.argmax(sizes))
    margin = np.ceil(margin_mm / np.asarray(spacing_mm)).astype(int)
    start, stop = [], []
    for axis in range(mask.ndim):
        other_axes = tuple(a for a in range(mask.ndim) if a != axis)
        present = np.flatnonzero(mask.any(axis=other_axes))
        start.append(max(0, int(present[0]) - int(margin[axis])))
        stop.append(min(shape[axis], int(present[-1]) + 1 + int(margin[axis])))
    return CropBox(tuple(start), tuple(stop))
