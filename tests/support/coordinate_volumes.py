"""Known-answer test inputs: cache entries whose channels are each voxel's world position, and an
encoder whose features are Fourier features of that position (shared by the dense-feature,
correspondence and locality tests)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from anatomy_ssl.models import Encoder
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.preprocess.cache_entry import write_entry

PERIOD_MM = 1200.0  # longer than twice any extent here: the similarity peak is unique


class CoordinateEncoder(Encoder):
    """Input: world coordinates (mm) per voxel + an inside mask (0 in the padding). Each map:
    Fourier features `(cos, sin)(2 pi x_a / period)` of the mean coordinate of each block, so
    the cosine of two cells is a per-axis decreasing function of their distance."""

    def __init__(self, spatial_dims: int = 3, strides: tuple[int, ...] = (1, 2, 4)) -> None:
        super().__init__()
        self.spatial_dims, self.in_channels = spatial_dims, spatial_dims + 1
        self.strides, self.out_channels = strides, (2 * spatial_dims,) * len(strides)
        self.min_input_multiple, self.config = max(strides), {"name": "coordinates"}

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        pool = F.avg_pool3d if self.spatial_dims == 3 else F.avg_pool2d
        coords, mask = x[:, : self.spatial_dims], x[:, self.spatial_dims :]
        maps = []
        for s in self.strides:
            weight = pool(mask, s) if s > 1 else mask
            centre = (pool(coords * mask, s) if s > 1 else coords * mask) / weight.clamp_min(1e-6)
            phase = 2 * math.pi * centre / PERIOD_MM
            maps.append(torch.cat([phase.cos(), phase.sin()], dim=1) * (weight > 0))
        return maps


def write_test_entry(
    folder, subject_id, image, affine, spacing_mm=None, split=None
) -> CachedVolume:
    """A cache entry `<folder>/entries/<subject_id>` holding `image` `(C, *size)`, no label, in
    manifest split `split`."""
    dims = image.ndim - 1
    meta = {
        "key": subject_id,
        "subject_id": subject_id,
        "split": split,
        "affine": np.asarray(affine).tolist(),
        "spacing_mm": list(spacing_mm or np.abs(np.diag(affine)[:dims]).tolist()),
        "size_vox": list(image.shape[1:]),
        "background_value": 0.0,
    }
    entry = folder / "entries" / subject_id
    write_entry(entry, folder / ".staging", image=image, label=None, meta=meta)
    return CachedVolume(entry)


def coordinate_volume(folder, size, affine, subject_id="s0", spacing_mm=None) -> CachedVolume:
    """A cache entry of `size` and `affine` whose channels are world mm + an inside mask."""
    dims = len(size)
    index = np.stack(np.meshgrid(*[np.arange(n) for n in size], indexing="ij"), axis=0)
    offset = affine[:dims, dims].reshape(-1, *[1] * dims)
    mm = np.tensordot(affine[:dims, :dims], index, axes=1) + offset
    image = np.concatenate([mm, np.ones((1, *size))]).astype(np.float32)
    return write_test_entry(folder, subject_id, image, affine, spacing_mm)
