from pathlib import Path

import numpy as np
import pytest

from anatomy_ssl.data.voxel_contrast import median_neighbour_difference
from anatomy_ssl.preprocess.cache_entry import write_entry


def _entry(root: Path, image: np.ndarray, name: str, background: float = 0.0) -> Path:
    meta = {
        "key": name,
        "subject_id": name,
        "split": "train",
        "affine": np.eye(image.ndim).tolist(),
        "spacing_mm": [1.0] * (image.ndim - 1),
        "size_vox": list(image.shape[1:]),
        "background_value": background,
    }
    folder = root / "entries" / name
    assert write_entry(folder, root / ".staging", image=image, label=None, meta=meta)
    return folder


def _oracle(image: np.ndarray, body: np.ndarray) -> float:
    """Every adjacent pair inside `body`, written out axis by axis."""
    values = []
    for axis in range(image.ndim):
        a = np.moveaxis(image, axis, 0)
        m = np.moveaxis(body, axis, 0)
        values.append(np.abs(a[1:] - a[:-1])[m[1:] & m[:-1]])
    return float(np.median(np.concatenate(values)))


def test_a_crop_covering_the_volume_gives_the_median_over_body_pairs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    image = np.zeros((1, 12, 12, 12), np.float32)
    image[0, 2:10, 2:10, 2:10] = 0.5 + 0.01 * rng.standard_normal((8, 8, 8))
    folder = _entry(tmp_path, image, "a")
    measured = median_neighbour_difference([folder], crop_size_vox=12)
    # the body/background edge (a jump of 0.5) must not count
    assert measured == pytest.approx(_oracle(image[0], image[0] > 0.025), rel=1e-6)
    assert 0.005 < measured < 0.02


def test_noisier_data_measures_larger_and_2d_works(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    base = np.full((1, 40, 40), 0.5, np.float32)
    quiet = _entry(tmp_path, base + 0.002 * rng.standard_normal(base.shape), "quiet")
    loud = _entry(tmp_path, base + 0.02 * rng.standard_normal(base.shape), "loud")
    small = median_neighbour_difference([quiet], crop_size_vox=16)
    large = median_neighbour_difference([loud], crop_size_vox=16)
    # the median |a - b| of two N(0, s^2) samples is 0.954 s
    assert small == pytest.approx(0.954 * 0.002, rel=0.2)
    assert large == pytest.approx(0.954 * 0.02, rel=0.2)


def test_a_constant_image_has_no_body_and_gives_nan(tmp_path: Path) -> None:
    folder = _entry(tmp_path, np.zeros((1, 10, 10, 10), np.float32), "flat")
    assert np.isnan(median_neighbour_difference([folder], crop_size_vox=8))
    with pytest.raises(ValueError, match="no cache entries"):
        median_neighbour_difference([], crop_size_vox=8)
