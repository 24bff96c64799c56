"""DrasCLR's patch locations: a regular grid of patches over a reference volume, kept where enough
of the patch lies in an anatomical region (Yu et al., "DrasCLR: A Self-supervised Framework of
Learning Disease-related and Anatomy-specific Representation for 3D Medical Images", 2023: 32^3
patches at 1 mm, stride 26, kept if > 10 % inside the lung mask, giving 581 locations).

The grid is defined once, in the reference's voxels and world mm; `anatomical_frame` maps each
location into every subject. Coverage of every patch comes from one summed-area table of the
region mask (2^S look-ups per patch), never from a loop over patches or voxels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np

from anatomy_ssl.anatomy.body_foreground import BODY_THRESHOLD_FRACTION
from anatomy_ssl.errors import ConfigError, InputError
from anatomy_ssl.preprocess import CachedVolume


@dataclass(frozen=True, eq=False)
class LocationGrid:
    """The kept patch locations of a reference volume, L of them in S spatial dimensions.

    A location's patch spans reference voxels `centre_vox - patch_vox // 2` up to (excluding)
    `centre_vox - patch_vox // 2 + patch_vox`, which is what `CachedVolume.crops_at_centers`
    cuts around that centre.

    Attributes:
        centres_mm: `(L, S)` float64 RAS mm of each patch centre in the reference's world.
        centres_vox: `(L, S)` int64 voxel index of each centre in the reference volume.
        normalized: `(L, S)` float64 in [-1, 1]: each centre's world position scaled by the
            extent of the kept centres per axis (-1 the lowest, +1 the highest; 0 on an axis
            with a single position). This is the location `p` a location-conditioned encoder
            takes.
        coverage: `(L,)` float64 fraction of each patch's voxels in the region.
        patch_vox: `(S,)` patch size, voxels of the reference (the cache's spacing).
        stride_vox: `(S,)` distance between neighbouring patch starts, voxels.
        min_coverage: the region fraction a patch needed to be kept.
    """

    centres_mm: np.ndarray
    centres_vox: np.ndarray
    normalized: np.ndarray
    coverage: np.ndarray
    patch_vox: tuple[int, ...]
    stride_vox: tuple[int, ...]
    min_coverage: float

    @property
    def count(self) -> int:
        """Number of locations L."""
        return len(self.centres_mm)


def per_axis(value: int | Sequence[int], dims: int, name: str) -> tuple[int, ...]:
    """`value` as an S-tuple of ints >= 1 (an int is repeated); ConfigError otherwise."""
    values = (value,) * dims if isinstance(value, int | np.integer) else tuple(value)
    if len(values) != dims or any(int(v) < 1 for v in values):
        raise ConfigError(f"{name} must be one int >= 1 or {dims} of them, got {value!r}")
    return tuple(int(v) for v in values)


def body_foreground_mask(volume: CachedVolume) -> np.ndarray:
    """`(*size_vox)` bool: channel 0 above `background + 5 %` of its intensity range (the body
    rule of `body_bounding_box`; noise in the air just above the background is not body)."""
    image = volume.load_image()[0]
    low, high = float(image.min()), float(image.max())
    return np.asarray(image > volume.background_value + BODY_THRESHOLD_FRACTION * (high - low))


def region_mask(volume: CachedVolume, region_labels: Sequence[int] | None) -> np.ndarray:
    """`(*size_vox)` bool mask of the region: label values in `region_labels`, or the body
    foreground (`body_foreground_mask`) when `region_labels` is None.

    Raises:
        InputError: region labels were asked for and the entry has no label map.
    """
    if region_labels is None:
        return body_foreground_mask(volume)
    label = volume.load_label()
    if label is None:
        raise InputError(
            volume.folder,
            f"subject {volume.subject_id!r} has no label map, so region labels "
            f"{list(region_labels)} cannot be found in it",
        )
    return np.isin(label[0], np.asarray(region_labels))


def patch_coverage(mask: np.ndarray, start_vox: np.ndarray, patch_vox: Sequence[int]) -> np.ndarray:
    """Fraction of each patch's voxels inside `mask`, for any number of patches at once.

    One summed-area table of the mask (4 or 8 bytes a voxel), then the box sum of each patch
    from its 2^S corners. Parts of a patch outside the volume count as outside the mask.

    Args:
        mask: `(*size_vox)` bool.
        start_vox: `(N, S)` int first voxel of each patch (may lie partly outside the volume).
        patch_vox: `(S,)` patch size, voxels.

    Returns:
        `(N,)` float64 in [0, 1].
    """
    size = np.asarray(mask.shape, dtype=np.int64)
    patch = np.asarray(patch_vox, dtype=np.int64)
    starts = np.atleast_2d(np.asarray(start_vox, dtype=np.int64))  # (N, S)
    # table[i, j, k] = voxels of the mask in [0, i) x [0, j) x [0, k)
    dtype = np.int32 if mask.size < np.iinfo(np.int32).max else np.int64
    table = np.zeros(tuple(size + 1), dtype=dtype)
    table[(slice(1, None),) * mask.ndim] = mask
    for axis in range(mask.ndim):
        np.cumsum(table, axis=axis, out=table)
    low = np.clip(starts, 0, size)  # (N, S)
    high = np.clip(starts + patch, 0, size)
    sums = np.zeros(len(starts), dtype=np.int64)
    for corner in product((0, 1), repeat=mask.ndim):  # inclusion-exclusion over 2^S corners
        chosen = np.where(np.asarray(corner, dtype=bool), high, low)  # (N, S)
        sign = -1 if (mask.ndim - sum(corner)) % 2 else 1
        sums += sign * table[tuple(chosen.T)].astype(np.int64)
    return sums / float(np.prod(patch))


def normalize_locations(centres_mm: np.ndarray) -> np.ndarray:
    """`(L, S)` world points scaled per axis to [-1, 1] by their extent (0 where it is zero)."""
    low, high = centres_mm.min(axis=0), centres_mm.max(axis=0)  # (S,)
    extent = high - low
    safe = np.where(extent > 0, extent, 1.0)
    return np.where(extent > 0, 2.0 * (centres_mm - low) / safe - 1.0, 0.0)


def location_grid(
    reference: CachedVolume,
    *,
    patch_vox: int | Sequence[int],
    stride_vox: int | Sequence[int],
    region_labels: Sequence[int] | None = None,
    min_coverage: float = 0.1,
) -> LocationGrid:
    """Patch locations on a regular grid over `reference`, kept where the region covers enough.

    Patch starts step by `stride_vox` along each axis, only where the whole patch fits in the
    volume; the grid is centred (the leftover voxels split between both ends). A patch is kept
    when at least `min_coverage` of its voxels lie in the region: the reference's label values
    `region_labels` (e.g. the lungs), or its body foreground when no labels are given.

    Args:
        reference: the reference volume (the frame's common space).
        patch_vox: patch size, voxels (one int for every axis, or S of them).
        stride_vox: step between patch starts, voxels.
        region_labels: label values of the region, or None for the body foreground.
        min_coverage: fraction in [0, 1] of a patch's voxels that must be in the region.

    Returns:
        The kept locations, in grid order (the last axis varies fastest).

    Raises:
        ConfigError: a size or stride below 1, a coverage outside [0, 1], a patch larger than
            the reference.
        InputError: region labels without a label map, a region absent from the reference, or
            no patch reaching `min_coverage`.
    """
    dims = reference.spatial_dims
    patch = per_axis(patch_vox, dims, "patch_vox")
    stride = per_axis(stride_vox, dims, "stride_vox")
    if not 0.0 <= min_coverage <= 1.0:
        raise ConfigError(f"min_coverage must be in [0, 1], got {min_coverage}")
    size = reference.size_vox
    if any(p > n for p, n in zip(patch, size, strict=True)):
        raise ConfigError(
            f"patch of {patch} voxels does not fit the reference {reference.subject_id!r} of "
            f"{size} voxels"
        )
    mask = region_mask(reference, region_labels)
    region = "the body foreground" if region_labels is None else f"labels {list(region_labels)}"
    if not mask.any():
        raise InputError(reference.folder, f"no voxel of the reference is in {region}")
    axes = [
        (n - p) % s // 2 + np.arange(0, n - p + 1, s, dtype=np.int64)
        for n, p, s in zip(size, patch, stride, strict=True)
    ]  # per axis: (n_a,) patch starts
    starts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, dims)  # (G, S)
    coverage = patch_coverage(mask, starts, patch)  # (G,)
    kept = coverage >= min_coverage
    if not kept.any():
        raise InputError(
            reference.folder,
            f"no patch of {patch} voxels (stride {stride}) has {min_coverage:.0%} of its voxels "
            f"in {region} of the reference (best {coverage.max():.1%}); lower min_coverage or "
            "the patch size",
        )
    centres_vox = starts[kept] + np.asarray(patch, dtype=np.int64) // 2  # (L, S)
    centres_mm = reference.voxel_to_world(centres_vox)  # (L, S)
    return LocationGrid(
        centres_mm=centres_mm,
        centres_vox=centres_vox,
        normalized=normalize_locations(centres_mm),
        coverage=coverage[kept],
        patch_vox=patch,
        stride_vox=stride,
        min_coverage=float(min_coverage),
    )
