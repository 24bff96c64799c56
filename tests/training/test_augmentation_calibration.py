import logging
from pathlib import Path

import numpy as np
import pytest
import yaml

from anatomy_ssl.data.voxel_contrast import median_neighbour_difference
from anatomy_ssl.preprocess import VolumeCache
from anatomy_ssl.preprocess.cache_entry import write_entry
from anatomy_ssl.training.augmentation_calibration import (
    USUAL_NOISE_STD_MAX,
    calibrated_augmentation,
)
from anatomy_ssl.training.pretrain_config import resolve_pretrain_config
from anatomy_ssl.training.pretrain_run import pretrain
from anatomy_ssl.transforms import AugmentationSpec, sample_augmentation


def _noisy_entry(root: Path, noise_std: float, level: float = 0.5) -> Path:
    rng = np.random.default_rng(0)
    image = (level + noise_std * rng.standard_normal((1, 24, 24, 24))).astype(np.float32)
    meta = {
        "key": "k",
        "subject_id": "s",
        "split": "train",
        "affine": np.eye(4).tolist(),
        "spacing_mm": [1.0] * 3,
        "size_vox": [24, 24, 24],
        "background_value": 0.0,
    }
    folder = root / "entries" / "k"
    assert write_entry(folder, root / ".staging", image=image, label=None, meta=meta)
    return folder


def test_auto_noise_follows_smooth_data_and_stops_at_the_usual_bound(tmp_path):
    smooth = _noisy_entry(tmp_path / "smooth", 0.002)
    rough = _noisy_entry(tmp_path / "rough", 0.2)
    auto = AugmentationSpec(noise_std_max="auto")
    chosen = calibrated_augmentation(auto, [smooth], crop_size_vox=16).noise_std_max
    assert chosen == pytest.approx(median_neighbour_difference([smooth], 16), abs=1e-5)
    assert chosen < 0.01
    assert calibrated_augmentation(auto, [rough], crop_size_vox=16).noise_std_max == (
        USUAL_NOISE_STD_MAX
    )
    # everything else is kept
    assert calibrated_augmentation(auto, [smooth], 16).gamma_range == auto.gamma_range


def test_a_set_value_is_kept_and_an_unresolved_auto_cannot_draw_views(tmp_path):
    fixed = AugmentationSpec(noise_std_max=0.05)
    assert calibrated_augmentation(fixed, [], crop_size_vox=16) is fixed  # nothing measured
    with pytest.raises(ValueError, match="resolved from the data"):
        sample_augmentation(AugmentationSpec(noise_std_max="auto"), 2, 3, np.random.default_rng())
    with pytest.raises(ValueError, match="noise_std_max"):
        AugmentationSpec(noise_std_max=-0.1)


def test_data_without_body_keeps_the_usual_noise_and_says_so(tmp_path, caplog):
    flat = _noisy_entry(tmp_path, 0.0, level=0.0)  # all background
    with caplog.at_level(logging.WARNING):
        spec = calibrated_augmentation(AugmentationSpec(noise_std_max="auto"), [flat], 16)
    assert spec.noise_std_max == USUAL_NOISE_STD_MAX
    assert "no body voxels" in caplog.text


def test_a_run_saves_the_measured_noise_in_its_config(tiny_overrides, tmp_path):
    overrides = tiny_overrides("simclr", steps=1)
    assert resolve_pretrain_config(overrides).data.augmentation.noise_std_max == "auto"
    pretrain(resolve_pretrain_config(overrides), tmp_path / "run", progress=False)
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    noise = saved["data"]["augmentation"]["noise_std_max"]
    cache = VolumeCache(overrides["data.source"])
    entries = [entry.folder for entry in cache.entries()]
    expected = min(median_neighbour_difference(entries, 16, seed=0), USUAL_NOISE_STD_MAX)
    assert noise == pytest.approx(expected, abs=1e-5)
