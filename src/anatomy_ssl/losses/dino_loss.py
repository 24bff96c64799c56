"""Self-distillation loss of DINO: student views match the centred, sharpened teacher."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional

from anatomy_ssl.losses.cross_rank_gather import rank_and_world


class DINOLoss(nn.Module):
    """Cross-entropy between teacher and student distributions of DINO (Caron et al., "Emerging
    Properties in Self-Supervised Vision Transformers", ICCV 2021, eq. 2-3).

    With teacher temperature `Tt`, student temperature `Ts` and centre `c`::

        P_t(x) = softmax((g_t(x) - c) / Tt)        P_s(x) = softmax(g_s(x) / Ts)
        L = mean over pairs (t, s), s != t, of  -sum_k P_t(x_t)[k] log P_s(x_s)[k]

    where `t` runs over the global views (teacher inputs) and `s` over all views (student
    inputs, globals first in the same order, so pair `s == t` is the same crop and is skipped);
    each pair's cross-entropy is averaged over the batch. After each training-mode call the
    centre follows an EMA of the teacher outputs' mean over the global batch::

        c <- m c + (1 - m) mean_i g_t(x_i)

    Attributes:
        teacher_temperature: `Tt`; assign a new value per step for the warmup schedule.
        center: `(1, K)` buffer (saved in the `state_dict`).

    Args:
        out_dim: `K`, the number of prototypes (head outputs).
        teacher_temperature: `Tt`, > 0.
        student_temperature: `Ts`, > 0.
        center_momentum: `m` in [0, 1].
    """

    center: torch.Tensor

    def __init__(
        self,
        out_dim: int,
        teacher_temperature: float = 0.04,
        student_temperature: float = 0.1,
        center_momentum: float = 0.9,
    ) -> None:
        super().__init__()
        if teacher_temperature <= 0 or student_temperature <= 0:
            raise ValueError(
                f"temperatures must be > 0, got teacher {teacher_temperature}, "
                f"student {student_temperature}"
            )
        if not 0.0 <= center_momentum <= 1.0:
            raise ValueError(f"center_momentum must be in [0, 1], got {center_momentum}")
        self.teacher_temperature = teacher_temperature
        self.student_temperature = student_temperature
        self.center_momentum = center_momentum
        self.register_buffer("center", torch.zeros(1, out_dim))

    def forward(
        self, student_outputs: Sequence[torch.Tensor], teacher_outputs: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """Loss over all (teacher view, other student view) pairs; updates the centre in
        training mode.

        Args:
            student_outputs: `V` tensors `(N, K)`, the global views first, then local views.
            teacher_outputs: `G` tensors `(N, K)` (`G <= V`), the global views in the same order.

        Returns:
            Scalar loss.
        """
        if not 1 <= len(teacher_outputs) <= len(student_outputs):
            raise ValueError(
                f"need 1 <= teacher views <= student views, got {len(teacher_outputs)} teacher "
                f"and {len(student_outputs)} student views"
            )
        if len(student_outputs) == 1:
            raise ValueError("need at least two views: the single view would only match itself")
        teacher = [
            functional.softmax((t.detach() - self.center) / self.teacher_temperature, dim=-1)
            for t in teacher_outputs
        ]  # G x (N, K)
        student = [
            functional.log_softmax(s / self.student_temperature, dim=-1) for s in student_outputs
        ]  # V x (N, K)
        total = student[0].new_zeros(())
        pairs = 0
        for t_index, t_probs in enumerate(teacher):
            for s_index, s_log_probs in enumerate(student):
                if s_index == t_index:
                    continue
                total = total + (-(t_probs * s_log_probs).sum(dim=-1)).mean()
                pairs += 1
        if self.training:
            self._update_center(torch.cat([t.detach() for t in teacher_outputs]))
        return total / pairs

    @torch.no_grad()
    def _update_center(self, teacher_outputs: torch.Tensor) -> None:
        """EMA of the batch mean of `(G * N, K)` teacher outputs, averaged across ranks."""
        batch_sum = teacher_outputs.to(self.center).sum(dim=0, keepdim=True)  # (1, K)
        _, world = rank_and_world()
        if world > 1:
            dist.all_reduce(batch_sum)
        batch_mean = batch_sum / (teacher_outputs.shape[0] * world)
        self.center.mul_(self.center_momentum).add_(batch_mean, alpha=1.0 - self.center_momentum)
