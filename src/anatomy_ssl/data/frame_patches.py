"""Patches of DrasCLR's anatomical frame: the patch around each (subject, location) centre, read
from the cache's memory-mapped images (Yu et al., "DrasCLR: A Self-supervised Framework of
Learning Disease-related and Anatomy-specific Representation for 3D Medical Images", 2023).

The (subject, location) pairs to read come from `AnatomicalFrame.valid_pairs()`; the centres from
`AnatomicalFrame.centres_vox`. A patch spans `rint(centre) - patch_vox // 2` up to (excluding)
that start plus `patch_vox`, as `CachedVolume.crops_at_centers` and `LocationGrid` define it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from anatomy_ssl.anatomy.location_grid import per_axis
from anatomy_ssl.preprocess import CachedVolume


def read_frame_patches(
    volumes: Sequence[CachedVolume],
    subject_index: np.ndarray,
    centres_vox: np.ndarray,
    patch_vox: int | Sequence[int],
) -> np.ndarray:
    """The patch of side `patch_vox` around each centre, read from its subject's image.

    Only the patch's bytes are read from the memory map (`CachedVolume.read_image_into`), straight
    into the float32 output; a part of a patch outside its volume is the volume's background
    value. Rows are grouped by volume (a loop over the batch's few distinct volumes); within a
    volume, the reader does one strided slice per patch: I/O on a memory map, like the crop
    reader, never a loop over voxels.

    Args:
        volumes: the cache entries that `subject_index` points into, all with the same channels
            C and S spatial dims.
        subject_index: `(B,)` int, the entry in `volumes` of each patch.
        centres_vox: `(B, S)` continuous voxel coordinates of each patch centre in its entry
            (rounded to the nearest voxel).
        patch_vox: patch side in voxels, one int or S of them.

    Returns:
        `(B, C, *patch_vox)` float32 patches (a copy: nothing refers to the memory map).

    Raises:
        ValueError: mismatched or malformed shapes, non-finite centres, an index outside
            `volumes`, entries with different channel counts or of another dimensionality.
        ConfigError: a patch side below 1.
    """
    subjects = np.asarray(subject_index)
    centres = np.asarray(centres_vox, dtype=np.float64)
    if not volumes:
        raise ValueError("no volumes to read patches from")
    if subjects.ndim != 1 or centres.ndim != 2 or len(subjects) != len(centres):
        raise ValueError(
            f"subject_index must be (B,) and centres_vox (B, S); got shapes {subjects.shape} "
            f"and {centres.shape}"
        )
    if len(subjects) and not np.issubdtype(subjects.dtype, np.integer):
        raise ValueError(f"subject_index must hold integers, got dtype {subjects.dtype}")
    if not np.isfinite(centres).all():
        raise ValueError("centres_vox holds non-finite coordinates")
    if len(subjects) and (subjects.min() < 0 or subjects.max() >= len(volumes)):
        raise ValueError(
            f"subject_index must lie in [0, {len(volumes)}) (the volumes given); got values "
            f"from {subjects.min()} to {subjects.max()}"
        )
    size = per_axis(patch_vox, centres.shape[1], "patch_vox")
    used = np.unique(subjects).tolist()
    channels = {volumes[i].channels for i in used} or {volumes[0].channels}
    if len(channels) > 1:
        raise ValueError(f"the volumes read have different channel counts {sorted(channels)}")
    patches = np.empty((len(subjects), channels.pop(), *size), dtype=np.float32)
    starts = np.rint(centres).astype(np.int64) - np.asarray(size) // 2  # (B, S)
    for volume in used:  # the batch's few distinct volumes
        rows = np.flatnonzero(subjects == volume)  # (b,)
        # raises ValueError for an entry that is not S-dimensional
        volumes[volume].read_image_into(patches, rows.tolist(), starts[rows], size)
    return patches
