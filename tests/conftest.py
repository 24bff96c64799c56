"""Tiny phantom data shared across the suite: caches for pretraining (3D CT, 2D radiographs) and
an evaluation set with landmarks and a clinical table."""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from anatomy_ssl.anatomy import build_frame
from anatomy_ssl.manifests import load_manifest
from anatomy_ssl.phantoms import make_ct_phantom_dataset, make_xray_phantom_dataset
from anatomy_ssl.phantoms.phantom_dataset_writer import read_landmarks
from anatomy_ssl.preprocess import CachedVolume, PreprocessSpec, VolumeCache, preprocess_dataset

TINY_SPEC = PreprocessSpec(target_spacing_mm=(6.0, 6.0, 6.0), intensity="ct", foreground_crop=True)
TINY_XRAY_SPEC = PreprocessSpec(
    spatial_dims=2, target_spacing_mm=(4.0, 4.0), intensity="mri", foreground_crop=False
)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pretrain-data")
    make_ct_phantom_dataset(root / "phantom", 4, preset="small", progress=False)
    manifest = load_manifest(root / "phantom" / "manifest.csv")
    preprocess_dataset(manifest, TINY_SPEC, root / "cache", progress=False)
    return root / "cache"


@pytest.fixture(scope="session")
def tiny_xray_cache(tmp_path_factory) -> Path:
    """Four small PA radiographs (2D) preprocessed to 4 mm pixels."""
    root = tmp_path_factory.mktemp("pretrain-xray")
    make_xray_phantom_dataset(root / "xray", 4, preset="small", progress=False)
    manifest = load_manifest(root / "xray" / "manifest.csv")
    preprocess_dataset(manifest, TINY_XRAY_SPEC, root / "cache", progress=False)
    return root / "cache"


@pytest.fixture(scope="session")
def tiny_frame(tiny_cache) -> Path:
    """DrasCLR's anatomical frame of the tiny cache: 16-voxel patches (the tiny runs' crop) at
    stride 16 on the body foreground, every subject framed."""
    report = build_frame(tiny_cache, patch_vox=16, stride_vox=16, progress=False)
    assert report.rejected == 0
    return Path(report.folder)


@pytest.fixture(scope="session")
def tiny_overrides(tiny_cache, request):
    """`(method, steps) -> overrides` for a seconds-long CPU run on the tiny cache (drasclr: with
    the tiny frame and the small location-conditioned test encoder)."""

    def overrides(method: str, steps: int) -> dict:
        values = _tiny_overrides(tiny_cache, method, steps)
        if method == "drasclr":
            values["drasclr.frame"] = str(request.getfixturevalue("tiny_frame"))
            values["encoder.name"] = "test_drasclr"
        return values

    return overrides


def _tiny_overrides(cache: Path, method: str, steps: int) -> dict:
    return {
        "method": method,
        "data.source": str(cache),
        "data.split": "all",
        "data.crop_size_vox": 16,
        "data.batch_size": 4,
        "data.workers": 0,
        "encoder.name": "test_resunet",
        "optim.max_steps": steps,
        "optim.warmup_steps": 1,
        "trainer.checkpoint_every_steps": 2,
        "trainer.log_every_steps": 1,
        "trainer.collapse_check_every_steps": 1,
        "moco.queue_size": 32,
        "dino.out_dim": 64,
        "dino.local_crop_fraction": 0.5,
        "mae.block_vox": 4,
        "eden.out_dim": 64,
        "eden.composer_hidden_dim": 32,
        "eden_v1.queue_size": 32,
        "sam.points_per_sample": 16,
        "sam.negatives_per_sample": 32,
        "alice.out_dim": 64,
        "alice.pairs": "same_volume",  # cross-volume runs need mined pairs (their own tests)
        "drasclr.queue_size": 32,
    }


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
