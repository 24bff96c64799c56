from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from anatomy_ssl.errors import ConfigError, ManifestError
from anatomy_ssl.manifests import (
    Manifest,
    ManifestRecord,
    assign_subject_splits,
    split_counts,
    split_sizes,
)

SPLITS = ("train", "val", "test")


def _random_manifest(rng: np.random.Generator, root: Path, presplit: float = 0.0) -> Manifest:
    """1-40 subjects with 1-3 images each, records shuffled, some subjects partly pre-split."""
    records = []
    for s in range(int(rng.integers(1, 41))):
        split = str(rng.choice(SPLITS)) if rng.random() < presplit else None
        for i in range(int(rng.integers(1, 4))):
            # Only some of a pre-split subject's records carry its split.
            record_split = split if i == 0 or rng.random() < 0.5 else None
            records.append(ManifestRecord(root / f"s{s}_{i}.nii.gz", None, f"s{s}", record_split))
    order = rng.permutation(len(records))
    return Manifest("random", [records[i] for i in order])


def _split_of_subject(manifest: Manifest) -> dict[str, set[str | None]]:
    splits: dict[str, set[str | None]] = defaultdict(set)
    for record in manifest:
        splits[record.subject_id].add(record.split)
    return splits


def test_no_subject_in_two_splits_over_many_seeds_and_manifests(tmp_path: Path) -> None:
    rng = np.random.default_rng(1234)
    for seed in range(150):
        manifest = _random_manifest(rng, tmp_path, presplit=float(rng.choice([0.0, 0.3])))
        before = {r.subject_id: r.split for r in manifest if r.split is not None}
        result = assign_subject_splits(manifest, seed=seed)
        per_subject = _split_of_subject(result)
        assert all(len(splits) == 1 and None not in splits for splits in per_subject.values())
        for subject, split in before.items():  # existing splits kept, siblings follow
            assert per_subject[subject] == {split}
        assert [r.image for r in result] == [r.image for r in manifest]
        result.validate(check_files=False)
        fresh = [s for s in manifest.subjects() if s not in before]
        counts = defaultdict(int)
        for subject in fresh:
            (split,) = per_subject[subject]
            counts[split] += 1
        assert [counts[name] for name in SPLITS] == split_sizes(len(fresh), [0.8, 0.1, 0.1])


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 11, 99, 1000])
@pytest.mark.parametrize(
    "fractions",
    [{"train": 0.8, "val": 0.1, "test": 0.1}, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3},
     {"train": 0.7, "val": 0.0, "test": 0.3}, {"only": 1.0}],
)  # fmt: skip
def test_fractions_are_respected_within_rounding(
    tmp_path: Path, n: int, fractions: dict[str, float]
) -> None:
    manifest = Manifest(
        "m", [ManifestRecord(tmp_path / f"{k}.nii", None, f"p{k:04d}") for k in range(n)]
    )
    counts = split_counts(assign_subject_splits(manifest, fractions=fractions, seed=3))
    assert sum(counts.values()) == n
    for name, fraction in fractions.items():
        assert abs(counts.get(name, 0) - n * fraction) < 1
    assert set(counts) <= set(fractions)


def test_split_sizes_largest_remainder() -> None:
    assert split_sizes(10, [0.8, 0.1, 0.1]) == [8, 1, 1]
    assert split_sizes(5, [0.5, 0.5]) == [3, 2]  # tie: earlier split first
    assert split_sizes(7, [0.8, 0.1, 0.1]) == [5, 1, 1]  # 5.6, 0.7, 0.7: .7 > .6
    assert split_sizes(100, [0.29, 0.71]) == [29, 71]  # 0.29 * 100 = 28.999...
    assert split_sizes(0, [0.5, 0.5]) == [0, 0]
    rng = np.random.default_rng(0)
    for _ in range(200):
        weights = rng.random(int(rng.integers(1, 6)))
        fractions = list(weights / weights.sum())
        n = int(rng.integers(0, 500))
        sizes = split_sizes(n, fractions)
        assert sum(sizes) == n
        assert all(abs(size - n * f) < 1 for size, f in zip(sizes, fractions, strict=True))


def test_deterministic_per_seed_and_independent_of_record_order(tmp_path: Path) -> None:
    records = [ManifestRecord(tmp_path / f"{k}.nii", None, f"p{k:02d}") for k in range(50)]
    manifest = Manifest("m", records)
    reversed_manifest = Manifest("m", records[::-1])

    def mapping(m: Manifest, seed: int) -> dict[str, str | None]:
        return {r.subject_id: r.split for r in assign_subject_splits(m, seed=seed)}

    assert mapping(manifest, 5) == mapping(manifest, 5)
    assert mapping(manifest, 5) == mapping(reversed_manifest, 5)
    assert len({tuple(sorted(mapping(manifest, seed).items())) for seed in range(5)}) == 5


def test_keep_existing_false_reassigns_everything(tmp_path: Path) -> None:
    records = [ManifestRecord(tmp_path / f"{k}.nii", None, f"p{k}", "test") for k in range(20)]
    manifest = Manifest("m", records)
    assert split_counts(assign_subject_splits(manifest)) == {"test": 20}
    counts = split_counts(assign_subject_splits(manifest, keep_existing=False))
    assert counts == {"test": 2, "train": 16, "val": 2}


def test_conflicting_existing_splits_are_reported(tmp_path: Path) -> None:
    manifest = Manifest(
        "m",
        [
            ManifestRecord(tmp_path / "a.nii", None, "p1", "train"),
            ManifestRecord(tmp_path / "b.nii", None, "p1", "val"),
        ],
    )
    with pytest.raises(ManifestError, match="subject p1 is in several splits: train, val"):
        assign_subject_splits(manifest)
    assert split_counts(assign_subject_splits(manifest, keep_existing=False)) != {}


@pytest.mark.parametrize(
    "fractions",
    [
        {},
        {"train": 0.9, "val": 0.2, "test": -0.1},
        {"train": 0.8, "val": 0.1},
        {"train": 0.5, "val": 0.5 + 2e-6},
        {"train": math.nan, "val": 1.0},
        {"": 1.0},
    ],
)
def test_bad_fractions_are_config_errors(tmp_path: Path, fractions: dict[str, float]) -> None:
    manifest = Manifest("m", [ManifestRecord(tmp_path / "a.nii", None, "p")])
    with pytest.raises(ConfigError):
        assign_subject_splits(manifest, fractions=fractions)


def test_fractions_within_tolerance_are_accepted(tmp_path: Path) -> None:
    manifest = Manifest(
        "m", [ManifestRecord(tmp_path / f"{k}.nii", None, f"p{k}") for k in range(4)]
    )
    result = assign_subject_splits(manifest, fractions={"a": 0.5, "b": 0.5 + 5e-7})
    assert split_counts(result) == {"a": 2, "b": 2}


def test_split_counts_counts_subjects_not_records(tmp_path: Path) -> None:
    manifest = Manifest(
        "m",
        [
            ManifestRecord(tmp_path / "1.nii", None, "p1", "val"),
            ManifestRecord(tmp_path / "2.nii", None, "p1", "val"),
            ManifestRecord(tmp_path / "3.nii", None, "p2", "train"),
            ManifestRecord(tmp_path / "4.nii", None, "p3", None),
        ],
    )
    assert split_counts(manifest) == {"train": 1, "val": 1}
    assert list(split_counts(manifest)) == ["train", "val"]
