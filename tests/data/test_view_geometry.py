"""View geometry: volume <-> view voxels with flips, overlaps, uniform points in boxes."""

import pytest
import torch

from anatomy_ssl.data import ViewGeometry, sample_in_boxes


def _geometry():
    # two views of two samples in 3D; view 1 of sample 0 is mirrored along axes 0 and 2
    return ViewGeometry(
        start_vox=torch.tensor([[[0, 0, 0], [5, 5, 5]], [[4, 2, 0], [5, 7, 9]]]),
        flips=torch.tensor(
            [[[False] * 3, [False] * 3], [[True, False, True], [False, True, False]]]
        ),
        size_vox=torch.tensor([[8, 8, 8], [8, 8, 8]]),
        spacing_mm=torch.tensor([[1.0, 1.0, 2.0], [3.0, 3.0, 3.0]]),
        entry_index=torch.tensor([0, 1]),
    )


def test_volume_and_view_voxels_map_back_and_forth_with_flips():
    geometry = _geometry()
    points = torch.tensor([[[4, 2, 0], [7, 7, 7]], [[6, 8, 10], [12, 12, 12]]])  # (B, N, S)
    in_view = geometry.to_view(1, points)
    # sample 0, view 1 starts at (4, 2, 0) and mirrors axes 0 and 2 of its 8 voxels
    assert in_view[0, 0].tolist() == [7, 0, 7] and in_view[0, 1].tolist() == [4, 5, 0]
    assert in_view[1, 0].tolist() == [1, 6, 1]  # axis 1 mirrored: 7 - (8 - 7)
    assert torch.equal(geometry.to_volume(1, in_view), points)
    assert torch.equal(geometry.to_view(0, points)[0], points[0])  # start 0, no flip


def test_overlap_and_millimetres():
    low, high = _geometry().overlap(0, 1)
    assert low.tolist() == [[4, 2, 0], [5, 7, 9]]
    assert high.tolist() == [[7, 7, 7], [12, 12, 12]]
    mm = _geometry().to_mm(torch.tensor([[[1, 1, 1]], [[1, 2, 3]]]))
    assert mm.tolist() == [[[1.0, 1.0, 2.0]], [[3.0, 6.0, 9.0]]]


def test_points_fall_inside_their_box_cover_it_and_replay_by_seed():
    low = torch.tensor([[0, 10], [3, 3]])
    high = torch.tensor([[1, 12], [3, 3]])
    points = sample_in_boxes(low, high, 600, torch.Generator().manual_seed(0))
    assert points.shape == (2, 600, 2) and points.dtype == torch.int64
    assert ((points >= low[:, None]) & (points <= high[:, None])).all()
    assert {tuple(p) for p in points[0].tolist()} == {(i, j) for i in (0, 1) for j in (10, 11, 12)}
    assert (points[1] == 3).all()
    again = sample_in_boxes(low, high, 600, torch.Generator().manual_seed(0))
    assert torch.equal(points, again)
    with pytest.raises(ValueError, match="do not overlap"):
        sample_in_boxes(low, low - 1, 1, torch.Generator())


def test_a_batch_without_geometry_is_refused():
    with pytest.raises(ValueError, match="no view geometry"):
        ViewGeometry.from_batch({"views": []}, [torch.zeros(1, 1, 4, 4)])
