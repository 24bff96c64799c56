"""Mining a whole cache: known answers on shifted copies, resume, shards, workers, stale files,
rejects that do not stop the run, clear errors, and the embedding matcher."""

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from anatomy_ssl.correspondence import (
    MatcherSpec,
    MinedPairs,
    load_mined_pairs,
    mine_cache,
    missing_sources,
)
from anatomy_ssl.errors import ConfigError, InputError
from anatomy_ssl.export import export_scratch
from anatomy_ssl.models import create_encoder
from anatomy_ssl.preprocess import PreprocessSpec, Shard, VolumeCache
from support.blob_phantom import AFFINE, SIZE, phantom
from support.coordinate_volumes import write_test_entry

SPEC = PreprocessSpec()
#: Subjects: one phantom moved by a known number of voxels each (key = subject id).
SHIFTS = {"s0": (0, 0, 0), "s1": (2, -1, 1), "s2": (-1, 2, 0), "s3": (1, 1, -2)}
FAST = {"partners": 2, "points_per_partner": 16, "progress": False}


def write_cache(root, images):
    """A cache at `root` of `{subject: (1, *SIZE) image}` entries."""
    folder = VolumeCache(root).register_spec(SPEC)
    for name, image in images.items():
        write_test_entry(folder, name, image, AFFINE)
    return root


@pytest.fixture
def cache(tmp_path):
    return write_cache(tmp_path / "cache", {name: phantom(s) for name, s in SHIFTS.items()})


def _assert_same(one: MinedPairs, two: MinedPairs) -> None:
    assert (one.source_key, one.partner_keys, one.requested) == (
        two.source_key,
        two.partner_keys,
        two.requested,
    )
    for name in ("source_vox", "partner_vox", "partner_index", "similarity"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))


def test_pairs_follow_the_known_shifts_and_a_rerun_mines_nothing(cache):
    first = mine_cache(cache, matcher_spec="registration", **FAST)
    assert (first.sources, first.mined, first.skipped, first.rejected) == (4, 4, 0, 0)
    assert first.pairs + first.refused == 4 * 2 * 16 and first.pairs >= 120
    assert first.pairs_per_second > 0
    line = str(first)
    assert "\n" not in line and line.startswith("mine 0/1: 4 sources -> 4 mined")
    assert f"{first.pairs} pairs" in line and "pairs/s" in line
    mined = load_mined_pairs(cache, None, first.matcher_id)
    assert [pairs.source_key for pairs in mined] == sorted(SHIFTS)
    for pairs in mined:
        assert len(pairs.partner_keys) == 2 and pairs.source_key not in pairs.partner_keys
        shifts = np.array([SHIFTS[key] for key in pairs.partner_keys])[pairs.partner_index]
        expected = pairs.source_vox + shifts - np.array(SHIFTS[pairs.source_key])
        assert np.abs(pairs.partner_vox - expected).max() <= 1
    again = mine_cache(cache, matcher_spec="registration", **FAST)
    assert (again.mined, again.skipped, again.pairs, again.matcher_id) == (
        0,
        4,
        0,
        first.matcher_id,
    )
    assert missing_sources(cache, None, first.matcher_id) == []


def test_a_split_keeps_sources_and_partners_in_it(tmp_path):
    folder = VolumeCache(tmp_path / "cache").register_spec(SPEC)
    for name, shift in SHIFTS.items():
        split = "train" if name in ("s0", "s1") else "test"
        write_test_entry(folder, name, phantom(shift), AFFINE, split=split)
    train = mine_cache(tmp_path / "cache", matcher_spec="registration", split="train", **FAST)
    assert train.sources == 2
    mined = load_mined_pairs(tmp_path / "cache", None, train.matcher_id)
    assert {(p.source_key, p.partner_keys) for p in mined} == {("s0", ("s1",)), ("s1", ("s0",))}
    everything = mine_cache(tmp_path / "cache", matcher_spec="registration", **FAST)
    assert everything.matcher_id != train.matcher_id and everything.sources == 4


def test_two_shards_together_mine_every_source_exactly_once(cache):
    reports = [
        mine_cache(cache, matcher_spec="registration", shard=Shard(i, 2), **FAST) for i in (0, 1)
    ]
    assert [r.sources for r in reports] == [2, 2] and [r.mined for r in reports] == [2, 2]
    folder = VolumeCache(cache).spec_folder(SPEC.hash) / "mined" / reports[0].matcher_id
    assert sorted(p.stem for p in folder.glob("*.npz")) == sorted(SHIFTS)
    assert sorted(p.name for p in folder.glob("rejects*.csv")) == [
        "rejects.shard-0-of-2.csv",
        "rejects.shard-1-of-2.csv",
    ]
    whole = mine_cache(cache, matcher_spec="registration", **FAST)
    assert (whole.mined, whole.skipped) == (0, 4)


def test_two_workers_write_the_same_files_as_one(cache, tmp_path):
    copy = shutil.copytree(cache, tmp_path / "copy")
    inline = mine_cache(cache, matcher_spec="registration", workers=1, **FAST)
    pooled = mine_cache(copy, matcher_spec="registration", workers=2, **FAST)
    assert pooled.matcher_id == inline.matcher_id and pooled.mined == 4
    one = load_mined_pairs(cache, None, inline.matcher_id)
    two = load_mined_pairs(copy, None, pooled.matcher_id)
    for first, second in zip(one, two, strict=True):
        _assert_same(first, second)


