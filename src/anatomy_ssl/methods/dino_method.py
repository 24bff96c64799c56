"""DINO (Caron et al., ICCV 2021): self-distillation from an EMA teacher with multi-crop."""

from __future__ import annotations

import copy

import torch

from anatomy_ssl.configs.budget_defaults import resolved
from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.data import ViewGroup
from anatomy_ssl.losses import DINOLoss
from anatomy_ssl.methods.pretraining_method import PretrainingMethod
from anatomy_ssl.models import DINOHead, Encoder
from anatomy_ssl.models.ema_update import cosine_momentum, ema_update_

GLOBAL_CROPS = 2


class DINOMethod(PretrainingMethod):
    """Student (encoder + DINO head) sees 2 global and `local_crops` smaller local crops; the
    teacher (EMA of the student, momentum rising to 1 on a cosine) sees the global crops; the
    student matches the centred, sharpened teacher distribution of every other view."""

    def __init__(self, encoder: Encoder, config: PretrainConfig) -> None:
        super().__init__(encoder, config)
        options = config.dino
        self.head = DINOHead(
            encoder.embed_dim,
            out_dim=resolved(options.out_dim),
            hidden_dim=options.hidden_dim,
            bottleneck_dim=options.bottleneck_dim,
            batch_norm=options.head_batch_norm,
        )
        self.teacher_encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.teacher_head = copy.deepcopy(self.head).requires_grad_(False)
        self.loss = DINOLoss(
            resolved(options.out_dim),
            teacher_temperature=options.teacher_temperature,
            student_temperature=options.student_temperature,
            center_momentum=options.center_momentum,
        )
        multiple = max(encoder.min_input_multiple, 1)
        local = round(config.data.crop_size_vox * options.local_crop_fraction / multiple)
        self.local_size_vox = (max(local, 1) * multiple,) * encoder.spatial_dims

    def view_groups(self) -> list[ViewGroup]:
        groups = [ViewGroup(count=GLOBAL_CROPS, size_vox=self.crop_size_vox)]
        if self.config.dino.local_crops > 0:
            groups.append(
                ViewGroup(count=self.config.dino.local_crops, size_vox=self.local_size_vox)
            )
        return groups

    def teacher_temperature(self, step: int) -> float:
        """Linear warmup of the teacher temperature (DINO's schedule), then constant."""
        options = self.config.dino
        if step >= options.warmup_teacher_temperature_steps:
            return options.teacher_temperature
        fraction = step / max(options.warmup_teacher_temperature_steps, 1)
        start, end = options.warmup_teacher_temperature, options.teacher_temperature
        return start + (end - start) * fraction

    def compute_loss(
        self, views: list[torch.Tensor], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch = views[0].shape[0]
        globals_ = torch.cat(views[:GLOBAL_CROPS])  # (2B, C, *G)
        with torch.no_grad():
            teacher = self.teacher_head(self.teacher_encoder.forward_pooled(globals_))  # (2B, K)
        pooled_global = self.encoder.forward_pooled(globals_)  # (2B, D)
        student = [self.head(pooled_global)]
        if len(views) > GLOBAL_CROPS:  # local crops share one size: one batched pass
            student.append(self.head(self.encoder.forward_pooled(torch.cat(views[GLOBAL_CROPS:]))))
        student_out = torch.cat(student).chunk(len(views))  # V x (B, K)
        self.loss.teacher_temperature = self.teacher_temperature(self.global_step)
        loss = self.loss(list(student_out), list(teacher.chunk(GLOBAL_CROPS)))
        return loss, pooled_global[:batch]

    def update_teacher(self) -> None:
        options = self.config.dino
        momentum = cosine_momentum(
            self.global_step, self.config.optim.max_steps, base=resolved(options.momentum)
        )
        ema_update_(self.teacher_encoder, self.encoder, momentum)
        ema_update_(self.teacher_head, self.head, momentum)
