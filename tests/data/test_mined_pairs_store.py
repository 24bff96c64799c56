"""Mined pairs on disk: a pickle-free round trip, atomic writes, the matcher id, and stale files
refused by name after the cache changed."""

import os
import shutil

import numpy as np
import pytest
import torch

from anatomy_ssl.correspondence import (
    MinedPairs,
    StaleMinedPairsError,
    load_mined_pairs,
    missing_sources,
)
from anatomy_ssl.data.mined_pairs_store import (
    file_sha256,
    matcher_id,
    mined_folder,
    read_mined_pairs,
    save_mined_pairs,
)
from anatomy_ssl.errors import InputError
from anatomy_ssl.export import WEIGHTS_FILE, export_scratch
from anatomy_ssl.models import create_encoder
from anatomy_ssl.preprocess import PreprocessSpec, VolumeCache
from support.coordinate_volumes import write_test_entry

SPEC = PreprocessSpec()
SETTINGS = {"kind": "registration", "iterations": 200}
MINING = {"partners": 2, "points_per_partner": 8, "seed": 0}


def _pairs(source, partners, count, seed=0):
    rng = np.random.default_rng(seed)
    return MinedPairs(
        source_key=source,
        partner_keys=tuple(partners),
        source_vox=rng.integers(0, 8, (count, 3)),
        partner_vox=rng.integers(0, 8, (count, 3)),
        partner_index=rng.integers(0, len(partners), count),
        similarity=rng.random(count).astype(np.float32),
        matcher_id="m0",
        requested=count + 3,
    )


@pytest.fixture
def cache(tmp_path):
    """A cache of three 8^3 entries "a", "b", "c" (key = subject id)."""
    volumes = VolumeCache(tmp_path / "cache")
    folder = volumes.register_spec(SPEC)
    for name in "abc":
        write_test_entry(folder, name, np.ones((1, 8, 8, 8), np.float32), np.eye(4))
    return volumes


def test_round_trip_without_pickles_and_without_temporary_files(tmp_path):
    pairs = _pairs("a", ["b", "c"], 40)
    path = save_mined_pairs(pairs, tmp_path / "m0", subjects={"a": "A", "b": "B", "c": "C"})
    assert path == tmp_path / "m0" / "a.npz"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.npz"]  # no temporary left
    with np.load(path, allow_pickle=False) as stored:  # every member loads without pickles
        members = {name: stored[name] for name in stored.files}
    assert members["partner_keys"].dtype.kind == "U" and members["meta"].dtype.kind == "U"
    back = read_mined_pairs(path)
    assert (back.source_key, back.partner_keys) == ("a", ("b", "c"))
    assert (back.matcher_id, back.requested, back.refused) == ("m0", 43, 3)
    for name in ("source_vox", "partner_vox", "partner_index", "similarity"):
        np.testing.assert_array_equal(getattr(back, name), getattr(pairs, name))
        assert getattr(back, name).dtype == getattr(pairs, name).dtype
    empty = read_mined_pairs(save_mined_pairs(_pairs("b", [], 0), tmp_path, subjects={"b": "B"}))
    assert empty.count == 0 and empty.partner_keys == () and empty.source_vox.shape == (0, 3)


def test_a_failed_rewrite_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    subjects = {"a": "A", "b": "B"}
    path = save_mined_pairs(_pairs("a", ["b"], 4), tmp_path, subjects=subjects)
    before = path.read_bytes()

    def full_disk(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_mined_pairs(_pairs("a", ["b"], 9, seed=1), tmp_path, subjects=subjects)
    assert list(tmp_path.iterdir()) == [path] and path.read_bytes() == before


def test_a_corrupt_file_is_named(tmp_path):
    path = tmp_path / "a.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable mined-pairs file") as error:
        read_mined_pairs(path)
    assert error.value.path == str(path)


def test_matcher_id_changes_with_the_encoder_weights_and_every_setting(tmp_path):
    for name, seed in (("one", 0), ("two", 1)):
        torch.manual_seed(seed)
        export_scratch(
            create_encoder("test_resunet", spatial_dims=3, in_channels=1), tmp_path / name
        )
    one, two = (file_sha256(tmp_path / name / WEIGHTS_FILE) for name in ("one", "two"))
    embedding = {"kind": "embedding", "scales": [0, -1], "threshold": 0.7, "coarse_candidates": 4}
    base = matcher_id(embedding, **MINING, encoder_sha256=one)
    assert len(base) == 16 and base == matcher_id(dict(embedding), **MINING, encoder_sha256=one)
    variants = [
        matcher_id(embedding, **MINING, encoder_sha256=two),
        matcher_id({**embedding, "threshold": 0.8}, **MINING, encoder_sha256=one),
        matcher_id({**embedding, "scales": [1, -1]}, **MINING, encoder_sha256=one),
        matcher_id({**embedding, "coarse_candidates": 2}, **MINING, encoder_sha256=one),
        matcher_id(embedding, **{**MINING, "partners": 3}, encoder_sha256=one),
        matcher_id(embedding, **{**MINING, "points_per_partner": 9}, encoder_sha256=one),
        matcher_id(embedding, **{**MINING, "seed": 1}, encoder_sha256=one),
        matcher_id(SETTINGS, **MINING),
        matcher_id({**SETTINGS, "iterations": 100}, **MINING),
    ]
    assert len({base, *variants}) == 1 + len(variants)


def test_a_file_whose_partner_left_the_cache_is_stale_and_named(cache):
    folder = mined_folder(cache, SPEC.hash, "m0")
    subjects = {"a": "A", "b": "B", "c": "C"}
    save_mined_pairs(_pairs("a", ["b", "c"], 10), folder, subjects=subjects)
    save_mined_pairs(_pairs("b", ["a"], 10), folder, subjects=subjects)
    assert [p.source_key for p in load_mined_pairs(cache, None, "m0")] == ["a", "b"]
    assert missing_sources(cache.root, SPEC.hash, "m0") == ["c"]
    shutil.rmtree(cache.entries_folder(SPEC.hash) / "c")  # the cache changed
    with pytest.raises(StaleMinedPairsError) as error:
        load_mined_pairs(cache, None, "m0")
    assert list(error.value.stale) == [folder / "a.npz"]
    message = str(error.value)
    assert "a.npz: partner entry c (subject 'C') no longer in the cache" in message
    assert "rerun `anatomy-ssl mine`" in message
    assert [p.source_key for p in error.value.usable] == ["b"]
    assert [p.source_key for p in load_mined_pairs(cache, None, "m0", skip_stale=True)] == ["b"]
    assert missing_sources(cache, None, "m0") == ["a"]


def test_a_file_whose_source_was_replaced_is_stale(cache):
    folder = mined_folder(cache, SPEC.hash, "m0")
    save_mined_pairs(_pairs("a", ["b"], 5), folder, subjects={"a": "A", "b": "B"})
    shutil.rmtree(cache.entries_folder(SPEC.hash) / "a")  # new content: a new key
    write_test_entry(cache.spec_folder(SPEC.hash), "a2", np.zeros((1, 8, 8, 8)), np.eye(4))
    with pytest.raises(StaleMinedPairsError, match=r"its source entry a \(subject 'A'\) is no"):
        load_mined_pairs(cache, SPEC.hash, "m0")
    assert missing_sources(cache, None, "m0") == ["a2", "b", "c"]


def test_loading_a_setup_that_was_never_mined_is_a_clear_error(cache):
    with pytest.raises(InputError, match="nothing mined for this matcher id"):
        load_mined_pairs(cache, None, "0123456789abcdef")
