import json

import numpy as np
import pytest

from anatomy_ssl.preprocess import CachedVolume, random_crop_starts
from anatomy_ssl.preprocess.cache_entry import remove_stale_staging, write_entry


@pytest.fixture
def entry(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.random((2, 12, 10, 8)).astype(np.float32)
    label = rng.integers(0, 4, (1, 12, 10, 8)).astype(np.uint8)
    affine = np.diag([2.0, 1.0, 1.5, 1.0])
    affine[:3, 3] = [-10, 5, 2]
    meta = {
        "key": "abc",
        "subject_id": "s1",
        "split": "train",
        "affine": affine.tolist(),
        "spacing_mm": [2.0, 1.0, 1.5],
        "size_vox": [12, 10, 8],
        "background_value": -1.0,
    }
    folder = tmp_path / "entries" / "abc"
    assert write_entry(folder, tmp_path / ".staging", image=image, label=label, meta=meta)
    return CachedVolume(folder), image, label


def _reference_crop(array, start, size, fill):
    """Crop by padding the whole array first: obviously correct, memory-hungry."""
    pad = 64  # larger than any offset used below
    padded = np.pad(array, [(0, 0)] + [(pad, pad)] * 3, constant_values=fill)
    sl = tuple(slice(s + pad, s + pad + n) for s, n in zip(start, size, strict=True))
    return padded[(slice(None), *sl)]


def test_crops_match_a_padded_reference_inside_and_across_borders(entry):
    volume, image, label = entry
    starts = np.array([[0, 0, 0], [3, 2, 1], [-3, 7, 5], [10, -4, -2], [40, 40, 40]])
    size = (5, 6, 4)
    batch = volume.crops(starts, size)
    assert batch.image.shape == (5, 2, *size) and batch.image.dtype == np.float32
    assert batch.label.shape == (5, 1, *size) and batch.label.dtype == np.uint8
    for n, start in enumerate(starts):
        assert np.array_equal(batch.image[n], _reference_crop(image, start, size, -1.0))
        assert np.array_equal(batch.label[n], _reference_crop(label, start, size, 0))


def test_crops_at_mm_center_on_the_world_point(entry):
    volume, image, _ = entry
    center_vox = np.array([[6, 5, 4]])
    center_mm = (volume.affine @ np.array([6, 5, 4, 1.0]))[:3]
    by_mm = volume.crops_at_mm(center_mm[None], (3, 3, 3))
    by_vox = volume.crops_at_centers(center_vox, (3, 3, 3))
    assert np.array_equal(by_mm.image, by_vox.image)
    assert np.array_equal(by_mm.start_vox, [[5, 4, 3]])
    assert by_mm.image[0, 0, 1, 1, 1] == image[0, 6, 5, 4]


def test_metadata_and_full_loads(entry):
    volume, image, label = entry
    assert volume.subject_id == "s1" and volume.split == "train"
    assert volume.size_vox == (12, 10, 8) and volume.spacing_mm == (2.0, 1.0, 1.5)
    assert np.array_equal(volume.load_image(), image)
    assert np.array_equal(volume.load_label(), label)
    assert np.allclose(volume.world_to_voxel(volume.affine[:3, 3][None]), 0)


def test_random_starts_stay_inside_or_centre_when_the_crop_is_larger():
    rng = np.random.default_rng(0)
    starts = random_crop_starts((20, 10, 6), (8, 10, 9), 500, rng)
    assert starts.shape == (500, 3)
    assert starts[:, 0].min() >= 0 and starts[:, 0].max() <= 12
    assert len(np.unique(starts[:, 0])) == 13  # every position is reachable
    assert np.all(starts[:, 1] == 0)
    assert np.all(starts[:, 2] == -2)  # 6 - 9 = -3 -> pad 2 before, 1 after


def test_write_entry_is_all_or_nothing(tmp_path, monkeypatch):
    folder = tmp_path / "entries" / "k"
    staging = tmp_path / ".staging"

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        write_entry(folder, staging, image=np.zeros((1, 2, 2, 2)), label=None, meta={})
    assert not folder.exists()
    assert list(staging.iterdir()) == []


def test_stale_staging_of_dead_processes_is_removed(tmp_path):
    import socket

    staging = tmp_path / ".staging"
    dead = staging / f"{socket.gethostname()}--999999999--abcd"
    other_host = staging / "another-node--1--abcd"
    dead.mkdir(parents=True)
    other_host.mkdir()
    (dead / "image.npy").write_bytes(b"half")
    assert remove_stale_staging(staging) == 1
    assert not dead.exists() and other_host.exists()
    assert json.dumps(sorted(p.name for p in staging.iterdir())) == '["another-node--1--abcd"]'
