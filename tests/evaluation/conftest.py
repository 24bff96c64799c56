"""Tiny phantom data with landmarks and a clinical table, shared by the evaluation tests."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from anatomy_ssl.manifests import load_manifest
from anatomy_ssl.phantoms import make_ct_phantom_dataset
from anatomy_ssl.phantoms.phantom_dataset_writer import read_landmarks
from anatomy_ssl.preprocess import CachedVolume, PreprocessSpec, VolumeCache, preprocess_dataset

EVAL_SPEC = PreprocessSpec(target_spacing_mm=(6.0, 6.0, 6.0), intensity="ct", foreground_crop=True)


@dataclass(frozen=True)
class PhantomEvalData:
    """`volumes`: cache entries (level-1 organ labels) in subject order; `landmarks`: subject ->
    name -> `(3,)` RAS mm; `clinical`: subject -> column -> text, as in `clinical.csv`."""

    root: Path
    volumes: list[CachedVolume]
    landmarks: dict[str, dict[str, np.ndarray]]
    clinical: dict[str, dict[str, str]]


@pytest.fixture(scope="session")
def phantom_eval_data(tmp_path_factory) -> PhantomEvalData:
    root = tmp_path_factory.mktemp("eval-data")
    make_ct_phantom_dataset(root / "phantom", 6, preset="small", progress=False)
    manifest = load_manifest(root / "phantom" / "manifest.csv")
    preprocess_dataset(manifest, EVAL_SPEC, root / "cache", progress=False)
    volumes = sorted(VolumeCache(root / "cache").entries(), key=lambda v: v.subject_id)
    landmarks = {
        v.subject_id: read_landmarks(root / "phantom" / "landmarks" / f"{v.subject_id}.json")
        for v in volumes
    }
    with (root / "phantom" / "clinical.csv").open() as handle:
        clinical = {row["subject_id"]: row for row in csv.DictReader(handle)}
    return PhantomEvalData(root / "phantom", volumes, landmarks, clinical)
