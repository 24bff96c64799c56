"""Adam-v2's composability and decomposability losses (parts <-> whole), 2 - 2 cos per part.

Hosseinzadeh Taher et al., "Representing Part-Whole Hierarchies in Foundation Models by
Learning Localizability, Composability, and Decomposability from Anatomy via Self-Supervision"
(CVPR 2024), eqs. for L_comp and L_decomp. With `norm(v) = v / ||v||`, student embeddings `s`,
teacher embeddings `t`, a whole `w` and its parts `P_1..P_n`::

    L_comp   = mean_b [ 2 - 2 cos( h_C(concat_i norm(s(P_i))), t(w) ) ]
    L_decomp = mean_b mean_i [ 2 - 2 cos( chunk_i(h_D(norm(s(w)))), t(P_i) ) ]

Two deliberate departures from the authors' code: every part is L2-normalized on its own (a
normalization of the whole concatenated vector would make the per-part targets unreachable),
and the distance is 2 - 2 cos per part (their per-element MSE is ~1000x smaller than the
localizability loss, so the terms would not matter).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional


def cosine_distance(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of `2 - 2 cos` over all leading positions of `(..., D)` pairs (target detached);
    equals the squared distance of the L2-normalized vectors, in [0, 4]."""
    if predicted.shape != target.shape:
        raise ValueError(f"shapes differ: {tuple(predicted.shape)} vs {tuple(target.shape)}")
    cos = functional.cosine_similarity(predicted, target.detach(), dim=-1)
    return (2.0 - 2.0 * cos).mean()


def composability_loss(
    student_parts: torch.Tensor, teacher_whole: torch.Tensor, composer: nn.Module
) -> torch.Tensor:
    """Parts -> whole.

    Args:
        student_parts: `(B, n, D)` student embeddings of each whole's n parts.
        teacher_whole: `(B, D)` teacher embeddings of the wholes.
        composer: `h_C`, `(B, n * D) -> (B, D)`.
    """
    batch, parts, width = student_parts.shape
    concatenated = functional.normalize(student_parts, dim=-1).reshape(batch, parts * width)
    return cosine_distance(composer(concatenated), teacher_whole)


def decomposability_loss(
    student_whole: torch.Tensor, teacher_parts: torch.Tensor, decomposer: nn.Module
) -> torch.Tensor:
    """Whole -> parts.

    Args:
        student_whole: `(B, D)` student embeddings of the wholes.
        teacher_parts: `(B, n, D)` teacher embeddings of their parts.
        decomposer: `h_D`, `(B, D) -> (B, n * D)`.
    """
    batch, parts, width = teacher_parts.shape
    predicted = decomposer(functional.normalize(student_whole, dim=-1))  # (B, n * D)
    return cosine_distance(predicted.reshape(batch, parts, width), teacher_parts)
