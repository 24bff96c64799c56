"""Loading an anatomical frame for training: stacked arrays by subject key, by id or folder, no
pickles, split filtering, and stale files (an entry changed or gone) refused by subject name."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from anatomy_ssl.anatomy import build_frame
from anatomy_ssl.anatomy.anatomical_frame_files import read_subject_frame
from anatomy_ssl.data import StaleFrameError, load_frame
from anatomy_ssl.errors import InputError
from anatomy_ssl.preprocess import PreprocessSpec, VolumeCache
from support.blob_phantom import AFFINE, phantom
from support.coordinate_volumes import write_test_entry

SPEC = PreprocessSpec()
SHIFTS = {"s0": (0, 0, 0), "s1": (2, -1, 1), "s2": (-1, 2, 0)}
SPLITS = {"s0": "train", "s1": "train", "s2": "test"}
FAST = {"patch_vox": 6, "stride_vox": 4, "progress": False}


@pytest.fixture
def built(tmp_path):
    """A cache of three shifted phantoms and its frame: `(cache root, report)`."""
    folder = VolumeCache(tmp_path / "cache").register_spec(SPEC)
    for name, shift in SHIFTS.items():
        write_test_entry(folder, name, phantom(shift), AFFINE, split=SPLITS[name])
    return tmp_path / "cache", build_frame(tmp_path / "cache", **FAST)


def test_the_frame_stacks_every_subject_by_key_with_its_locations(built):
    root, report = built
    frame = load_frame(root, report.frame_id)
    count = report.locations
    assert frame.frame_id == report.frame_id and frame.folder == Path(report.folder)
    assert (frame.reference_key, frame.reference_subject) == ("s0", "s0")  # first training key
    assert frame.subject_keys == ("s0", "s1", "s2") and frame.subject_ids == frame.subject_keys
    assert frame.centres_vox.shape == (3, count, 3) and frame.valid.shape == (3, count)
    assert frame.reference_to_subject_mm.shape == (3, 4, 4) and frame.missing == ()
    assert frame.locations.normalized.shape == (count, 3)
    assert np.abs(frame.locations.normalized).max() == 1.0
    for row, key in enumerate(frame.subject_keys):
        stored = read_subject_frame(Path(report.folder) / f"{key}.npz")
        np.testing.assert_array_equal(frame.centres_vox[row], stored.centres_vox)
        np.testing.assert_array_equal(frame.valid[row], stored.valid)
        assert frame.subject_index(key) == row
    pairs = frame.valid_pairs()
    assert pairs.shape == (int(frame.valid.sum()), 2)
    assert frame.valid[pairs[:, 0], pairs[:, 1]].all()
    by_folder = load_frame(root, Path(report.folder))
    np.testing.assert_array_equal(by_folder.centres_vox, frame.centres_vox)
    with pytest.raises(KeyError, match="'nobody' is not in frame"):
        frame.subject_index("nobody")


def test_files_hold_plain_arrays_only(built):
    _, report = built
    with np.load(Path(report.folder) / "s1.npz", allow_pickle=False) as stored:
        assert sorted(stored.files) == [
            "centres_vox",
            "meta",
            "reference_to_subject_mm",
            "valid",
        ]
        assert stored["valid"].dtype == bool and stored["centres_vox"].dtype == np.float64
    with np.load(Path(report.folder) / "locations.npz", allow_pickle=False) as stored:
        assert {"centres_mm", "normalized"} <= set(stored.files)


def test_a_split_loads_only_its_subjects(built):
    root, report = built
    train = load_frame(root, report.frame_id, split="train")
    assert train.subject_keys == ("s0", "s1") and train.centres_vox.shape[0] == 2
    with pytest.raises(InputError, match="no framed subject of split 'validation'"):
        load_frame(root, report.frame_id, split="validation")


def test_a_changed_entry_is_refused_by_subject_name_until_it_is_reframed(built):
    root, report = built
    entries = VolumeCache(root).entries_folder(SPEC.hash)
    shutil.rmtree(entries / "s2")
    moved = AFFINE.copy()
    moved[:3, 3] += 8.0  # same key, but the volume now sits elsewhere in the world
    write_test_entry(entries.parent, "s2", phantom(SHIFTS["s2"]), moved, split="test")
    with pytest.raises(StaleFrameError, match="subject 's2' changed since it was framed") as error:
        load_frame(root, report.frame_id)
    assert [path.name for path in error.value.stale] == ["s2.npz"]
    assert "rerun `anatomy-ssl frame`" in str(error.value)
    usable = load_frame(root, report.frame_id, skip_stale=True)
    assert usable.subject_keys == ("s0", "s1") and usable.missing == ("s2",)
    again = build_frame(root, **FAST)
    assert (again.stale, again.framed, again.skipped) == (1, 1, 2)
    assert load_frame(root, report.frame_id).subject_keys == ("s0", "s1", "s2")


def test_a_removed_entry_is_stale_and_a_rerun_removes_its_file(built):
    root, report = built
    shutil.rmtree(VolumeCache(root).entries_folder(SPEC.hash) / "s1")
    with pytest.raises(StaleFrameError, match="s1 of subject 's1' is no longer in the cache"):
        load_frame(root, report.frame_id)
    again = build_frame(root, **FAST)
    assert again.stale == 1 and not (Path(report.folder) / "s1.npz").exists()
    assert load_frame(root, report.frame_id).subject_keys == ("s0", "s2")


def test_an_unreadable_file_is_stale_and_no_frame_is_a_clear_error(built, tmp_path):
    root, report = built
    (Path(report.folder) / "s2.npz").write_bytes(b"garbage")
    with pytest.raises(StaleFrameError, match=r"s2\.npz: unreadable"):
        load_frame(root, report.frame_id)
    with pytest.raises(InputError, match="no anatomical frame here") as error:
        load_frame(root, "0123456789abcdef")
    assert error.value.path.endswith("frame/0123456789abcdef")
