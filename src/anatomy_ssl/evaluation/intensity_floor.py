"""The intensity floor of few-shot segmentation: what a voxel's intensity alone predicts.

No encoder at all: the training volumes' intensities are binned, each bin takes the majority label
of its training voxels, and every test voxel gets the label of its bin. A representation that
cannot beat this lookup table reads intensity, not anatomy; the report shows it beside scratch
and the supervised ceiling as the floor of every few-shot table ("Controls" in
docs/architecture.md).

The table is fitted on exactly the k-subset a few-shot run of the same seed trains on, so the
floor pairs with the encoders' runs by (seed, test volume).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from anatomy_ssl.evaluation.few_shot_subsets import few_shot_subsets
from anatomy_ssl.evaluation.segmentation_scoring import dice_per_structure
from anatomy_ssl.preprocess import CachedVolume

DEFAULT_BINS = 256


class IntensityLookup:
    """Majority label per intensity bin, fitted on labeled volumes.

    Args:
        volumes: labeled volumes (first image channel is used).
        num_classes: classes with background (label values in `[0, num_classes)`).
        bins: intensity bins between the training volumes' minimum and maximum.

    Attributes:
        edges: `(bins + 1,)` bin edges in image units.
        labels: `(bins,)` the majority label of each bin (background where no voxel fell).
    """

    def __init__(
        self, volumes: Sequence[CachedVolume], *, num_classes: int, bins: int = DEFAULT_BINS
    ) -> None:
        if not volumes:
            raise ValueError("no training volumes for the intensity lookup")
        if bins < 2:
            raise ValueError(f"need at least 2 bins, got {bins}")
        images, labels = [], []
        for volume in volumes:
            label = volume.load_label()
            if label is None:
                raise ValueError(f"{volume!r} has no label map to fit the intensity lookup on")
            images.append(np.asarray(volume.load_image()[0], dtype=np.float32).reshape(-1))
            labels.append(np.asarray(label, dtype=np.int64).reshape(-1))
        intensity = np.concatenate(images)  # (N,)
        truth = np.concatenate(labels)  # (N,)
        low, high = float(intensity.min()), float(intensity.max())
        self.edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
        self.num_classes = num_classes
        counts = np.bincount(
            self._bin(intensity) * num_classes + truth, minlength=bins * num_classes
        ).reshape(bins, num_classes)  # (bins, C) voxels of each label per bin
        self.labels = counts.argmax(axis=1)  # (bins,), 0 (background) for empty bins

    def _bin(self, intensity: np.ndarray) -> np.ndarray:
        inner = self.edges[1:-1]
        return np.searchsorted(inner, intensity, side="right").astype(np.int64)

    def predict(self, image: np.ndarray) -> np.ndarray:
        """`(C, *S)` image -> `(*S)` int64 label map (values outside the fitted range clamp)."""
        return self.labels[self._bin(np.asarray(image[0], dtype=np.float32))]


def intensity_floor_dice(
    train_volumes: Sequence[CachedVolume],
    test_volumes: Sequence[CachedVolume],
    *,
    num_classes: int,
    bins: int = DEFAULT_BINS,
) -> np.ndarray:
    """`(V, num_classes - 1)` Dice per test volume and structure of a lookup fitted on `train`."""
    lookup = IntensityLookup(train_volumes, num_classes=num_classes, bins=bins)
    return _score(lookup, _labelled_arrays(test_volumes), num_classes)


def intensity_floor_runs(
    train_volumes: Sequence[CachedVolume],
    test_volumes: Sequence[CachedVolume],
    *,
    k_values: Sequence[int | str],
    seeds: Sequence[int],
    num_classes: int,
    bins: int = DEFAULT_BINS,
) -> list[tuple[int, int, tuple[str, ...], np.ndarray, float]]:
    """The floor of every (k, seed): `(k, seed, train subjects, (V, K) Dice, seconds)`.

    The k-subsets are `few_shot_subsets` of the training subjects, as in the few-shot runs. The
    test volumes are read once for all runs.
    """
    train_ids = sorted({volume.subject_id for volume in train_volumes})
    test = _labelled_arrays(test_volumes)
    runs = []
    for seed in seeds:
        subsets = few_shot_subsets(train_ids, list(k_values), seed=seed)
        for k, subjects in sorted(subsets.items()):
            chosen = set(subjects)
            started = time.perf_counter()
            lookup = IntensityLookup(
                [volume for volume in train_volumes if volume.subject_id in chosen],
                num_classes=num_classes,
                bins=bins,
            )
            dice = _score(lookup, test, num_classes)
            runs.append((k, seed, subjects, dice, time.perf_counter() - started))
    return runs


def _labelled_arrays(volumes: Sequence[CachedVolume]) -> list[tuple[np.ndarray, np.ndarray]]:
    """`(image (C, *S), label)` of each volume, read once."""
    arrays = []
    for volume in volumes:
        label = volume.load_label()
        if label is None:
            raise ValueError(f"{volume!r} has no label map to score against")
        arrays.append((volume.load_image(), label))
    return arrays


def _score(
    lookup: IntensityLookup, test: list[tuple[np.ndarray, np.ndarray]], num_classes: int
) -> np.ndarray:
    """`(V, num_classes - 1)` Dice of the lookup's prediction on each test volume."""
    rows = [
        dice_per_structure(lookup.predict(image), label, num_classes=num_classes)
        for image, label in test
    ]
    return np.stack(rows) if rows else np.zeros((0, num_classes - 1))
