"""Exponential moving average of a student network into a teacher, and its momentum schedule."""

from __future__ import annotations

import math

import torch
from torch import nn


@torch.no_grad()
def ema_update_(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """Move `teacher` towards `student` in place: `t <- momentum * t + (1 - momentum) * s`.

    The momentum (key) encoder of MoCo (He et al., CVPR 2020, eq. 2) and the EMA teacher of
    BYOL / DINO. Floating-point parameters and buffers (e.g. BatchNorm running statistics) are
    blended; integer buffers (e.g. BatchNorm's `num_batches_tracked`) are copied.

    Args:
        teacher: updated in place; must have the same parameter and buffer names as `student`.
        student: read only.
        momentum: in [0, 1]; 0 copies the student, 1 keeps the teacher.

    Raises:
        ValueError: if `momentum` is outside [0, 1] or the two modules' tensors differ in names
            or shapes.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    teacher_tensors = {**dict(teacher.named_parameters()), **dict(teacher.named_buffers())}
    student_tensors = {**dict(student.named_parameters()), **dict(student.named_buffers())}
    if teacher_tensors.keys() != student_tensors.keys():
        difference = sorted(teacher_tensors.keys() ^ student_tensors.keys())
        raise ValueError(f"teacher and student differ in tensors: {difference}")
    for name, t in teacher_tensors.items():
        s = student_tensors[name]
        if t.shape != s.shape:
            raise ValueError(f"{name}: teacher {tuple(t.shape)} vs student {tuple(s.shape)}")
        if t.is_floating_point():
            t.mul_(momentum).add_(s.to(t.dtype), alpha=1.0 - momentum)
        else:
            t.copy_(s)


def cosine_momentum(step: int, total_steps: int, base: float, final: float = 1.0) -> float:
    """Momentum rising from `base` at step 0 to `final` at `total_steps` on a half cosine (BYOL:
    Grill et al., NeurIPS 2020, section 3.2; DINO: Caron et al., ICCV 2021)::

        m(step) = final - (final - base) * (1 + cos(pi * step / total_steps)) / 2

    Steps past `total_steps` keep `final`.

    Args:
        step: 0-based optimizer step, >= 0.
        total_steps: >= 1.
        base: momentum at step 0.
        final: momentum at `total_steps`.

    Returns:
        The momentum at `step`.
    """
    if total_steps < 1 or step < 0:
        raise ValueError(f"need total_steps >= 1 and step >= 0, got {total_steps}, {step}")
    progress = min(step / total_steps, 1.0)
    return final - (final - base) * (1.0 + math.cos(math.pi * progress)) / 2.0
