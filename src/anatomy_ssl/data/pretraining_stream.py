"""An infinite, resumable stream of augmented multi-view batches for self-supervised pretraining.

Batch `step` of rank `rank` is a pure function of `(seed, rank, step)`: its random generator is
`np.random.default_rng([seed, rank, step])`. Resuming at `start_step` therefore reproduces the
batches an uninterrupted run would have seen, and the stream does not depend on the number of
DataLoader workers: worker w of W makes steps `start_step + w, start_step + w + W, ...`, and the
DataLoader takes one batch from each worker in turn, which restores step order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from anatomy_ssl.data.crop_view_sampler import sample_view_specs
from anatomy_ssl.data.view_group import ViewGroup
from anatomy_ssl.data.view_reader import read_views
from anatomy_ssl.data.view_spec import ViewSpec
from anatomy_ssl.preprocess.cached_volume import CachedVolume
from anatomy_ssl.transforms.augmentation_params import AugmentationParams, sample_augmentation
from anatomy_ssl.transforms.augmentation_spec import AugmentationSpec
from anatomy_ssl.transforms.batch_augmentation import apply_augmentation


class PretrainingStream(IterableDataset[dict[str, Any]]):
    """Batches of views cut from cached volumes and augmented independently per view.

    Each batch is `{"views": [(B, C, *size) float32 per view, in group order],
    "entry_index": (B,) int64 index into `entry_folders`, "step": int}` and the geometry that
    places every view voxel in its volume (for methods whose loss pairs voxels across views):
    "view_start_vox" `(V, B, S)` int64 first voxel of each crop, "view_flips" `(V, B, S)` bool
    mirrored axes, "spacing_mm" `(B, S)` float32 voxel size of each sample's volume. Voxel `u`
    of view v, sample b lies at volume voxel `start + (size - 1 - u if flipped else u)`.
    """

    def __init__(
        self,
        entry_folders: Sequence[str | Path],
        view_groups: Sequence[ViewGroup],
        batch_size: int,
        *,
        seed: int,
        augmentation: AugmentationSpec,
        rank: int = 0,
        world_size: int = 1,
        start_step: int = 0,
        max_center_offset_fraction: float = 0.5,
    ) -> None:
        """Check the entries against the views; the volumes are reopened lazily per worker.

        Args:
            entry_folders: cache entry folders (`<cache>/<spec_hash>/entries/<key>`).
            view_groups: views per sample, e.g. `[ViewGroup(2, (32, 32, 32))]`.
            batch_size: samples B per batch (per rank).
            seed: run seed; batches depend only on `(seed, rank, step)`.
            augmentation: ranges of the per-view random augmentation.
            rank: this process's rank among `world_size` data-parallel processes.
            world_size: data-parallel processes.
            start_step: first step to yield (the step a resumed run continues from).
            max_center_offset_fraction: how far a view's centre may move from its sample's
                anchor, as a fraction of the view size (see `sample_view_specs`).

        Raises:
            ValueError: no entries, entries of mixed spatial dimensions, view sizes of another
                dimension, or an argument out of range.
        """
        super().__init__()
        self.entry_folders = tuple(str(folder) for folder in entry_folders)
        self.view_groups = tuple(view_groups)
        if not self.entry_folders:
            raise ValueError("no cache entries to sample pretraining views from")
        if not self.view_groups:
            raise ValueError("need at least one view group")
        if batch_size < 1 or start_step < 0 or not 0 <= rank < world_size:
            raise ValueError(
                f"need batch_size >= 1, start_step >= 0 and 0 <= rank < world_size; got "
                f"{batch_size}, {start_step}, {rank}, {world_size}"
            )
        sizes = [CachedVolume(folder).size_vox for folder in self.entry_folders]
        dims = {len(size) for size in sizes} | {group.spatial_dims for group in self.view_groups}
        if len(dims) != 1:
            view_sizes = [group.size_vox for group in self.view_groups]
            raise ValueError(
                f"entries have {sorted({len(size) for size in sizes})} spatial dims but the "
                f"view sizes are {view_sizes}; all must be 2D or all 3D"
            )
        self.volume_sizes = np.asarray(sizes, dtype=np.int64)  # (E, S) voxels
        self.spacings_mm = np.asarray(
            [CachedVolume(folder).spacing_mm for folder in self.entry_folders], dtype=np.float32
        )  # (E, S) mm
        self.batch_size = batch_size
        self.seed = seed
        self.augmentation = augmentation
        self.rank = rank
        self.world_size = world_size
        self.start_step = start_step
        self.max_center_offset_fraction = max_center_offset_fraction
        self._entries: list[CachedVolume] | None = None

    def plan(self, step: int) -> tuple[list[ViewSpec], list[AugmentationParams]]:
        """The random choices of batch `step`: where each view is cut and how it is augmented.

        Returns:
            One ViewSpec and one AugmentationParams per view, in group order.
        """
        rng = np.random.default_rng([self.seed, self.rank, step])
        specs = sample_view_specs(
            self.volume_sizes,
            self.view_groups,
            self.batch_size,
            rng,
            max_center_offset_fraction=self.max_center_offset_fraction,
        )
        spatial_dims = self.volume_sizes.shape[1]
        params = [
            sample_augmentation(self.augmentation, self.batch_size, spatial_dims, rng)
            for _ in specs
        ]
        return specs, params

    def batch(self, step: int) -> dict[str, Any]:
        """Batch number `step`: read and augment the views of `plan(step)`."""
        if self._entries is None:
            self._entries = [CachedVolume(folder) for folder in self.entry_folders]
        specs, params = self.plan(step)
        views = read_views(self._entries, specs)
        return {
            "views": [
                apply_augmentation(view, view_params)
                for view, view_params in zip(views, params, strict=True)
            ],
            "entry_index": torch.from_numpy(specs[0].entry_index),
            "step": step,
            "view_start_vox": torch.from_numpy(np.stack([spec.start_vox for spec in specs])),
            "view_flips": torch.from_numpy(np.stack([view.flips for view in params])),
            "spacing_mm": torch.from_numpy(self.spacings_mm[specs[0].entry_index]),
        }

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        step = self.start_step + worker
        while True:
            yield self.batch(step)
            step += workers


def make_pretraining_loader(
    stream: PretrainingStream, workers: int, pin_memory: bool = False
) -> DataLoader[dict[str, Any]]:
    """A DataLoader over a stream's ready-made batches (no collation), in step order.

    Args:
        stream: the batches.
        workers: data-loading processes (0 builds batches in the training process); kept alive
            across epochs, each preparing two batches ahead.
        pin_memory: page-lock batches for faster copies to a GPU.
    """
    return DataLoader(
        stream,
        batch_size=None,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers > 0 else None,
    )