def test_a_changed_cache_remines_stale_files_and_removes_orphans(cache):
    first = mine_cache(cache, matcher_spec="registration", **FAST)
    before = {p.source_key: p for p in load_mined_pairs(cache, None, first.matcher_id)}
    shutil.rmtree(VolumeCache(cache).entries_folder(SPEC.hash) / "s3")
    referencing = [key for key, p in before.items() if "s3" in p.partner_keys]
    assert referencing  # the chosen partners of 4 volumes, 2 each, include s3 somewhere
    again = mine_cache(cache, matcher_spec="registration", **FAST)
    assert again.stale == len(referencing) + 1  # re-mined ones + the removed file of s3
    assert again.mined == len(referencing) and again.skipped == 3 - len(referencing)
    after = {p.source_key: p for p in load_mined_pairs(cache, None, first.matcher_id)}
    assert sorted(after) == ["s0", "s1", "s2"]
    assert all("s3" not in p.partner_keys for p in after.values())
    for key in set(after) - set(referencing):
        _assert_same(after[key], before[key])


def test_a_source_without_pairs_is_recorded_and_the_run_goes_on(tmp_path):
    images = {"s0": phantom(SHIFTS["s0"]), "s1": phantom(SHIFTS["s1"])}
    root = write_cache(tmp_path / "cache", {**images, "blank": np.zeros((1, *SIZE), np.float32)})
    report = mine_cache(root, matcher_spec="registration", **FAST)
    assert (report.mined, report.rejected) == (2, 1)
    with (Path(report.folder) / "rejects.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    by_pair = {(row["source_key"], row["partner_key"]): row["reason"] for row in rows}
    assert "no body voxels" in by_pair[("blank", "")]
    assert "Total Mass of the image was zero" in by_pair[("s0", "blank")]
    assert "Total Mass of the image was zero" in by_pair[("s1", "blank")]
    assert len(report.rejects) == 3
    assert [p.source_key for p in load_mined_pairs(root, None, report.matcher_id)] == ["s0", "s1"]
    assert missing_sources(root, None, report.matcher_id) == ["blank"]


def test_clear_errors_before_any_work(tmp_path, cache):
    single = write_cache(tmp_path / "single", {"only": phantom((0, 0, 0))})
    with pytest.raises(InputError, match=r"1 volume\(s\) \(subjects: only\): no second subject"):
        mine_cache(single, matcher_spec="registration", progress=False)
    with pytest.raises(InputError, match="no such cache folder"):
        mine_cache(tmp_path / "nowhere", matcher_spec="registration", progress=False)
    with pytest.raises(InputError, match="no such encoder folder") as error:
        mine_cache(cache, matcher_spec=tmp_path / "no-encoder", progress=False)
    assert error.value.path == str(tmp_path / "no-encoder")
    flat = export_scratch(create_encoder("test_resunet", spatial_dims=2), tmp_path / "flat")
    with pytest.raises(InputError, match="takes 2D images of 1 channel"):
        mine_cache(cache, matcher_spec=flat, progress=False)
    with pytest.raises(ConfigError, match="must be >= 1"):
        mine_cache(cache, matcher_spec="registration", partners=0, progress=False)


def test_the_embedding_matcher_mines_and_refuses_below_its_threshold(cache, tmp_path):
    torch.manual_seed(0)
    encoder = export_scratch(create_encoder("test_resunet"), tmp_path / "encoder")
    accept_all = MatcherSpec(encoder_dir=encoder, threshold=-1.0, tile_vox=32)
    report = mine_cache(cache, matcher_spec=accept_all, **FAST)
    assert report.mined == 4 and report.pairs > 0
    for pairs in load_mined_pairs(cache, None, report.matcher_id):
        assert np.isfinite(pairs.similarity).all() and (pairs.similarity >= -1).all()
    refuse_all = MatcherSpec(encoder_dir=encoder, threshold=2.0, tile_vox=32)
    refused = mine_cache(cache, matcher_spec=refuse_all, **FAST)
    assert refused.matcher_id != report.matcher_id
    assert (refused.mined, refused.rejected, refused.pairs, refused.refused) == (0, 4, 0, 128)
    whole = [row for row in refused.rejects if not row[2]]
    assert sorted(row[0] for row in whole) == sorted(SHIFTS)
    assert not list(Path(refused.folder).glob("*.npz"))


def test_2d_images_are_mined_by_registration_and_by_a_2d_encoder(tmp_path):
    affine_2d = np.array([[4.0, 0, -48.0], [0, 4.0, -44.0], [0, 0, 1]])
    shifts = {"s0": (0, 0, 0), "s1": (2, -1, 0), "s2": (-1, 2, 0)}
    images = {name: phantom(shift)[..., SIZE[2] // 2] for name, shift in shifts.items()}
    folder = VolumeCache(tmp_path / "flat").register_spec(SPEC)
    for name, image in images.items():
        write_test_entry(folder, name, image, affine_2d)
    report = mine_cache(tmp_path / "flat", matcher_spec="registration", **FAST)
    assert report.mined == 3 and report.pairs > 0
    for pairs in load_mined_pairs(tmp_path / "flat", None, report.matcher_id):
        assert pairs.source_vox.shape[1] == 2
        source_shift = np.array(shifts[pairs.source_key][:2])
        partner_shift = np.array([shifts[pairs.partner_keys[i]][:2] for i in pairs.partner_index])
        expected = pairs.source_vox + partner_shift - source_shift
        assert np.median(np.abs(pairs.partner_vox - expected)) <= 1.0
    torch.manual_seed(0)
    encoder = export_scratch(create_encoder("test_resunet", spatial_dims=2), tmp_path / "enc")
    accept_all = MatcherSpec(encoder_dir=encoder, threshold=-1.0, tile_vox=32)
    embedded = mine_cache(tmp_path / "flat", matcher_spec=accept_all, **FAST)
    assert embedded.mined == 3 and embedded.pairs == 3 * 2 * 16
