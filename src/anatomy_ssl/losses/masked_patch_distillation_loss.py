"""iBOT's patch-level self-distillation (Zhou et al., "iBOT: Image BERT Pre-Training with Online
Tokenizer", ICLR 2022, eq. 3): the student sees a masked view and, at every masked token,
predicts the teacher's centred, sharpened distribution of the same token of the clean view."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from anatomy_ssl.losses.embedding_center import EmbeddingCenter


class MaskedPatchDistillationLoss(nn.Module):
    """With teacher temperature `Tt`, student temperature `Ts`, centre `c` and `M` the masked
    tokens::

        P_t(u) = softmax((g_t(u) - c) / Tt)        log P_s(u) = log_softmax(g_s(u) / Ts)
        L = mean over samples b of [ sum_{u in M_b} -sum_k P_t(u)[k] log P_s(u)[k] / |M_b| ]

    `c` is an EMA of the teacher tokens' mean (all tokens, across ranks), as in iBOT. A sample
    without a masked token contributes 0 and still counts in the mean.

    Args:
        out_dim: `K`, the prototypes of the patch head.
        teacher_temperature: `Tt` (iBOT: 0.04-0.07).
        student_temperature: `Ts` (iBOT: 0.1).
        center_momentum: EMA momentum of `c`.
    """

    def __init__(
        self,
        out_dim: int,
        *,
        teacher_temperature: float = 0.04,
        student_temperature: float = 0.1,
        center_momentum: float = 0.9,
    ) -> None:
        super().__init__()
        if teacher_temperature <= 0 or student_temperature <= 0:
            raise ValueError("temperatures must be > 0")
        self.teacher_temperature = teacher_temperature
        self.student_temperature = student_temperature
        self.center = EmbeddingCenter(out_dim, momentum=center_momentum)

    def forward(
        self, student: torch.Tensor, teacher: torch.Tensor, masked: torch.Tensor
    ) -> torch.Tensor:
        """Loss of `(B, N, K)` student and teacher token outputs at the `(B, N)` bool masked
        tokens (the teacher is detached); the centre moves in training mode."""
        if student.shape != teacher.shape or student.ndim != 3:
            raise ValueError(
                f"student and teacher must be (B, N, K) of one shape, got "
                f"{tuple(student.shape)} and {tuple(teacher.shape)}"
            )
        if masked.shape != student.shape[:2]:
            raise ValueError(f"masked must be (B, N) = {tuple(student.shape[:2])}")
        size, tokens, width = teacher.shape
        centred = self.center(teacher.reshape(-1, width).float()).reshape(size, tokens, width)
        targets = functional.softmax(centred / self.teacher_temperature, dim=-1)
        log_probs = functional.log_softmax(student.float() / self.student_temperature, dim=-1)
        per_token = -(targets * log_probs).sum(dim=-1)  # (B, N)
        weights = masked.float()
        per_sample = (per_token * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)
        return per_sample.mean()
