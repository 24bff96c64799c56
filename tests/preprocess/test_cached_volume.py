import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from anatomy_ssl.preprocess import CachedVolume, cached_volume, random_crop_starts
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
    voxels = np.array([[0, 0, 0], [3, 2.5, 7], [11, 9, 7]])
    world = volume.voxel_to_world(voxels)
    assert np.allclose(world[0], volume.affine[:3, 3])
    assert np.allclose(volume.world_to_voxel(world), voxels)  # the two maps invert each other


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


def _reference_crops(image, starts, size, fill):
    """The plain reader the fast one must match: pad the whole output, then copy the inside."""
    out = np.full((len(starts), image.shape[0], *size), fill, dtype=image.dtype)
    for n, start in enumerate(starts):
        low = np.clip(start, 0, image.shape[1:])
        high = np.clip(start + np.asarray(size), 0, image.shape[1:])
        if np.any(high <= low):
            continue
        src = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
        dst = tuple(slice(a - s, b - s) for a, b, s in zip(low, high, start, strict=True))
        out[(n, slice(None), *dst)] = image[(slice(None), *src)]
    return out


def test_random_crops_across_every_border_match_the_plain_reader(entry):
    volume, image, label = entry
    rng = np.random.default_rng(3)
    for size in [(5, 6, 4), (14, 3, 9), (1, 1, 1)]:
        starts = rng.integers(-16, 16, size=(40, 3))
        batch = volume.crops(starts, size)
        assert np.array_equal(batch.image, _reference_crops(image, starts, size, -1.0))
        assert np.array_equal(batch.label, _reference_crops(label, starts, size, 0))
        padded = volume.crops(starts, size, pad_value=7.5, with_label=False)
        assert padded.label is None
        assert np.array_equal(padded.image, _reference_crops(image, starts, size, 7.5))


def test_reading_into_rows_of_another_dtype_equals_crops_cast(entry):
    volume = entry[0]
    starts = np.array([[0, 0, 0], [-2, 5, 3], [9, 9, 7]])
    out = np.full((5, 2, 4, 4, 4), np.nan)
    volume.read_image_into(out, [4, 0, 2], starts, (4, 4, 4))
    want = volume.crops(starts, (4, 4, 4)).image.astype(float)
    assert np.array_equal(out[[4, 0, 2]], want)
    assert np.isnan(out[[1, 3]]).all()  # other rows untouched


def test_a_pad_value_is_cast_to_the_cache_dtype_first(tmp_path):
    meta = {
        "key": "k",
        "subject_id": "k",
        "split": None,
        "affine": np.eye(4).tolist(),
        "spacing_mm": [1.0] * 3,
        "size_vox": [4, 4, 4],
        "background_value": 0.1,
    }
    folder = tmp_path / "entries" / "k"
    write_entry(
        folder,
        tmp_path / ".staging",
        image=np.ones((1, 4, 4, 4), np.float16),
        label=None,
        meta=meta,
    )
    volume = CachedVolume(folder)
    out = np.empty((1, 1, 6, 4, 4), dtype=np.float32)
    volume.read_image_into(out, [0], np.array([[-2, 0, 0]]), (6, 4, 4))
    assert out[0, 0, 0, 0, 0] == np.float32(np.float16(0.1)) != np.float32(0.1)
    assert volume.crops(np.array([[-2, 0, 0]]), (6, 4, 4)).image.dtype == np.float16


def test_2d_entries_and_crops_wholly_outside(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.random((1, 9, 7)).astype(np.float32)
    meta = {
        "key": "k2",
        "subject_id": "k2",
        "split": None,
        "affine": np.eye(3).tolist(),
        "spacing_mm": [1.0, 1.0],
        "size_vox": [9, 7],
        "background_value": -3.0,
    }
    folder = tmp_path / "entries" / "k2"
    write_entry(folder, tmp_path / ".staging", image=image, label=None, meta=meta)
    volume = CachedVolume(folder)
    starts = np.array([[-20, 0], [2, 30], [-1, -1], [8, 6]])
    assert not volume.has_label and volume.channels == 1
    assert np.array_equal(
        volume.crops(starts, (4, 5)).image, _reference_crops(image, starts, (4, 5), -3.0)
    )


def _mapped_rss_kb(path) -> int:
    """Resident kB of this process's mappings of `path` (Linux /proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if line[:1].isalnum() and "-" in line.split()[0]:  # a mapping's header line
            inside = line.endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="Linux only")
def test_the_map_stays_open_but_its_pages_leave_the_resident_set(tmp_path):
    size = (64, 64, 64)  # 1 MiB of float32
    image = np.random.default_rng(0).random((1, *size), dtype=np.float32)
    meta = {
        "key": "big",
        "subject_id": "big",
        "split": None,
        "affine": np.eye(4).tolist(),
        "spacing_mm": [1.0] * 3,
        "size_vox": list(size),
        "background_value": 0.0,
    }
    folder = tmp_path / "entries" / "big"
    write_entry(folder, tmp_path / ".staging", image=image, label=None, meta=meta)
    volume = CachedVolume(folder)
    for _ in range(3):
        batch = volume.crops(np.zeros((1, 3), dtype=int), size)  # touches every page
        assert np.array_equal(batch.image[0], image)
        assert _mapped_rss_kb(folder / "image.npy") == 0
    assert sum(key[0] == volume._owner for key in cached_volume._POOL._maps) == 1  # one map
    owner = volume._owner
    del volume, batch
    assert all(key[0] != owner for key in cached_volume._POOL._maps)  # closed with the object


def test_maps_beyond_the_pool_capacity_are_closed_and_reads_still_match(entry, monkeypatch):
    volume, image, _ = entry
    monkeypatch.setattr(cached_volume._POOL, "capacity", 1)
    copies = [CachedVolume(volume.folder) for _ in range(3)]
    for _ in range(2):
        for copy in copies:
            batch = copy.crops(np.array([[1, 2, 3]]), (4, 4, 4))
            assert np.array_equal(batch.image[0], image[:, 1:5, 2:6, 3:7])
            assert len(cached_volume._POOL._maps) <= 1


def test_a_pickled_volume_reads_through_maps_of_its_own(entry):
    volume, image, _ = entry
    volume.crops(np.zeros((1, 3), dtype=int), (2, 2, 2))
    clone = pickle.loads(pickle.dumps(volume))
    assert clone._owner != volume._owner and clone.has_label
    assert np.array_equal(
        clone.crops(np.array([[2, 2, 2]]), (3, 3, 3)).image[0], image[:, 2:5, 2:5, 2:5]
    )


def test_without_page_dropping_each_call_maps_and_unmaps(entry, monkeypatch):
    volume, image, label = entry
    monkeypatch.setattr(cached_volume, "_CAN_DROP_PAGES", False)
    starts = np.array([[-1, 3, 2], [6, 6, 6]])
    batch = volume.crops(starts, (5, 5, 5))
    assert np.array_equal(batch.image, _reference_crops(image, starts, (5, 5, 5), -1.0))
    assert np.array_equal(batch.label, _reference_crops(label, starts, (5, 5, 5), 0))
    assert all(key[0] != volume._owner for key in cached_volume._POOL._maps)
