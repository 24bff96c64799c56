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
        first = read_resampled_boxes(
            self._entries, parts.entry_index, parts.start_vox, parts.size_vox, layout.size_vox
        )  # (B, C, *size)
        views = [first]
        reach = np.floor(layout.jitter_fraction * parts.size_vox).astype(np.int64)  # (B, S)
        for _ in range(layout.views - 1):
            shift = rng.integers(-reach, reach + 1, dtype=np.int64)
            start = np.clip(parts.start_vox + shift, 0, np.maximum(volume - parts.size_vox, 0))
            views.append(
                read_resampled_boxes(
                    self._entries, parts.entry_index, start, parts.size_vox, layout.size_vox
                )
            )
        if layout.local_crops:
            assert layout.local_size_vox is not None
            room = np.asarray(layout.size_vox) - np.asarray(layout.local_size_vox)  # (S,)
            for _ in range(layout.local_crops):
                offset = rng.integers(0, room + 1, size=volume.shape, dtype=np.int64)
                views.append(crop_per_sample(first, offset, layout.local_size_vox))
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
