"""Batches of (subject, location) patches in an anatomical frame (DrasCLR's views).

Each sample is one usable (subject, location) pair of the frame, drawn uniformly among all of
them, so a batch mixes many locations and subjects (the authors' code sweeps one location per
batch, which biases BatchNorm and, with data workers, serves stale locations). Views 0 and 1
are the location's patch in that subject, augmented twice; views 2 .. 2 + k - 1 are the patches
of its k nearest other locations (nearest in the reference frame) that the subject can serve,
for the neighbour loss. The batch also carries each sample's location index, subject and
normalized location(s), the input of a location-conditioned encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anatomy_ssl.data.anatomical_frame_store import AnatomicalFrame
from anatomy_ssl.data.pretraining_stream import PretrainingStream
from anatomy_ssl.data.view_group import ViewGroup
from anatomy_ssl.data.view_spec import ViewSpec
from anatomy_ssl.transforms.augmentation_params import AugmentationParams, sample_augmentation
from anatomy_ssl.transforms.augmentation_spec import AugmentationSpec


@dataclass(frozen=True, eq=False)
class FrameSampleTable:
    """The usable (subject, location) pairs of a frame and every location's neighbours.

    Attributes:
        subject_entry: `(N,)` int64 index of each framed subject in the stream's entry list.
        centres_vox: `(N, L, S)` float centre of each location in each subject, voxels.
        valid: `(N, L)` bool, whether the subject can serve the location.
        normalized: `(L, S)` float32 location in [-1, 1] (the conditioned encoder's input).
        neighbour_order: `(L, L - 1)` int64 the other locations of each location, nearest
            first (distance between the reference centres).
        neighbours: k, neighbours per sample.
    """

    subject_entry: np.ndarray
    centres_vox: np.ndarray
    valid: np.ndarray
    normalized: np.ndarray
    neighbour_order: np.ndarray
    neighbours: int

    @classmethod
    def from_frame(
        cls, frame: AnatomicalFrame, entry_keys: Sequence[str], neighbours: int = 2
    ) -> FrameSampleTable:
        """The table of `frame` for a stream over the entries named `entry_keys` (cache entry
        keys, in the stream's order); framed subjects outside them are left out.

        Raises:
            ValueError: no framed subject among the entries, or fewer than `neighbours` + 1
                locations in the frame.
        """
        position = {key: i for i, key in enumerate(entry_keys)}
        rows = [i for i, key in enumerate(frame.subject_keys) if key in position]
        if not rows:
            raise ValueError(
                f"frame {frame.frame_id} holds none of the {len(entry_keys)} training entries: "
                "run `anatomy-ssl frame` on this cache first"
            )
        centres_mm = frame.locations.centres_mm  # (L, S)
        distance = np.linalg.norm(centres_mm[:, None] - centres_mm[None], axis=-1)  # (L, L)
        np.fill_diagonal(distance, np.inf)
        order = np.argsort(distance, axis=1, kind="stable")[:, :-1]  # (L, L - 1), self last
        return cls(
            subject_entry=np.asarray(
                [position[frame.subject_keys[i]] for i in rows], dtype=np.int64
            ),
            centres_vox=frame.centres_vox[rows],
            valid=frame.valid[rows],
            normalized=frame.locations.normalized.astype(np.float32),
            neighbour_order=order.astype(np.int64),
            neighbours=neighbours,
        )

    def __post_init__(self) -> None:
        subjects, locations = self.valid.shape
        if self.neighbours < 1 or locations < self.neighbours + 1:
            raise ValueError(
                f"{self.neighbours} neighbours per sample need at least {self.neighbours + 1} "
                f"locations, the frame has {locations}"
            )
        if self.centres_vox.shape[:2] != (subjects, locations) or self.normalized.shape[0] != (
            locations
        ):
            raise ValueError(
                f"centres_vox {self.centres_vox.shape}, valid {self.valid.shape} and normalized "
                f"{self.normalized.shape} disagree on subjects and locations"
            )

    def usable_pairs(self) -> np.ndarray:
        """`(P, 2)` int64 (subject row, location) pairs whose subject also serves at least
        `neighbours` other locations."""
        enough = self.valid.sum(axis=1) >= self.neighbours + 1  # (N,)
        pairs = np.argwhere(self.valid & enough[:, None]).astype(np.int64)
        if len(pairs) == 0:
            raise ValueError(
                f"no framed subject serves {self.neighbours + 1} locations: nothing to train on"
            )
        return pairs

    def nearest_valid_neighbours(self, subject: np.ndarray, location: np.ndarray) -> np.ndarray:
        """`(B, k)` int64: the k locations nearest each sample's location that its subject can
        serve (the subjects of `usable_pairs` always have k of them)."""
        candidates = self.neighbour_order[location]  # (B, L - 1), nearest first
        usable = self.valid[subject[:, None], candidates]  # (B, L - 1)
        first = np.argsort(~usable, axis=1, kind="stable")[:, : self.neighbours]  # (B, k)
        return np.take_along_axis(candidates, first, axis=1)


class FramePatchStream(PretrainingStream):
    """A `PretrainingStream` of DrasCLR's views: one view group of `2 + k` patches per sample
    (the anchor twice, then its k neighbours); batches carry the base stream's keys plus
    "subject" `(B,)` int64 (the entry index: unique per subject), "location_index" `(B,)`,
    "location" `(B, S)` float32, "neighbour_index" `(B, k)` and "neighbour_location"
    `(B, k, S)` float32."""

    def __init__(
        self,
        entry_folders: Sequence[str | Path],
        table: FrameSampleTable,
        view_group: ViewGroup,
        batch_size: int,
        *,
        seed: int,
        augmentation: AugmentationSpec,
        rank: int = 0,
        world_size: int = 1,
        start_step: int = 0,
    ) -> None:
        """Args as `PretrainingStream`, plus the frame's sample `table` (subjects indexed into
        `entry_folders`); `view_group` must hold `2 + table.neighbours` views.

        Raises:
            ValueError: a view group of another count, or subjects outside the entries.
        """
        if view_group.count != 2 + table.neighbours:
            raise ValueError(
                f"a frame sample has 2 + {table.neighbours} views, the view group has "
                f"{view_group.count}"
            )
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
        if table.subject_entry.min() < 0 or table.subject_entry.max() >= entries:
            raise ValueError(f"frame subjects are outside the {entries} entries")
        self.table = table
        self.pairs = table.usable_pairs()  # (P, 2)

    def draw(self, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.random.Generator]:
        """Batch `step`'s samples: subject rows `(B,)`, locations `(B,)`, neighbours `(B, k)`,
        and the generator, positioned for the augmentation draws."""
        rng = np.random.default_rng([self.seed, self.rank, step])
        rows = self.pairs[rng.integers(0, len(self.pairs), size=self.batch_size)]  # (B, 2)
        subject, location = rows[:, 0], rows[:, 1]
        return subject, location, self.table.nearest_valid_neighbours(subject, location), rng

    def plan(self, step: int) -> tuple[list[ViewSpec], list[AugmentationParams]]:
        subject, location, neighbours, rng = self.draw(step)
        size = np.asarray(self.view_groups[0].size_vox, dtype=np.int64)  # (S,)
        entry = self.table.subject_entry[subject]  # (B,)

        def patch(locations: np.ndarray) -> ViewSpec:
            centre = np.rint(self.table.centres_vox[subject, locations]).astype(np.int64)
            return ViewSpec(entry, centre - size // 2, tuple(size))

        specs = [patch(location), patch(location)]
        specs += [patch(neighbours[:, j]) for j in range(self.table.neighbours)]
        params = [
            sample_augmentation(self.augmentation, self.batch_size, len(size), rng) for _ in specs
        ]
        return specs, params

    def batch(self, step: int) -> dict[str, Any]:
        subject, location, neighbours, _ = self.draw(step)
        return super().batch(step) | {
            "subject": torch.from_numpy(self.table.subject_entry[subject]),
            "location_index": torch.from_numpy(location),
            "location": torch.from_numpy(self.table.normalized[location]),
            "neighbour_index": torch.from_numpy(neighbours),
            "neighbour_location": torch.from_numpy(self.table.normalized[neighbours]),
        }
