"""Pixel-level InfoNCE of SAM (Yan et al., IEEE TMI 2022).

Two overlapping, differently augmented crops of one volume are embedded voxel by voxel. A voxel
of crop 1 and the voxel of crop 2 at the same physical point form a positive pair; voxels of the
same volume far enough from that point (hard negatives) and voxels of other volumes (global
negatives) are pushed away. `correspondence_negative_mask` says which candidates may be negatives
of which anchor, and `pixel_infonce_loss` is the InfoNCE over those negatives.
"""

from __future__ import annotations

import torch
from torch.nn import functional


def correspondence_negative_mask(
    anchor_points_mm: torch.Tensor,
    anchor_volume: torch.Tensor,
    candidate_points_mm: torch.Tensor,
    candidate_volume: torch.Tensor,
    *,
    radius_mm: float,
) -> torch.Tensor:
    """Which candidates may serve as negatives of which anchor.

    Candidate `n` is a negative of anchor `p` when it comes from another volume (a global
    negative), or from the same volume at a Euclidean distance `> radius_mm` from the anchor's
    point (a hard-negative candidate). A candidate of the same volume at a distance `<= radius_mm`,
    a point exactly on the radius included, shows the same anatomy as the anchor (the anchor's
    own positive among them) and is never a negative.

    `radius_mm` exists because neighbouring voxels of one volume are nearly the same anatomy, and
    the voxel grids of two augmented crops do not line up exactly: pushing the embedding of a
    point away from those of its immediate neighbours would fight the positive term and teach the
    network noise. Distances are computed in float64.

    Args:
        anchor_points_mm: `(P, S)` physical position (mm) of each anchor point, `S` in {2, 3}.
        anchor_volume: `(P,)` integer id of the volume each anchor point comes from.
        candidate_points_mm: `(N, S)` physical position (mm) of each candidate point.
        candidate_volume: `(N,)` integer id of the volume each candidate comes from.
        radius_mm: exclusion radius (mm), >= 0.

    Returns:
        `(P, N)` bool, True where candidate `n` may be a negative of anchor `p`.
    """
    if anchor_points_mm.ndim != 2 or anchor_points_mm.shape[1] not in (2, 3):
        raise ValueError(
            f"anchor_points_mm must have shape (P, S) with S in {{2, 3}}, "
            f"got {tuple(anchor_points_mm.shape)}"
        )
    if candidate_points_mm.ndim != 2 or candidate_points_mm.shape[1] != anchor_points_mm.shape[1]:
        raise ValueError(
            f"candidate_points_mm must have shape (N, {anchor_points_mm.shape[1]}) like the "
            f"anchors' (P, S), got {tuple(candidate_points_mm.shape)}"
        )
    for name, volume, points in (
        ("anchor_volume", anchor_volume, anchor_points_mm),
        ("candidate_volume", candidate_volume, candidate_points_mm),
    ):
        if volume.shape != points.shape[:1]:
            raise ValueError(
                f"{name} must have shape ({points.shape[0]},), one id per point, "
                f"got {tuple(volume.shape)}"
            )
        if volume.is_floating_point() or volume.is_complex() or volume.dtype == torch.bool:
            raise ValueError(f"{name} must hold integer volume ids, got dtype {volume.dtype}")
    if not radius_mm >= 0:  # also rejects NaN
        raise ValueError(f"radius_mm must be >= 0, got {radius_mm}")

    other_volume = anchor_volume[:, None] != candidate_volume[None, :]  # (P, N)
    offset = (
        anchor_points_mm.double()[:, None, :] - candidate_points_mm.double()[None, :, :]
    )  # (P, N, S)
    far = torch.linalg.vector_norm(offset, dim=-1) > radius_mm  # (P, N)
    return other_volume | far


