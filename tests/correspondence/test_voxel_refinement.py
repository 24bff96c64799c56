"""Refining a cell-level match to the voxel: a planted off-centre point is found, the match never
gets worse than its cell, and single-voxel grids are left alone."""

import numpy as np
import pytest
import torch

from anatomy_ssl.correspondence import refine_to_voxels
from anatomy_ssl.embedding.dense_feature_extraction import DenseFeatures, normalise_scales

CENTRES = np.stack(np.meshgrid(np.arange(0, 24, 4.0), np.arange(0, 24, 4.0)), -1).reshape(-1, 2)


def _embedding(points_mm: np.ndarray) -> torch.Tensor:
    """`(N, 2)` mm -> `(N, D)` unit vectors: Gaussian bumps on a 4 mm lattice, peaked at p."""
    distance = np.linalg.norm(points_mm[:, None] - CENTRES[None], axis=-1)
    return normalise_scales(torch.tensor(np.exp(-(distance**2) / 18.0)).float(), [len(CENTRES)])


def _grid(stride: int) -> DenseFeatures:
    """A 24 x 24 mm image of 1 mm voxels (voxel i centred at i mm) on cells of `stride` voxels."""
    cells = 24 // stride
    grid_to_world = np.diag([float(stride), float(stride), 1.0])
    grid_to_world[:2, 2] = (stride - 1) / 2  # cell centre: the middle of its voxels
    index = np.stack(np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij"), -1)
    centres = index.reshape(-1, 2) @ grid_to_world[:2, :2].T + grid_to_world[:2, 2]
    features = _embedding(centres).T.reshape(-1, cells, cells)
    return DenseFeatures(features, grid_to_world, stride, (len(CENTRES),), (stride,))


@pytest.mark.parametrize("point", [(11.0, 3.0), (7.0, 12.0), (19.0, 16.0)])
def test_a_point_between_cell_centres_is_found_to_the_voxel(point):
    target = _grid(stride=4)
    truth = np.array([point])
    query = _embedding(truth)
    cells_mm = target.grid_points_mm()
    cell = cells_mm[int((target.flat_features() @ query[0]).argmax())][None]
    refined, similarity = refine_to_voxels(query, target, cell)
    cell_error = np.linalg.norm(cell - truth)
    assert cell_error > 1.0  # the cell centre alone is off
    assert np.linalg.norm(refined - truth) <= 0.5
    assert similarity[0] >= float(target.sample(cell)[0] @ query[0]) - 1e-6


def test_a_match_never_scores_worse_and_stays_inside_the_grid():
    target = _grid(stride=2)
    generator = np.random.default_rng(0)
    truth = generator.uniform(0, 23, size=(20, 2))
    queries = _embedding(truth)
    corners = np.array([[0.5, 0.5], [22.5, 22.5]])  # the first and the last cell centres
    start = np.concatenate([target.grid_points_mm()[:18], corners])
    refined, similarity = refine_to_voxels(queries, target, start)
    before = (target.sample(start) * queries).sum(dim=1).numpy()
    assert (similarity >= before - 1e-6).all()
    assert (refined >= 0).all() and (refined <= 23).all()
    assert (np.abs(refined - start) <= 2.5 + 1e-9).all()  # one cell from the nearest voxel


def test_single_voxel_cells_and_empty_input_are_left_alone():
    target = _grid(stride=1)
    start = target.grid_points_mm()[[5, 40]]
    queries = _embedding(np.array([[3.0, 3.0], [7.0, 9.0]]))
    refined, similarity = refine_to_voxels(queries, target, start)
    np.testing.assert_array_equal(refined, start)
    assert similarity.shape == (2,)
    empty, none = refine_to_voxels(queries[:0], target, np.zeros((0, 2)))
    assert empty.shape == (0, 2) and none.shape == (0,)
    with pytest.raises(ValueError, match="2 queries but 1 matches"):
        refine_to_voxels(queries, target, start[:1])
