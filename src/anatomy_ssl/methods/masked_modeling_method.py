"""Masked volume modeling, SimMIM-style (Xie et al., CVPR 2022; after MAE, He et al. 2022):
zero random blocks of the input, reconstruct their voxels with a light U-Net decoder."""

from __future__ import annotations

import torch

from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.data import ViewGroup
from anatomy_ssl.losses import masked_reconstruction_loss
from anatomy_ssl.methods.pretraining_method import PretrainingMethod
from anatomy_ssl.models import Encoder, UNetDecoder
from anatomy_ssl.transforms import random_block_mask


class MaskedModelingMethod(PretrainingMethod):
    """Blocks of `block_vox` voxels are zeroed with probability `mask_ratio` (exact count per
    sample); the loss is the reconstruction error on masked voxels only. Zeroing rather than
    dropping tokens works for every encoder (CNN, Swin, ViT) with one code path."""

    def __init__(self, encoder: Encoder, config: PretrainConfig) -> None:
        super().__init__(encoder, config)
        self.decoder = UNetDecoder(
            encoder.out_channels,
            encoder.strides,
            out_channels=encoder.in_channels,
            spatial_dims=encoder.spatial_dims,
        )

    def view_groups(self) -> list[ViewGroup]:
        return [ViewGroup(count=1, size_vox=self.crop_size_vox)]

    def compute_loss(
        self, views: list[torch.Tensor], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        image = views[0]  # (B, C, *S)
        options = self.config.mae
        mask = random_block_mask(
            image.shape[0],
            tuple(image.shape[2:]),
            options.block_vox,
            options.mask_ratio,
            self.step_generator(step),
        ).to(image.device)  # (B, 1, *S) bool
        masked = image * (~mask).to(image.dtype)
        features = self.encoder.forward_features(masked)
        reconstruction = self.decoder(features, tuple(image.shape[2:]))  # (B, C, *S)
        loss = masked_reconstruction_loss(reconstruction, image, mask, norm=options.loss)
        pooled = features[-1].flatten(2).mean(dim=2)  # (B, D)
        return loss, pooled
