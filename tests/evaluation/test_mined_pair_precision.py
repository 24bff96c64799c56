"""Mined-pair precision against landmark-fitted affine maps."""

import numpy as np
import pytest

from anatomy_ssl.data import MinedPairs
from anatomy_ssl.evaluation.mined_pair_precision import landmark_affine, mined_pair_precision
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.preprocess.cache_entry import write_entry

KNOWN = np.array(
    [[1.05, 0.1, 0.0, 8.0], [-0.1, 1.0, 0.0, -6.0], [0.0, 0.0, 0.95, 5.0], [0, 0, 0, 1]]
)


def _volume(root, name):
    meta = {
        "key": name,
        "subject_id": name.upper(),
        "affine": np.diag([2.0, 2.0, 2.0, 1.0]).tolist(),
    }
    meta |= {"spacing_mm": [2.0] * 3, "size_vox": [20] * 3, "background_value": 0.0}
    image = np.zeros((1, 20, 20, 20), np.float32)
    assert write_entry(root / name, root / ".staging", image=image, label=None, meta=meta)
    return CachedVolume(root / name)


def test_the_affine_fit_recovers_a_known_map():
    points = np.random.default_rng(0).uniform(-50, 50, size=(10, 3))
    moved = points @ KNOWN[:3, :3].T + KNOWN[:3, 3]
    np.testing.assert_allclose(landmark_affine(points, moved), KNOWN, atol=1e-9)
    with pytest.raises(ValueError, match="more than 3"):
        landmark_affine(points[:3], moved[:3])


def test_pairs_on_the_true_map_are_correct_and_shifted_ones_are_not(tmp_path):
    volumes = {key: _volume(tmp_path, key) for key in ("a", "b")}
    rng = np.random.default_rng(1)
    names = [f"l{i}" for i in range(8)]
    a_points = rng.uniform(0, 38, size=(8, 3))
    landmarks = {
        "A": dict(zip(names, a_points, strict=True)),
        "B": dict(zip(names, a_points @ KNOWN[:3, :3].T + KNOWN[:3, 3], strict=True)),
    }
    source_vox = rng.integers(2, 15, size=(40, 3))
    truth_mm = (source_vox * 2.0) @ KNOWN[:3, :3].T + KNOWN[:3, 3]
    partner_vox = np.rint(truth_mm / 2.0).astype(np.int64)
    partner_vox[20:] += np.array([15, 0, 0])  # 30 mm off for half of them
    pairs = MinedPairs(
        source_key="a",
        partner_keys=("b",),
        source_vox=source_vox,
        partner_vox=partner_vox,
        partner_index=np.zeros(40, dtype=np.int64),
        similarity=np.ones(40, dtype=np.float32),
        matcher_id="test",
        requested=40,
    )
    result = mined_pair_precision([pairs], volumes, landmarks, radius_mm=10.0)
    assert result.scored == 40 and result.precision == pytest.approx(0.5)
    assert result.median_error_mm < 31.0
    with pytest.raises(ValueError, match="no mined pair"):
        mined_pair_precision([pairs], volumes, {"A": landmarks["A"]}, radius_mm=10.0)
