"""Paired views: each sample's two crops sit on the two matched points, replayable by step."""

import numpy as np
import pytest
import torch

from anatomy_ssl.data import PairedViewStream, PairTable, ViewGroup
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.transforms import AugmentationSpec

GROUP = ViewGroup(2, (8, 8, 8))


def _pairs():
    return PairTable(
        source_entry=np.array([0, 1, 2]),
        source_vox=np.array([[10, 10, 10], [5, 6, 7], [3, 20, 9]]),
        partner_entry=np.array([1, 2, 0]),
        partner_vox=np.array([[12, 9, 11], [8, 8, 8], [15, 15, 15]]),
    )


def _stream(folders, **changes):
    options = {"seed": 0, "augmentation": AugmentationSpec.none(), "max_offset_fraction": 0.0}
    return PairedViewStream(folders, _pairs(), GROUP, 6, **(options | changes))


def test_each_view_is_centred_on_its_matched_point(entries_3d):
    batch = _stream(entries_3d).batch(0)
    images = [CachedVolume(folder).load_image() for folder in entries_3d]
    pairs = _pairs()
    for b in range(6):
        row = int(np.flatnonzero(pairs.source_entry == int(batch["entry_index"][b]))[0])
        for view, entry, voxel in (
            (0, pairs.source_entry[row], pairs.source_vox[row]),
            (1, pairs.partner_entry[row], pairs.partner_vox[row]),
        ):
            assert batch["views"][view][b, 0, 4, 4, 4] == images[entry][(0, *voxel)]
            assert batch["view_start_vox"][view, b].tolist() == (voxel - 4).tolist()


def test_the_shared_offset_keeps_the_points_at_one_place_in_both_crops(entries_3d):
    batch = _stream(entries_3d, max_offset_fraction=0.25).batch(3)
    starts = batch["view_start_vox"].numpy()
    pairs = _pairs()
    rows = [int(np.flatnonzero(pairs.source_entry == e)[0]) for e in batch["entry_index"]]
    inside_source = pairs.source_vox[rows] - starts[0]
    inside_partner = pairs.partner_vox[rows] - starts[1]
    assert np.array_equal(inside_source, inside_partner)
    assert (np.abs(inside_source - 4) <= 2).all() and (inside_source != 4).any()


def test_batches_replay_by_step_and_differ_across_steps(entries_3d):
    a, b = _stream(entries_3d).batch(5), _stream(entries_3d).batch(5)
    assert all(torch.equal(x, y) for x, y in zip(a["views"], b["views"], strict=True))
    other = _stream(entries_3d).batch(6)
    assert not torch.equal(a["view_start_vox"], other["view_start_vox"])


def test_bad_pairs_are_refused(entries_3d):
    pairs = _pairs()
    outside = PairTable(
        pairs.source_entry, pairs.source_vox, pairs.partner_entry + 5, pairs.partner_vox
    )
    with pytest.raises(ValueError, match="partner entries"):
        PairedViewStream(entries_3d, outside, GROUP, 2, seed=0, augmentation=AugmentationSpec())
    far = PairTable(
        pairs.source_entry, pairs.source_vox + 100, pairs.partner_entry, pairs.partner_vox
    )
    with pytest.raises(ValueError, match="source voxels"):
        PairedViewStream(entries_3d, far, GROUP, 2, seed=0, augmentation=AugmentationSpec())
    with pytest.raises(ValueError, match="empty"):
        PairTable(*(np.zeros((0, *shape), dtype=np.int64) for shape in ((), (3,), (), (3,))))
    with pytest.raises(ValueError, match="two per sample"):
        PairedViewStream(
            entries_3d, pairs, ViewGroup(3, (8, 8, 8)), 2, seed=0, augmentation=AugmentationSpec()
        )
