"""Refine cell-level matches to the voxel: the best interpolated embedding around each match.

Dense embeddings live on a grid of cells `grid_stride_vox` voxels wide (the encoder's finest
stride), so a match that picks the best cell is off by up to half a cell per axis even when the
embedding is perfect: at 6 mm voxels and stride 2 that is a 12 mm grid. SAM (Yan et al., IEEE
TMI 2022) matches on full-resolution maps; here the maps are interpolated instead, only around
each match: every voxel within one cell of the matched cell centre is scored against the query
with `DenseFeatures.sample`, and the best one is the refined match.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from anatomy_ssl.embedding.dense_feature_extraction import DenseFeatures


def refine_to_voxels(
    queries: torch.Tensor, target: DenseFeatures, matched_mm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move each match to the most similar voxel within one cell of it.

    Candidates are the voxel centres at offsets in `[-s, s]` voxels per axis from the voxel
    nearest the match (`s = target.grid_stride_vox`), kept between the first and the last
    cell centres, and the match itself (so a match never scores lower than it did). A grid of
    single-voxel cells is returned unchanged.

    Args:
        queries: `(N, D)` normalised query embeddings (as `DenseFeatures.sample` gives).
        target: the target's normalised dense embeddings.
        matched_mm: `(N, S)` world mm of the cell-level matches (cell centres).

    Returns:
        `(N, S)` refined world mm and `(N,)` float64 similarity at the refined point.
    """
    matched = np.atleast_2d(np.asarray(matched_mm, dtype=float))
    if len(matched) != len(queries):
        raise ValueError(f"{len(queries)} queries but {len(matched)} matches")
    stride = target.grid_stride_vox
    dims = target.spatial_dims
    if len(matched) == 0:
        return matched, np.zeros(0)
    if stride == 1:
        vectors = target.sample(matched)  # (N, D)
        return matched, (vectors * queries).sum(dim=1).double().numpy()
    # cell i spans voxels s*i .. s*i + s - 1, so voxel v sits at cell index (v - (s - 1) / 2) / s
    half = (stride - 1) / 2
    voxel = np.rint(target.world_to_grid(matched) * stride + half)  # (N, S) nearest voxel
    steps = np.arange(-stride, stride + 1, dtype=float)
    offsets = np.asarray(list(itertools.product(steps, repeat=dims)))  # (K, S) voxels
    lowest = np.ceil(half)  # voxel centres between the first and the last cell centres
    highest = np.floor(stride * (np.asarray(target.grid_size, dtype=float) - 1) + half)
    voxels = np.clip(voxel[:, None] + offsets[None], lowest, highest)  # (N, K, S)
    # (N, K + 1, S) cell indices: the voxels, and the match itself
    candidates = np.concatenate(
        [(voxels - half) / stride, target.world_to_grid(matched)[:, None]], axis=1
    )
    flat = candidates.reshape(-1, dims)
    world = flat @ target.grid_to_world[:-1, :-1].T + target.grid_to_world[:-1, -1]
    vectors = target.sample(world).reshape(len(matched), len(offsets) + 1, -1)  # (N, K+1, D)
    scores = torch.einsum("nkd,nd->nk", vectors, queries.float())  # (N, K + 1)
    best = scores.argmax(dim=1)  # (N,)
    rows = torch.arange(len(matched))
    refined = world.reshape(len(matched), len(offsets) + 1, dims)[rows.numpy(), best.numpy()]
    return refined, scores[rows, best].double().numpy()
