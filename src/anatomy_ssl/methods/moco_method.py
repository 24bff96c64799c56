"""MoCo v2 (Chen et al. 2020, after He et al., CVPR 2020): a momentum key encoder and a queue of
negatives."""

from __future__ import annotations

import copy

import torch

from anatomy_ssl.configs.budget_defaults import resolved
from anatomy_ssl.configs.pretrain_schema import MoCoConfig, PretrainConfig
from anatomy_ssl.data import ViewGroup
from anatomy_ssl.losses import FeatureQueue, MoCoLoss
from anatomy_ssl.methods.pretraining_method import PretrainingMethod
from anatomy_ssl.models import Encoder, ProjectionHead
from anatomy_ssl.models.ema_update import ema_update_


class MoCoMethod(PretrainingMethod):
    """Query = encoder + MLP on one view; key = EMA copy on the other; InfoNCE against the key
    and a queue of past keys. The loss is symmetrized over the two views (each view is query
    once), which doubles the signal per step at small batch sizes; both keys are enqueued."""

    def __init__(self, encoder: Encoder, config: PretrainConfig) -> None:
        super().__init__(encoder, config)
        options = self.options = self.moco_options(config)
        self.projection = ProjectionHead(
            encoder.embed_dim,
            hidden_dim=options.projection_hidden_dim,
            out_dim=options.projection_dim,
        )
        self.key_encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.key_projection = copy.deepcopy(self.projection).requires_grad_(False)
        self.queue = FeatureQueue(resolved(options.queue_size), options.projection_dim)
        self.loss = MoCoLoss(temperature=options.temperature)

    @staticmethod
    def moco_options(config: PretrainConfig) -> MoCoConfig:
        """The config section with this method's MoCo settings."""
        return config.moco

    def view_groups(self) -> list[ViewGroup]:
        return [ViewGroup(count=2, size_vox=self.crop_size_vox)]

    def compute_loss(
        self, views: list[torch.Tensor], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch = views[0].shape[0]
        both = torch.cat(views[:2])  # (2B, C, *S)
        pooled = self.encoder.forward_pooled(both)  # (2B, D)
        queries = self.projection(pooled)  # (2B, P)
        with torch.no_grad():
            keys = self.key_projection(self.key_encoder.forward_pooled(both))  # (2B, P)
        negatives = self.queue.features.clone()  # (K, P): snapshot before enqueueing
        loss_a, pruned_a = self.loss.loss_and_pruned_fraction(
            queries[:batch], keys[batch:], negatives
        )
        loss_b, pruned_b = self.loss.loss_and_pruned_fraction(
            queries[batch:], keys[:batch], negatives
        )
        if self.loss.prune_threshold is not None:
            self.log("train/pruned_fraction", 0.5 * (pruned_a + pruned_b), batch_size=batch)
        loss = 0.5 * (loss_a + loss_b)
        self.queue.enqueue(keys)
        return loss, pooled[:batch]

    def update_teacher(self) -> None:
        momentum = resolved(self.options.momentum)
        ema_update_(self.key_encoder, self.encoder, momentum)
        ema_update_(self.key_projection, self.projection, momentum)
