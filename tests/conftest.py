"""A tiny preprocessed phantom cache shared by the pretraining tests."""

from pathlib import Path

import pytest

from anatomy_ssl.manifests import load_manifest
from anatomy_ssl.phantoms import make_ct_phantom_dataset, make_xray_phantom_dataset
from anatomy_ssl.preprocess import PreprocessSpec, preprocess_dataset

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
def tiny_overrides(tiny_cache):
    """`(method, steps) -> overrides` for a seconds-long CPU run on the tiny cache."""
    return lambda method, steps: _tiny_overrides(tiny_cache, method, steps)


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
    }
