"""Mining cross-volume pairs for one source volume: random body voxels of the source, matched
into a few partner volumes, kept where the matcher accepts and the match lies inside the partner.

Alice trains on crops that show the same anatomy in two different volumes; the matches are mined
once ahead of training (see `mining_runner`) and stored with the cache (`mined_pairs_store`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from anatomy_ssl.anatomy.body_foreground import BODY_THRESHOLD_FRACTION
from anatomy_ssl.correspondence.point_matches import PointMatches
from anatomy_ssl.data.mined_pairs import MinedPairs
from anatomy_ssl.errors import InputError
from anatomy_ssl.preprocess import CachedVolume


class PointMatcher(Protocol):
    """What mining needs of a matcher (`EmbeddingMatcher`, `RegistrationMatcher`)."""

    def match(
        self, source: CachedVolume, points_mm: np.ndarray, target: CachedVolume
    ) -> PointMatches: ...


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
        points_mm = source.voxel_to_world(vox)
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
