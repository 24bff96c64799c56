"""Batches of crop pairs that show the same anatomy in two volumes (Alice's cross-volume views).

The pairs are points matched ahead of training (`anatomy-ssl mine`): row r says voxel
`source_vox[r]` of entry `source_entry[r]` is the anatomy at `partner_vox[r]` of entry
`partner_entry[r]`. Each sample draws one row; view 0 is a crop of the source around its point,
view 1 a crop of the partner around its match, both moved by one shared random offset so the
matched point is not always at the centre yet stays at the same place in both crops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anatomy_ssl.data.pretraining_stream import PretrainingStream
from anatomy_ssl.data.view_group import ViewGroup
from anatomy_ssl.data.view_spec import ViewSpec
from anatomy_ssl.transforms.augmentation_params import AugmentationParams, sample_augmentation
from anatomy_ssl.transforms.augmentation_spec import AugmentationSpec


@dataclass(frozen=True, eq=False)
class PairTable:
    """Matched points between entries of a stream's entry list.

    Attributes:
        source_entry: `(P,)` int64 entry index of each pair's first volume.
        source_vox: `(P, S)` int64 its voxel.
        partner_entry: `(P,)` int64 entry index of the second volume.
        partner_vox: `(P, S)` int64 the matched voxel there.
    """

    source_entry: np.ndarray
    source_vox: np.ndarray
    partner_entry: np.ndarray
    partner_vox: np.ndarray

    def __post_init__(self) -> None:
        count = len(self.source_entry)
        shapes = (self.source_vox.shape, self.partner_entry.shape, self.partner_vox.shape)
        if count == 0:
            raise ValueError("the pair table is empty: no mined pair to train on")
        if shapes != ((count, self.source_vox.shape[1]), (count,), self.source_vox.shape):
            raise ValueError(
                f"need source_entry (P,), source_vox (P, S), partner_entry (P,) and "
                f"partner_vox (P, S); got {self.source_entry.shape} and {shapes}"
            )

    def __len__(self) -> int:
        return len(self.source_entry)


class PairedViewStream(PretrainingStream):
    """A `PretrainingStream` whose two views per sample come from a mined pair of volumes
    (one view group of count 2); batches carry the same geometry keys."""

    def __init__(
        self,
        entry_folders: Sequence[str | Path],
        pairs: PairTable,
        view_group: ViewGroup,
        batch_size: int,
        *,
        seed: int,
        augmentation: AugmentationSpec,
        rank: int = 0,
        world_size: int = 1,
        start_step: int = 0,
        max_offset_fraction: float = 0.25,
    ) -> None:
        """Args as `PretrainingStream`, plus `pairs` (entry indices into `entry_folders`) and
        `max_offset_fraction`: the shared offset of both crops from their points, per axis, as
        a fraction of the crop size.

        Raises:
            ValueError: a view group of another count than 2, or pairs naming entries that do
                not exist or voxels outside their volume.
        """
        if view_group.count != 2:
            raise ValueError(f"paired views come two per sample, got count {view_group.count}")
        super().__init__(
            entry_folders,
            [view_group],
            batch_size,
            seed=seed,
            augmentation=augmentation,
            rank=rank,
            world_size=world_size,
            start_step=start_step,
        )
        entries = len(self.entry_folders)
        for name, index, voxels in (
            ("source", pairs.source_entry, pairs.source_vox),
            ("partner", pairs.partner_entry, pairs.partner_vox),
        ):
            if index.min() < 0 or index.max() >= entries:
                raise ValueError(f"{name} entries of the pairs are outside the {entries} entries")
            if (voxels < 0).any() or (voxels >= self.volume_sizes[index]).any():
                raise ValueError(f"{name} voxels of the pairs lie outside their volumes")
        self.pairs = pairs
        self.max_offset_fraction = max_offset_fraction

    def plan(self, step: int) -> tuple[list[ViewSpec], list[AugmentationParams]]:
        rng = np.random.default_rng([self.seed, self.rank, step])
        rows = rng.integers(0, len(self.pairs), size=self.batch_size)  # (B,)
        size = np.asarray(self.view_groups[0].size_vox, dtype=np.int64)  # (S,)
        reach = np.floor(self.max_offset_fraction * size).astype(np.int64)
        offset = rng.integers(-reach, reach + 1, size=(self.batch_size, len(size)))  # (B, S)
        corner = offset - size // 2
        specs = [
            ViewSpec(
                self.pairs.source_entry[rows], self.pairs.source_vox[rows] + corner, tuple(size)
            ),
            ViewSpec(
                self.pairs.partner_entry[rows], self.pairs.partner_vox[rows] + corner, tuple(size)
            ),
        ]
        params = [
            sample_augmentation(self.augmentation, self.batch_size, len(size), rng) for _ in specs
        ]
        return specs, params
