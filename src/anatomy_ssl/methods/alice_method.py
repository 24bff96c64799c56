"""Alice (Jiang et al., "Anatomical Invariance Modeling and Semantic Alignment for
Self-supervised Learning in 3D Medical Image Analysis", ICCV 2023).

Each sample is two crops that show the same anatomy in two different volumes (view 0 from
volume A, view 1 from its partner B; mined ahead of training). The EMA teacher sees both crops
clean, the student sees them block-masked (masked voxels zeroed). Four terms, each logged:
- `cls`: DINO cross-entropy between the teacher's pooled output of one volume's crop and the
  student's of the other's, both ways: the invariance across subjects;
- `patch`: iBOT's distillation of the teacher's clean tokens into the student's masked tokens of
  the same crop (bottleneck cells more than half masked);
- `rec`: reconstruction of the masked voxels from the student's maps: MSE over the variance of
  those voxels, so 1 is what predicting their mean scores whatever the intensity range;
- `align` (CAFA): the student's bottleneck tokens of a masked crop cross-attend to its own
  decoder tokens; the teacher's tokens of the same crop, clean, cross-attend to the teacher's
  tokens of the partner crop through the teacher's (EMA) copy of the block. Both results go
  through the heads and the student's must match the teacher's as in the patch term (centred,
  sharpened teacher; cross-entropy over every token). A plain distance between the two block
  outputs collapses: the block learns to ignore its input and the term fell to 0.005 in 100
  steps whatever the encoder did (see docs/methods.md).
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from anatomy_ssl.configs.budget_defaults import resolved
from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.data import ViewGroup
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.losses import (
    DINOLoss,
    MaskedPatchDistillationLoss,
    masked_reconstruction_loss,
)
from anatomy_ssl.methods.pretraining_method import PretrainingMethod
from anatomy_ssl.models import (
    CrossAttentionAlignment,
    DINOHead,
    Encoder,
    UNetDecoder,
    feature_map_tokens,
)
from anatomy_ssl.models.ema_update import cosine_momentum, ema_update_
from anatomy_ssl.models.unet_decoder import DEFAULT_MAX_CHANNELS
from anatomy_ssl.transforms import random_block_mask


class AliceMethod(PretrainingMethod):
    """Cross-volume teacher-student distillation with masking, reconstruction and CAFA."""

    flips_views = False  # a mirrored crop would make left and right organs one target

    def __init__(self, encoder: Encoder, config: PretrainConfig) -> None:
        super().__init__(encoder, config)
        options = config.alice
        width = encoder.out_channels[-1]
        if len(encoder.strides) < 2:
            raise ValueError(
                "alice needs an encoder with a bottleneck below at least one finer map (its "
                f"decoder tokens); {encoder.config.get('name')} has strides {encoder.strides}"
            )
        if width % options.alignment_heads:
            raise ValueError(
                f"alice.alignment_heads={options.alignment_heads} must divide the bottleneck "
                f"width {width}"
            )
        if not 0.0 <= options.mask_ratio < 1.0:
            raise ValueError(f"alice.mask_ratio must be in [0, 1), got {options.mask_ratio}")
        out_dim = resolved(options.out_dim)
        self.head = DINOHead(
            width,
            out_dim=out_dim,
            hidden_dim=options.hidden_dim,
            bottleneck_dim=options.bottleneck_dim,
            batch_norm=options.head_batch_norm,
        )
        self.teacher_encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.teacher_head = copy.deepcopy(self.head).requires_grad_(False)
        temperatures = {
            "teacher_temperature": options.teacher_temperature,
            "student_temperature": options.student_temperature,
            "center_momentum": options.center_momentum,
        }
        self.cls_loss = DINOLoss(out_dim, **temperatures)
        self.patch_loss = MaskedPatchDistillationLoss(out_dim, **temperatures)
        self.alignment_loss = MaskedPatchDistillationLoss(out_dim, **temperatures)
        self.decoder = UNetDecoder(
            encoder.out_channels,
            encoder.strides,
            out_channels=encoder.in_channels,
            spatial_dims=encoder.spatial_dims,
        )
        decoder_width = min(encoder.out_channels[-2], DEFAULT_MAX_CHANNELS)  # its hidden map
        self.decoder_tokens = nn.Linear(decoder_width, width)
        self.alignment = CrossAttentionAlignment(width, heads=options.alignment_heads)
        self.teacher_alignment = copy.deepcopy(self.alignment).requires_grad_(False)

    def view_groups(self) -> list[ViewGroup]:
        return [ViewGroup(count=2, size_vox=self.crop_size_vox)]

    def mined_pairs_folder(self) -> Path | None:
        options = self.config.alice
        if options.pairs == "same_volume":
            return None  # the ablation: two overlapping crops of one volume
        if options.mined_pairs is None:
            raise ConfigError(
                "alice.pairs=cross_volume trains on pairs mined across volumes: run "
                "`anatomy-ssl mine --cache <cache>` and set alice.mined_pairs to the folder it "
                "prints (or alice.pairs=same_volume for the ablation without them)"
            )
        return Path(options.mined_pairs)

    def compute_loss(
        self, views: list[torch.Tensor], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        options = self.config.alice
        size = views[0].shape[0]
        clean = torch.cat(views[:2])  # (2B, C, *S): A crops, then their partners
        spatial = tuple(clean.shape[2:])
        masking = options.mask_ratio > 0
        if masking:
            mask = random_block_mask(
                2 * size, spatial, options.block_vox, options.mask_ratio, self.step_generator(step)
            ).to(clean.device)  # (2B, 1, *S) bool
            student_input = clean * (~mask).to(clean.dtype)
        else:
            mask, student_input = None, clean
        with torch.no_grad():
            teacher_maps = self.teacher_encoder.forward_features(clean)
            teacher_tokens = feature_map_tokens(teacher_maps[-1])  # (2B, N, D)
            teacher_pooled = self.teacher_head(teacher_tokens.mean(dim=1))  # (2B, K)
        maps = self.encoder.forward_features(student_input)
        tokens = feature_map_tokens(maps[-1])  # (2B, N, D)
        pooled = tokens.mean(dim=1)  # (2B, D)
        student_pooled = self.head(pooled).chunk(2)  # A, B: each (B, K)
        # pair (student of A, teacher of B) and (student of B, teacher of A): DINOLoss skips
        # the same-index pairs, which here are the same crop
        terms = {"cls": self.cls_loss(list(student_pooled), list(teacher_pooled.chunk(2)))}
        if masking and options.patch_weight > 0:
            assert mask is not None
            masked_tokens = self._masked_tokens(mask, maps[-1].shape[2:])  # (2B, N)
            student_out = self.head(tokens.flatten(0, 1)).reshape(*tokens.shape[:2], -1)
            with torch.no_grad():
                teacher_out = self.teacher_head(teacher_tokens.flatten(0, 1))
            teacher_out = teacher_out.reshape(*teacher_tokens.shape[:2], -1)
            terms["patch"] = self.patch_loss(student_out, teacher_out, masked_tokens)
        if (masking and options.reconstruction_weight > 0) or options.alignment_weight > 0:
            reconstruction, hidden = self.decoder.forward_with_hidden(maps, spatial)
            if masking and options.reconstruction_weight > 0:
                assert mask is not None
                terms["rec"] = masked_reconstruction_loss(
                    reconstruction, clean, mask
                ) / self._masked_variance(clean, mask)
            if options.alignment_weight > 0:
                context = self.decoder_tokens(feature_map_tokens(hidden))  # (2B, M, D)
                aligned = self.alignment(tokens, context)  # (2B, N, D)
                with torch.no_grad():
                    partner = torch.cat(teacher_tokens.chunk(2)[::-1])  # B's tokens for A, ...
                    target = self.teacher_alignment(teacher_tokens, partner)
                    target_out = self.teacher_head(target.flatten(0, 1))
                aligned_out = self.head(aligned.flatten(0, 1))
                every_token = torch.ones(aligned.shape[:2], dtype=torch.bool, device=clean.device)
                terms["align"] = self.alignment_loss(
                    aligned_out.reshape(*aligned.shape[:2], -1),
                    target_out.reshape(*target.shape[:2], -1),
                    every_token,
                )
        weights = {
            "cls": 1.0,
            "patch": options.patch_weight,
            "rec": options.reconstruction_weight,
            "align": options.alignment_weight,
        }
        for name, value in terms.items():
            self.log(f"train/{name}_loss", value.detach(), batch_size=size)
        loss = sum((weights[name] * value for name, value in terms.items()), clean.new_zeros(()))
        return loss, pooled[:size].detach()

    @staticmethod
    def _masked_variance(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Variance of the `(B, C, *S)` image over the `(B, 1, *S)` masked voxels (no
        gradient; at least 1e-6, so a flat crop does not divide by zero)."""
        values = image.detach()[mask.expand_as(image)]
        return values.var(unbiased=False).clamp_min(1e-6)

    @staticmethod
    def _masked_tokens(mask: torch.Tensor, token_grid: torch.Size) -> torch.Tensor:
        """`(B, 1, *S)` voxel mask -> `(B, N)` bool: bottleneck cells more than half masked."""
        share = F.interpolate(mask.float(), size=tuple(token_grid), mode="area")  # (B, 1, *G)
        return (share > 0.5).flatten(1)

    def update_teacher(self) -> None:
        momentum = cosine_momentum(
            self.global_step,
            self.config.optim.max_steps,
            base=resolved(self.config.alice.momentum),
        )
        ema_update_(self.teacher_encoder, self.encoder, momentum)
        ema_update_(self.teacher_head, self.head, momentum)
        ema_update_(self.teacher_alignment, self.alignment, momentum)