def pixel_infonce_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    candidates: torch.Tensor,
    negative_mask: torch.Tensor,
    *,
    temperature: float = 0.5,
    hard_negatives: int | None = None,
) -> torch.Tensor:
    """Pixel-level InfoNCE of SAM (Yan et al., "SAM: Self-supervised Learning of Pixel-wise
    Anatomical Embeddings in Radiological Images", IEEE TMI 2022).

    With `s(u, v) = u·v / (|u| |v|)` the cosine similarity, `t` the temperature and `Neg(p)` the
    negatives of anchor `p`::

        l(p) = -log [ exp(s_pp / t) / (exp(s_pp / t) + sum_{n in Neg(p)} exp(s_pn / t)) ]
        loss = mean_p l(p)

    where `s_pp = s(anchor[p], positive[p])` and `s_pn = s(anchor[p], candidates[n])`.
    `Neg(p)` is every `n` with `negative_mask[p, n]` when `hard_negatives` is None, else the
    `hard_negatives` allowed candidates most similar to anchor `p` (SAM's hard-negative
    selection; the choice is made without gradients, the chosen similarities carry them). An
    anchor with fewer allowed candidates than `hard_negatives` uses all it has; an anchor with
    none has `l(p) = -log 1 = 0` (no gradient) and still counts in the mean, so the loss does not
    jump when the last negative of an anchor is masked out. It is computed stably as
    `l(p) = logsumexp([0] + [(s_pn - s_pp) / t for n in Neg(p)])`, masked entries at -inf, in
    float32 for half / bfloat16 inputs (float64 stays float64).

    Args:
        anchor: `(P, D)` embeddings of the anchor points (crop 1), P >= 1.
        positive: `(P, D)` embeddings of the same physical points in crop 2.
        candidates: `(N, D)` embeddings of the candidate negatives.
        negative_mask: `(P, N)` bool, True where candidate `n` may be a negative of anchor `p`
            (see `correspondence_negative_mask`).
        temperature: `t`, > 0.
        hard_negatives: None, or the number k >= 1 of most similar negatives kept per anchor.

    Returns:
        Scalar loss, float32 (float64 for float64 inputs).
    """
    if anchor.ndim != 2 or positive.shape != anchor.shape:
        raise ValueError(
            f"anchor and positive must be (P, D) of one shape, "
            f"got {tuple(anchor.shape)}, {tuple(positive.shape)}"
        )
    if anchor.shape[0] == 0:
        raise ValueError("anchor must hold at least one point (P >= 1), got P = 0")
    if candidates.ndim != 2 or candidates.shape[1] != anchor.shape[1]:
        raise ValueError(
            f"candidates must be (N, {anchor.shape[1]}) like the anchors' (P, D), "
            f"got {tuple(candidates.shape)}"
        )
    expected_mask_shape = (anchor.shape[0], candidates.shape[0])
    if negative_mask.shape != expected_mask_shape:
        raise ValueError(
            f"negative_mask must have shape (P, N) = {expected_mask_shape}, "
            f"got {tuple(negative_mask.shape)}"
        )
    if negative_mask.dtype != torch.bool:
        raise ValueError(f"negative_mask must be bool, got dtype {negative_mask.dtype}")
    if not temperature > 0:  # also rejects NaN
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if hard_negatives is not None and hard_negatives < 1:
        raise ValueError(f"hard_negatives must be None or >= 1, got {hard_negatives}")

    dtype = torch.promote_types(anchor.dtype, torch.float32)
    a = functional.normalize(anchor.to(dtype), dim=1)
    z = functional.normalize(positive.to(dtype), dim=1)
    c = functional.normalize(candidates.to(dtype), dim=1)

    positive_logit = (a * z).sum(dim=1) / temperature  # (P,)
    negative_logits = a @ c.T / temperature  # (P, N)
    allowed = negative_mask
    if hard_negatives is not None and hard_negatives < candidates.shape[0]:
        ranking = negative_logits.detach().masked_fill(~allowed, float("-inf"))
        chosen = ranking.topk(hard_negatives, dim=1).indices  # (P, k)
        negative_logits = negative_logits.gather(1, chosen)  # (P, k)
        # An anchor with fewer than k allowed candidates also picks disallowed ones: drop them.
        allowed = allowed.gather(1, chosen)  # (P, k)
    # l(p) = log(1 + sum_n exp(s_pn / t - s_pp / t)): relative to the positive, so a small loss
    # is not the difference of two large logsumexp terms (float32 cancellation at small t).
    relative = (negative_logits - positive_logit[:, None]).masked_fill(~allowed, float("-inf"))
    # (P, 1 + N), or (P, 1 + k) with hard negatives
    logits = torch.cat([relative.new_zeros(relative.shape[0], 1), relative], dim=1)
    return torch.logsumexp(logits, dim=1).mean()
