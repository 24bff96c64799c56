"""Mining cross-volume pairs for one source volume: random body voxels of the source, matched
into a few partner volumes, kept where the matcher accepts and the match lies inside the partner.

Alice trains on crops that show the same anatomy in two different volumes; the matches are mined
once ahead of training (see `mining_runner`) and stored with the cache (`mined_pairs_store`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from anatomy_ssl.anatomy.body_foreground import BODY_THRESHOLD_FRACTION
from anatomy_ssl.correspondence.point_matches import PointMatches
from anatomy_ssl.errors import InputError
from anatomy_ssl.preprocess import CachedVolume


class PointMatcher(Protocol):
    """What mining needs of a matcher (`EmbeddingMatcher`, `RegistrationMatcher`)."""

    def match(
        self, source: CachedVolume, points_mm: np.ndarray, target: CachedVolume
    ) -> PointMatches: ...


@dataclass(frozen=True, eq=False)
class MinedPairs:
    """The pairs mined for one source volume: voxel m of the source shows the same anatomy as
    voxel m of partner `partner_keys[partner_index[m]]`.

    Attributes:
        source_key: cache key of the source entry.
        partner_keys: `(P,)` cache keys of the partner entries, in mining order.
        source_vox: `(M, S)` int64 voxel indices in the source (inside its body).
        partner_vox: `(M, S)` int64 voxel indices in the partner (inside the partner volume).
        partner_index: `(M,)` int64 index into `partner_keys`.
        similarity: `(M,)` float32 matcher confidence (NaN for registration).
        matcher_id: what mined them (see `mined_pairs_store.matcher_id`).
        requested: points tried over all partners; `refused = requested - M`.
    """

    source_key: str
    partner_keys: tuple[str, ...]
    source_vox: np.ndarray
    partner_vox: np.ndarray
    partner_index: np.ndarray
    similarity: np.ndarray
    matcher_id: str
    requested: int

    def __post_init__(self) -> None:
        count = len(self.source_vox)
        if (
            self.source_vox.ndim != 2
            or self.partner_vox.shape != self.source_vox.shape
            or self.partner_index.shape != (count,)
            or self.similarity.shape != (count,)
        ):
            raise ValueError(
                "need source_vox and partner_vox (M, S), partner_index and similarity (M,); got "
                f"{self.source_vox.shape}, {self.partner_vox.shape}, {self.partner_index.shape}, "
                f"{self.similarity.shape}"
            )
        if not 0 <= count <= self.requested:
            raise ValueError(f"{count} pairs from {self.requested} requested points")
        if count and not 0 <= self.partner_index.min() <= self.partner_index.max() < len(
            self.partner_keys
        ):
            raise ValueError(f"partner_index out of range for {len(self.partner_keys)} partners")

    @property
    def count(self) -> int:
        """M, the number of pairs."""
        return len(self.source_vox)

    @property
    def refused(self) -> int:
        """Points tried that gave no pair (refused by the matcher or outside the partner)."""
        return self.requested - self.count

    def pairs_per_partner(self) -> np.ndarray:
        """`(P,)` int64 number of pairs with each partner."""
        return np.bincount(self.partner_index, minlength=len(self.partner_keys)).astype(np.int64)


def key_rng(seed: int, key: str, purpose: str) -> np.random.Generator:
    """A random stream determined by `(seed, key, purpose)` only (not by process or order)."""
    digest = hashlib.sha256(f"{purpose}\0{key}".encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def choose_partners(keys: Sequence[str], source_key: str, count: int, seed: int) -> list[str]:
    """`count` keys other than `source_key` (all of them if fewer), in a random order that
    depends only on `seed`, `source_key` and the set of `keys` (not their order)."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    others = sorted(set(keys) - {source_key})
    order = key_rng(seed, source_key, "partners").permutation(len(others))[:count]
    return [others[i] for i in order]


def body_mask(volume: CachedVolume) -> np.ndarray:
    """`(*size_vox)` bool: channel 0 above `background + 5 %` of its intensity range (the rule of
    `anatomy.body_bounding_box`, at full resolution)."""
    image = volume.load_image()[0]
    low, high = float(image.min()), float(image.max())
    return np.asarray(image > volume.background_value + BODY_THRESHOLD_FRACTION * (high - low))


def mine_volume_pairs(
    matcher: PointMatcher,
    source: CachedVolume,
    partners: Sequence[CachedVolume],
    *,
    points_per_partner: int,
    rng: np.random.Generator,
    matcher_id: str | None = None,
) -> MinedPairs:
    """Match `points_per_partner` random body voxels of `source` into each partner.

    Points are drawn uniformly (with replacement) over the source's `body_mask`, afresh for each
    partner. A match is kept when the matcher accepts it and its nearest partner voxel lies inside
    the partner volume.

    Args:
        matcher: anything with `match(source, points_mm (N, S), target) -> PointMatches`.
        source: the volume the points are drawn in.
        partners: volumes to match into (the source itself makes no sense here).
        points_per_partner: points drawn per partner (>= 1).
        rng: draws the points.
        matcher_id: recorded in the result; defaults to the matcher's class name.

    Raises:
        InputError: the source has no body voxels (a constant image).
    """
    if points_per_partner < 1:
        raise ValueError(f"points_per_partner must be >= 1, got {points_per_partner}")
    mask = body_mask(source)
    body = np.flatnonzero(mask)  # (K,) flat indices of body voxels
    if not len(body):
        raise InputError(source.folder, "no body voxels to mine from (constant image?)")
    dims = source.spatial_dims
    drawn = body[rng.integers(0, len(body), size=(len(partners), points_per_partner))]
    source_parts, partner_parts, index_parts, similarity_parts = [], [], [], []
    for index, partner in enumerate(partners):
        vox = np.stack(np.unravel_index(drawn[index], mask.shape), axis=1)  # (n, S)
        points_mm = vox @ source.affine[:dims, :dims].T + source.affine[:dims, dims]
        matches = matcher.match(source, points_mm, partner)
        usable = matches.accepted & np.isfinite(matches.points_mm).all(axis=1)
        target = np.rint(partner.world_to_voxel(matches.points_mm[usable])).astype(np.int64)
        inside = ((target >= 0) & (target < np.asarray(partner.size_vox))).all(axis=1)
        source_parts.append(vox[usable][inside])
        partner_parts.append(target[inside])
        index_parts.append(np.full(int(inside.sum()), index, dtype=np.int64))
        similarity_parts.append(matches.similarity[usable][inside])
    empty = np.empty((0, dims), dtype=np.int64)
    return MinedPairs(
        source_key=source.key,
        partner_keys=tuple(partner.key for partner in partners),
        source_vox=np.concatenate([empty, *source_parts]).astype(np.int64),
        partner_vox=np.concatenate([empty, *partner_parts]).astype(np.int64),
        partner_index=np.concatenate([np.empty(0, np.int64), *index_parts]),
        similarity=np.concatenate([np.empty(0), *similarity_parts]).astype(np.float32),
        matcher_id=matcher_id if matcher_id is not None else type(matcher).__name__,
        requested=len(partners) * points_per_partner,
    )
