"""Shared by the few-shot benchmarks: a generated dataset split 60/40 by subject and cached."""

from __future__ import annotations

from pathlib import Path

from anatomy_ssl.manifests import assign_subject_splits, load_manifest
from anatomy_ssl.preprocess import CachedVolume, PreprocessSpec, VolumeCache, preprocess_dataset


def train_test_cache(
    folder: Path, spec: PreprocessSpec
) -> tuple[list[CachedVolume], list[CachedVolume]]:
    """Split the dataset generated in `<folder>/data` into train / test (0.6 / 0.4, seed 0),
    preprocess it into `<folder>/cache` with `spec`, and return the cached train and test
    volumes, each sorted by subject."""
    manifest = assign_subject_splits(
        load_manifest(folder / "data" / "manifest.csv"),
        fractions={"train": 0.6, "test": 0.4},
        seed=0,
        keep_existing=False,
    )
    preprocess_dataset(manifest, spec, folder / "cache", progress=False)
    volumes = sorted(VolumeCache(folder / "cache").entries(spec.hash), key=lambda v: v.subject_id)
    return (
        [v for v in volumes if v.split == "train"],
        [v for v in volumes if v.split == "test"],
    )
