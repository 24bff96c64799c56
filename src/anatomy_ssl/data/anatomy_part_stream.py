"""The pretraining stream of part-based methods: views of one anatomical part per sample.

Like `PretrainingStream`, batch `step` is a pure function of `(seed, rank, step)`, and so is its
granularity level (the coarse-to-fine schedule), so a resumed run continues in the same stage
with the same batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anatomy_ssl.anatomy import body_bounding_box, sample_part_boxes
from anatomy_ssl.data.part_view_layout import PartViewLayout
from anatomy_ssl.data.part_view_reader import read_resampled_boxes
from anatomy_ssl.data.per_sample_crop import crop_per_sample, split_into_halves
from anatomy_ssl.data.pretraining_stream import PretrainingStream
from anatomy_ssl.preprocess.cached_volume import CachedVolume
from anatomy_ssl.transforms.augmentation_params import sample_augmentation
from anatomy_ssl.transforms.augmentation_spec import AugmentationSpec
from anatomy_ssl.transforms.batch_augmentation import apply_augmentation


class AnatomyPartStream(PretrainingStream):
    """Batches `{"views": [...], "entry_index": (B,), "step": int, "level": int}` with the
    views of `layout` (see `PartViewLayout` for their order), cut from parts the anatomy
    decomposer draws inside each volume's body box."""

    def __init__(
        self,
        entry_folders: Sequence[str | Path],
        layout: PartViewLayout,
        batch_size: int,
        *,
        seed: int,
        augmentation: AugmentationSpec,
        rank: int = 0,
        world_size: int = 1,
        start_step: int = 0,
    ) -> None:
        """Find each volume's body box once (in the constructing process).

        Args: as `PretrainingStream`, with the part `layout` in place of view groups.
        """
        super().__init__(
            entry_folders,
            layout.view_groups(),
            batch_size,
            seed=seed,
            augmentation=replace(augmentation, flip_probability=0.0),
            rank=rank,
            world_size=world_size,
            start_step=start_step,
        )
        self.layout = layout
        boxes = [body_bounding_box(CachedVolume(folder)) for folder in self.entry_folders]
        self.body_start_vox = np.stack([start for start, _ in boxes])  # (E, S)
        self.body_stop_vox = np.stack([stop for _, stop in boxes])  # (E, S)
        extent = self.body_stop_vox - self.body_start_vox
        self.view_size_by_level = {
            level: (
                layout.native_size_vox(extent, level)
                if layout.scale == "native"
                else layout.size_vox
            )
            for level in set(layout.schedule.levels)
        }

    def plan(self, step: int) -> Any:
        """Part streams draw parts and views together in `batch`; there is no crop plan."""
        raise NotImplementedError("AnatomyPartStream plans its views inside batch(step)")

    def batch(self, step: int) -> dict[str, Any]:
        if self._entries is None:
            self._entries = [CachedVolume(folder) for folder in self.entry_folders]
        layout = self.layout
        rng = np.random.default_rng([self.seed, self.rank, step])
        level = layout.schedule.level_at(step)
        parts = sample_part_boxes(
            self.body_start_vox,
            self.body_stop_vox,
            self.batch_size,
            level,
            rng,
            mode=layout.mode,
        )
        volume = self.volume_sizes[parts.entry_index]  # (B, S)
        size = self.view_size_by_level[level]
        # the box each view is read from: the part itself (resize), or a box of the level's
        # native view size centred on it (native: context around a small part, a central
        # window of a large one; nothing is resampled)
        box = parts.size_vox if layout.scale == "resize" else np.broadcast_to(size, volume.shape)
        box_start = parts.start_vox + (parts.size_vox - box) // 2
        first = read_resampled_boxes(
            self._entries, parts.entry_index, box_start, box, size
        )  # (B, C, *size)
        views = [first]
        reach = np.floor(layout.jitter_fraction * box).astype(np.int64)  # (B, S)
        for _ in range(layout.views - 1):
            shift = rng.integers(-reach, reach + 1, dtype=np.int64)
            start = np.clip(box_start + shift, 0, np.maximum(volume - box, 0))
            views.append(read_resampled_boxes(self._entries, parts.entry_index, start, box, size))
        local_size = layout.local_size_at(size)
        if layout.local_crops:
            assert local_size is not None
            room = np.asarray(size) - np.asarray(local_size)  # (S,)
            for _ in range(layout.local_crops):
                offset = rng.integers(0, room + 1, size=volume.shape, dtype=np.int64)
                views.append(crop_per_sample(first, offset, local_size))
        if layout.sub_parts:
            views.extend(split_into_halves(first))
        spatial_dims = self.volume_sizes.shape[1]
        augmented = [
            apply_augmentation(
                view, sample_augmentation(self.augmentation, self.batch_size, spatial_dims, rng)
            )
            for view in views
        ]
        return {
            "views": augmented,
            "entry_index": torch.from_numpy(parts.entry_index),
            "step": step,
            "level": level,
        }
