"""DrasCLR's frame patches: the anchor twice and its nearest usable neighbours, at the frame's
centres, over many (subject, location) pairs, replayable by step."""

import numpy as np
import pytest
import torch

from anatomy_ssl.data import FramePatchStream, FrameSampleTable, ViewGroup
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.transforms import AugmentationSpec

GROUP = ViewGroup(4, (6, 6, 6))  # anchor twice + 2 neighbours
# five locations on a line in the reference, 4 mm apart: 0 - 1 - 2 - 3 - 4
REFERENCE_MM = np.array([[0.0, 0, 0], [4, 0, 0], [8, 0, 0], [12, 0, 0], [16, 0, 0]])


def _table(valid=None, neighbours=2):
    centres = np.array([[[5 + 2 * loc, 8 + s, 9] for loc in range(5)] for s in range(3)], float)
    return FrameSampleTable(
        subject_entry=np.array([2, 0, 1]),
        centres_vox=centres,  # (3 subjects, 5 locations, 3)
        valid=np.ones((3, 5), bool) if valid is None else valid,
        normalized=np.linspace(-1, 1, 5, dtype=np.float32)[:, None].repeat(3, 1),
        neighbour_order=np.argsort(
            np.abs(REFERENCE_MM[:, None, 0] - REFERENCE_MM[None, :, 0]) + np.eye(5) * 1e9,
            axis=1,
            kind="stable",
        )[:, :-1],
        neighbours=neighbours,
    )


def _stream(folders, table=None, **changes):
    options = {"seed": 0, "augmentation": AugmentationSpec.none()} | changes
    return FramePatchStream(folders, table or _table(), GROUP, 8, **options)


def test_views_are_the_anchor_twice_then_its_nearest_neighbours(entries_3d):
    stream = _stream(entries_3d)
    batch = stream.batch(0)
    images = [CachedVolume(folder).load_image() for folder in entries_3d]
    table = stream.table
    for b in range(8):
        entry, location = int(batch["subject"][b]), int(batch["location_index"][b])
        row = int(np.flatnonzero(table.subject_entry == entry)[0])
        centres = table.centres_vox[row].astype(int)
        neighbours = batch["neighbour_index"][b].tolist()
        expected = sorted(
            (loc for loc in range(5) if loc != location), key=lambda loc: (abs(loc - location), loc)
        )[:2]
        assert neighbours == expected
        for view, spot in ((0, location), (1, location), (2, neighbours[0]), (3, neighbours[1])):
            assert batch["views"][view][b, 0, 3, 3, 3] == images[entry][(0, *centres[spot])]
        assert torch.equal(batch["location"][b], torch.from_numpy(table.normalized[location]))
        assert batch["neighbour_location"][b].shape == (2, 3)
    assert len(set(batch["location_index"].tolist())) > 1  # many locations in one batch


def test_unusable_locations_are_never_drawn_nor_used_as_neighbours(entries_3d):
    valid = np.ones((3, 5), bool)
    valid[0, 1] = valid[1, 3] = False
    valid[2] = [True, True, False, False, False]  # too few for an anchor and 2 neighbours
    stream = _stream(entries_3d, _table(valid))
    for step in range(10):
        batch = stream.batch(step)
        rows = [int(np.flatnonzero(stream.table.subject_entry == e)[0]) for e in batch["subject"]]
        for b, row in enumerate(rows):
            assert row != 2
            assert valid[row, int(batch["location_index"][b])]
            assert valid[row, batch["neighbour_index"][b].numpy()].all()


def test_batches_replay_by_step_and_rank(entries_3d):
    a, b = _stream(entries_3d).batch(4), _stream(entries_3d).batch(4)
    assert all(torch.equal(x, y) for x, y in zip(a["views"], b["views"], strict=True))
    assert torch.equal(a["location_index"], b["location_index"])
    other = _stream(entries_3d, rank=1, world_size=2).batch(4)
    assert not torch.equal(a["location_index"], other["location_index"])


def test_bad_tables_and_groups_are_refused(entries_3d):
    with pytest.raises(ValueError, match="2 \\+ 2 views"):
        FramePatchStream(
            entries_3d,
            _table(),
            ViewGroup(2, (6, 6, 6)),
            4,
            seed=0,
            augmentation=AugmentationSpec.none(),
        )
    with pytest.raises(ValueError, match="need at least 6 locations"):
        _table(neighbours=5)
    with pytest.raises(ValueError, match="no framed subject serves 3 locations"):
        _stream(entries_3d, _table(np.eye(3, 5, dtype=bool)))


def test_a_loaded_frame_becomes_a_table_over_the_streams_entries(tmp_path):
    from anatomy_ssl.anatomy import LocationGrid
    from anatomy_ssl.data import AnatomicalFrame

    grid = LocationGrid(
        centres_mm=REFERENCE_MM[[4, 0, 2]],
        centres_vox=REFERENCE_MM[[4, 0, 2]],
        normalized=np.array([[1.0, 0, 0], [-1, 0, 0], [0, 0, 0]]),
        coverage=np.ones(3),
        patch_vox=(6, 6, 6),
        stride_vox=(4, 4, 4),
        min_coverage=0.1,
    )
    frame = AnatomicalFrame(
        frame_id="f",
        folder=tmp_path,
        reference_key="a",
        reference_subject="A",
        locations=grid,
        subject_keys=("a", "b", "c"),
        subject_ids=("A", "B", "C"),
        centres_vox=np.arange(27, dtype=float).reshape(3, 3, 3),
        valid=np.array([[True, True, True], [True, False, True], [False, True, True]]),
        reference_to_subject_mm=np.tile(np.eye(4), (3, 1, 1)),
        missing=(),
    )
    table = FrameSampleTable.from_frame(frame, ["c", "x", "a"], neighbours=1)
    assert table.subject_entry.tolist() == [2, 0]  # a, c: b is not trained on
    np.testing.assert_array_equal(table.valid, frame.valid[[0, 2]])
    np.testing.assert_array_equal(table.centres_vox, frame.centres_vox[[0, 2]])
    # reference x: location 0 at 16 mm, 1 at 0 mm, 2 at 8 mm: each one's nearest is 2, or 1/0
    assert table.neighbour_order[:, 0].tolist() == [2, 2, 0]
    with pytest.raises(ValueError, match="holds none of the 1 training entries"):
        FrameSampleTable.from_frame(frame, ["x"])
