"""How often mined pairs show the same anatomy, on data whose landmarks give the truth.

The true match of a source point in the partner is estimated by the affine map that best fits
the two subjects' shared landmarks (least squares, world mm); a pair is correct when its partner
point lies within `radius_mm` (a crop radius: the crops around both points then overlap on the
same anatomy) of that estimate. With a phantom's landmarks (25 on the CT phantom) the affine
absorbs the global differences between subjects and leaves their local deformation, so the
estimate is good to a few mm, well inside a crop radius.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from anatomy_ssl.data.mined_pairs import MinedPairs
from anatomy_ssl.preprocess import CachedVolume


@dataclass(frozen=True)
class MinedPairPrecision:
    """Attributes:
    precision: share of the scored pairs within `radius_mm` of the estimated truth.
    median_error_mm: median distance from the partner point to the estimated truth.
    scored: pairs scored (both subjects with at least 4 shared landmarks in 3D, 3 in 2D).
    radius_mm: the radius used.
    """

    precision: float
    median_error_mm: float
    scored: int
    radius_mm: float


def landmark_affine(source_mm: np.ndarray, target_mm: np.ndarray) -> np.ndarray:
    """`(S + 1, S + 1)` affine fitted by least squares to `(L, S)` landmark pairs (L > S)."""
    count, dims = source_mm.shape
    if count <= dims:
        raise ValueError(f"an affine fit needs more than {dims} landmarks, got {count}")
    homogeneous = np.concatenate([source_mm, np.ones((count, 1))], axis=1)  # (L, S + 1)
    solution, *_ = np.linalg.lstsq(homogeneous, target_mm, rcond=None)  # (S + 1, S)
    matrix = np.eye(dims + 1)
    matrix[:dims] = solution.T
    return matrix


def mined_pair_precision(
    pairs: Sequence[MinedPairs],
    volumes: Mapping[str, CachedVolume],
    landmarks: Mapping[str, Mapping[str, ArrayLike]],
    *,
    radius_mm: float,
) -> MinedPairPrecision:
    """Score mined pairs against landmark-fitted affine maps between their subjects.

    Args:
        pairs: mined pairs, one `MinedPairs` per source volume.
        volumes: cache key -> the cache entry (for its affine and subject id).
        landmarks: subject id -> landmark name -> `(S,)` world mm.
        radius_mm: a pair within this distance of the truth is correct.

    Raises:
        ValueError: no pair could be scored.
    """
    errors: list[np.ndarray] = []
    for mined in pairs:
        source = volumes[mined.source_key]
        for index, partner_key in enumerate(mined.partner_keys):
            rows = mined.partner_index == index
            partner = volumes[partner_key]
            a = landmarks.get(source.subject_id, {})
            b = landmarks.get(partner.subject_id, {})
            shared = sorted(set(a) & set(b))
            if not rows.any() or len(shared) <= source.spatial_dims:
                continue
            fit = landmark_affine(
                np.array([a[name] for name in shared], dtype=float),
                np.array([b[name] for name in shared], dtype=float),
            )
            source_mm = source.voxel_to_world(mined.source_vox[rows])
            truth = source_mm @ fit[:-1, :-1].T + fit[:-1, -1]
            partner_mm = partner.voxel_to_world(mined.partner_vox[rows])
            errors.append(np.linalg.norm(partner_mm - truth, axis=1))
    if not errors:
        raise ValueError("no mined pair joins two subjects with enough shared landmarks")
    distance = np.concatenate(errors)
    return MinedPairPrecision(
        precision=float(np.mean(distance <= radius_mm)),
        median_error_mm=float(np.median(distance)),
        scored=len(distance),
        radius_mm=radius_mm,
    )
