"""Eden (Adam-v2): localizability, composability and decomposability of anatomical parts.

Hosseinzadeh Taher, Gotway, Liang, "Representing Part-Whole Hierarchies in Foundation Models by
Learning Localizability, Composability, and Decomposability from Anatomy via Self-Supervision"
(CVPR 2024, arXiv:2404.15672). A whole w is a decomposer part (coarse to fine over the run);
its parts P_1..P_n are its halves along every axis (8 octants in 3D, 4 quadrants in 2D).

- Localizability: DINO self-distillation between the teacher's two views of w and the
  student's views and multi-crops of w (centring, sharpened teacher).
- Composability: h_C(concat_i norm(student(P_i))) matches teacher(w).
- Decomposability: h_D(norm(student(w))) split into n chunks; chunk i matches teacher(P_i).

Composition works on pooled backbone embeddings with 2 - 2 cos per part (`part_whole_losses`);
its teacher targets are centred by a running mean (`EmbeddingCenter`), without which pooled
CNN embeddings, which share one dominant direction, make both terms trivially small.
"""

from __future__ import annotations

import copy

import torch

from anatomy_ssl.configs.budget_defaults import resolved
from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.data import PartViewLayout
from anatomy_ssl.losses import (
    DINOLoss,
    EmbeddingCenter,
    composability_loss,
    decomposability_loss,
)
from anatomy_ssl.methods.decomposer_layout import decomposer_layout
from anatomy_ssl.methods.pretraining_method import PretrainingMethod
from anatomy_ssl.models import DINOHead, Encoder, ProjectionHead
from anatomy_ssl.models.ema_update import cosine_momentum, ema_update_

WHOLE_VIEWS = 2


class EdenMethod(PretrainingMethod):
    """Student = encoder + DINO head, with a composer h_C and a decomposer h_D; teacher = EMA
    of encoder and head. Views per sample (`PartViewLayout`): two views of the whole, the
    local crops, then the whole's 2^S parts at half size (the scale they have inside it)."""

    def __init__(self, encoder: Encoder, config: PretrainConfig) -> None:
        super().__init__(encoder, config)
        options = config.eden
        self.layout = decomposer_layout(
            config,
            encoder,
            views=WHOLE_VIEWS,
            local_crops=options.local_crops,
            local_crop_fraction=options.local_crop_fraction,
            sub_parts=True,
        )
        parts, width = self.layout.sub_part_count, encoder.embed_dim
        self.head = DINOHead(
            width,
            out_dim=resolved(options.out_dim),
            hidden_dim=options.hidden_dim,
            bottleneck_dim=options.bottleneck_dim,
        )
        self.composer = ProjectionHead(
            parts * width, hidden_dim=options.composer_hidden_dim, out_dim=width, batch_norm=False
        )
        self.decomposer = ProjectionHead(
            width, hidden_dim=options.composer_hidden_dim, out_dim=parts * width, batch_norm=False
        )
        self.teacher_encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.teacher_head = copy.deepcopy(self.head).requires_grad_(False)
        self.loss = DINOLoss(
            resolved(options.out_dim),
            teacher_temperature=options.teacher_temperature,
            student_temperature=options.student_temperature,
            center_momentum=options.center_momentum,
        )
        self.target_center = EmbeddingCenter(width, momentum=options.center_momentum)

    def part_view_layout(self) -> PartViewLayout:
        return self.layout

    def compute_loss(
        self, views: list[torch.Tensor], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        options = self.config.eden
        batch, parts = views[0].shape[0], self.layout.sub_part_count
        local_count = self.layout.local_crops
        wholes = torch.cat(views[:WHOLE_VIEWS])  # (2B, C, *W)
        locals_ = views[WHOLE_VIEWS : WHOLE_VIEWS + local_count]  # L x (B, C, *L)
        part_views = torch.cat(views[WHOLE_VIEWS + local_count :])  # (nB, C, *W/2), part-major
        with torch.no_grad():
            teacher_wholes = self.teacher_encoder.forward_pooled(wholes)  # (2B, D)
            teacher_out = self.teacher_head(teacher_wholes)  # (2B, K)
            teacher_parts = self.teacher_encoder.forward_pooled(part_views)  # (nB, D)
        student_wholes = self.encoder.forward_pooled(wholes)  # (2B, D)
        student_parts = self.encoder.forward_pooled(part_views)  # (nB, D)
        student_out = [self.head(student_wholes)]
        if local_count:  # local crops share one size: one batched pass
            student_out.append(self.head(self.encoder.forward_pooled(torch.cat(locals_))))
        localizability = self.loss(
            list(torch.cat(student_out).chunk(WHOLE_VIEWS + local_count)),
            list(teacher_out.chunk(WHOLE_VIEWS)),
        )
        # (nB, D) part-major -> (B, n, D): sample b's n parts in C order
        width = student_parts.shape[1]
        # composition targets are centred teacher embeddings (see EmbeddingCenter)
        centred = self.target_center(torch.cat([teacher_wholes[:batch], teacher_parts]))
        target_whole, target_parts = centred[:batch], centred[batch:]  # (B, D), (nB, D)
        student_parts = student_parts.view(parts, batch, width).transpose(0, 1)  # (B, n, D)
        target_parts = target_parts.view(parts, batch, width).transpose(0, 1)  # (B, n, D)
        composability = composability_loss(student_parts, target_whole, self.composer)
        decomposability = decomposability_loss(
            student_wholes[:batch], target_parts, self.decomposer
        )
        self.log_dict(
            {
                "train/localizability": localizability.detach(),
                "train/composability": composability.detach(),
                "train/decomposability": decomposability.detach(),
                "train/level": float(self.layout.schedule.level_at(step)),
            },
            batch_size=batch,
        )
        loss = (
            options.localizability_weight * localizability
            + options.composability_weight * composability
            + options.decomposability_weight * decomposability
        )
        return loss, student_wholes[:batch]

    def update_teacher(self) -> None:
        momentum = cosine_momentum(
            self.global_step, self.config.optim.max_steps, base=resolved(self.config.eden.momentum)
        )
        ema_update_(self.teacher_encoder, self.encoder, momentum)
        ema_update_(self.teacher_head, self.head, momentum)
