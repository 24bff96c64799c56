"""Point correspondence between two volumes by anatomical embeddings, searched coarse to fine.

As in SAM (Yan et al., IEEE TMI 2022), a point's embedding is its fine map (local appearance)
and its coarse map (global context), each L2-normalised, so the dot product of two embeddings is
the mean of the two cosines. The search never scores the whole target at fine resolution: the
coarse cosine first ranks one cell per coarse block of the target (a grid `coarse stride / fine
stride` times sparser per axis), then only the fine cells within one coarse block of the
`coarse_candidates` best are scored with the full (fine + coarse) similarity. The best cell's
centre is then refined to the most similar voxel within one cell of it, on the interpolated
maps (`refine_to_voxels`); a match whose similarity is below `threshold` is
refused (SAM: 0.7).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch

from anatomy_ssl.correspondence.point_matches import PointMatches
from anatomy_ssl.correspondence.voxel_refinement import refine_to_voxels
from anatomy_ssl.embedding.dense_feature_extraction import DenseFeatures, extract_dense_features
from anatomy_ssl.models import Encoder
from anatomy_ssl.preprocess import CachedVolume

DEFAULT_THRESHOLD = 0.7
#: Gathered fine-stage values per chunk of queries (bounds memory to about 64 MB).
_GATHER_BUDGET = 1 << 24


class EmbeddingMatcher:
    """Matches points between volumes with an encoder's fine + coarse dense embeddings.

    Args:
        encoder: any registered encoder (a `sam`-pretrained one is trained for this).
        scales: the fine and the coarse map (indices into `forward_features`).
        tile_vox: inference tile side(s) of the dense embeddings.
        threshold: matches with a lower similarity are refused.
        coarse_candidates: coarse blocks searched at fine resolution per point.
        refine: refine each match from its cell centre to the best voxel (`refine_to_voxels`).
        cache_volumes: dense embeddings kept in memory (by cache key), so matching many points
            or pairs embeds each volume once.
        device: where the encoder runs.
    """

    def __init__(
        self,
        encoder: Encoder,
        *,
        scales: tuple[int, int] = (0, -1),
        tile_vox: int | Sequence[int] = 64,
        threshold: float = DEFAULT_THRESHOLD,
        coarse_candidates: int = 4,
        refine: bool = True,
        cache_volumes: int = 8,
        device: str | torch.device = "cpu",
    ) -> None:
        if len(scales) != 2:
            raise ValueError(f"scales must name a fine and a coarse map, got {scales}")
        if coarse_candidates < 1 or cache_volumes < 0:
            raise ValueError("need coarse_candidates >= 1 and cache_volumes >= 0")
        self.encoder = encoder
        self.scales = scales
        self.tile_vox = tile_vox
        self.threshold = threshold
        self.coarse_candidates = coarse_candidates
        self.refine = refine
        self.cache_volumes = cache_volumes
        self.device = device
        self._cache: OrderedDict[str, DenseFeatures] = OrderedDict()

    def embed(self, volume: CachedVolume) -> DenseFeatures:
        """The volume's normalised fine + coarse embedding on the fine map's grid (cached)."""
        cached = self._cache.get(volume.key)
        if cached is not None:
            self._cache.move_to_end(volume.key)
            return cached
        dense = extract_dense_features(
            self.encoder, volume, scales=self.scales, tile_vox=self.tile_vox, device=self.device
        )
        if self.cache_volumes:
            self._cache[volume.key] = dense
            while len(self._cache) > self.cache_volumes:
                self._cache.popitem(last=False)
        return dense

    def match(
        self, source: CachedVolume, points_mm: np.ndarray, target: CachedVolume
    ) -> PointMatches:
        """Match `(N, S)` world-mm points of `source` into `target`."""
        return self.match_features(self.embed(source), points_mm, self.embed(target))

    def match_features(
        self, source: DenseFeatures, points_mm: np.ndarray, target: DenseFeatures
    ) -> PointMatches:
        """`match` on embeddings already computed (`embed`)."""
        points = np.atleast_2d(np.asarray(points_mm, dtype=float))
        queries = source.sample(points)  # (N, D) unit vectors
        best_cell, similarity = coarse_to_fine_search(
            queries, target, coarse_candidates=self.coarse_candidates
        )
        matched = target.grid_points_mm()[best_cell]  # (N, S)
        if self.refine:
            matched, similarity = refine_to_voxels(queries, target, matched)
        accepted = similarity >= self.threshold
        matched[~accepted] = np.nan
        return PointMatches(points_mm=matched, similarity=similarity, accepted=accepted)


def coarse_to_fine_search(
    queries: torch.Tensor, target: DenseFeatures, *, coarse_candidates: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Best target cell of each query, scoring only windows around the best coarse blocks.

    Args:
        queries: `(N, D)` normalised embeddings with the target's two scale blocks.
        target: normalised dense embeddings of two scales (fine, coarse) on the fine grid.
        coarse_candidates: coarse blocks searched at fine resolution per query.

    Returns:
        `(N,)` int64 flat cell index (C order over `target.grid_size`) and `(N,)` float64
        similarity (the mean of the fine and coarse cosines) of the best cell.
    """
    if len(target.scale_channels) != 2 or not target.normalized:
        raise ValueError("coarse-to-fine search needs normalised embeddings of exactly 2 scales")
    grid = target.grid_size
    ratio = max(target.scale_strides[1] // target.grid_stride_vox, 1)  # fine cells per block
    features = target.flat_features()  # (M, D)
    fine_width = target.scale_channels[0]
    # one representative cell per coarse block: the cell nearest the block centre
    axes = [torch.arange(min(ratio // 2, n - 1), n, ratio) for n in grid]
    block_cells = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(grid))
    strides = torch.tensor([int(np.prod(grid[i + 1 :])) for i in range(len(grid))])
    block_flat = (block_cells * strides).sum(dim=1)  # (Mc,)
    coarse = queries[:, fine_width:] @ features[block_flat, fine_width:].T  # (N, Mc)
    top = coarse.topk(min(coarse_candidates, len(block_flat)), dim=1).indices  # (N, k)
    offsets = torch.tensor(list(itertools.product(range(-ratio, ratio + 1), repeat=len(grid))))
    limits = torch.tensor(grid) - 1
    centres = block_cells[top]  # (N, k, S)
    window = (centres[:, :, None] + offsets).clamp(torch.zeros_like(limits), limits)
    cells = (window * strides).sum(dim=-1).flatten(1)  # (N, k * W) flat indices
    chunk = max(_GATHER_BUDGET // max(cells.shape[1] * features.shape[1], 1), 1)
    best_cell = torch.empty(len(queries), dtype=torch.int64)
    best_value = torch.empty(len(queries), dtype=torch.float64)
    for first in range(0, len(queries), chunk):
        rows = slice(first, first + chunk)
        gathered = features[cells[rows]]  # (n, k * W, D)
        scores = torch.einsum("nwd,nd->nw", gathered, queries[rows])
        value, pick = scores.max(dim=1)
        best_cell[rows] = cells[rows].gather(1, pick[:, None])[:, 0]
        best_value[rows] = value.double()
    return best_cell.numpy(), best_value.numpy()
