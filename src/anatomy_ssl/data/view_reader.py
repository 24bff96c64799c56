"""Read the crops a list of ViewSpecs asks for from memory-mapped cache entries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from anatomy_ssl.data.view_spec import ViewSpec
from anatomy_ssl.preprocess.cached_volume import CachedVolume


def read_views(entries: Sequence[CachedVolume], specs: Sequence[ViewSpec]) -> list[torch.Tensor]:
    """Cut every view of a batch, one read per (entry, view).

    Samples are grouped by entry so each entry is read once per view, and every crop is copied
    from the memory map straight into its row of the batch (no intermediate copy). Crops are
    padded with each entry's background value where they leave the volume; labels are not read.

    Args:
        entries: the cached volumes `ViewSpec.entry_index` refers to.
        specs: one ViewSpec per view.

    Returns:
        One float32 tensor `(B, C, *spec.size_vox)` per spec, in the same order.

    Raises:
        ValueError: the entries a view touches have different channel counts.
    """
    views = []
    for spec in specs:
        order = np.argsort(spec.entry_index, kind="stable")  # (B,) samples grouped by entry
        used, first = np.unique(spec.entry_index[order], return_index=True)
        groups = np.split(order, first[1:])  # sample rows of each used entry
        channels = {entries[int(entry)].channels for entry in used}
        if len(channels) != 1:
            raise ValueError(f"entries of one batch have different channel counts: {channels}")
        out = np.empty((spec.batch_size, channels.pop(), *spec.size_vox), dtype=np.float32)
        for entry, rows in zip(used, groups, strict=True):
            entries[int(entry)].read_image_into(
                out, rows.tolist(), spec.start_vox[rows], spec.size_vox
            )
        views.append(torch.from_numpy(out))
    return views
