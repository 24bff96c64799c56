"""SimCLR (Chen et al., ICML 2020): two augmented crops of one volume, NT-Xent loss."""

from __future__ import annotations

import torch

from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.data import ViewGroup
from anatomy_ssl.losses import NTXentLoss
from anatomy_ssl.methods.pretraining_method import PretrainingMethod
from anatomy_ssl.models import Encoder, ProjectionHead


class SimCLRMethod(PretrainingMethod):
    """Encoder -> pooled `(B, D)` -> MLP projection `(B, P)` -> NT-Xent between the two views,
    with negatives gathered across ranks."""

    def __init__(self, encoder: Encoder, config: PretrainConfig) -> None:
        super().__init__(encoder, config)
        options = config.simclr
        self.projection = ProjectionHead(
            encoder.embed_dim,
            hidden_dim=options.projection_hidden_dim,
            out_dim=options.projection_dim,
        )
        self.loss = NTXentLoss(temperature=options.temperature)

    def view_groups(self) -> list[ViewGroup]:
        return [ViewGroup(count=2, size_vox=self.crop_size_vox)]

    def compute_loss(
        self, views: list[torch.Tensor], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch = views[0].shape[0]
        pooled = self.encoder.forward_pooled(torch.cat(views[:2]))  # (2B, D): one pass, shared BN
        projected = self.projection(pooled)  # (2B, P)
        return self.loss(projected[:batch], projected[batch:]), pooled[:batch]
