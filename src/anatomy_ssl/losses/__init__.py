"""Plain-torch losses: contrastive (NT-Xent, MoCo InfoNCE with a feature queue), DINO
self-distillation and masked reconstruction, with negatives gathered across ranks."""

from __future__ import annotations

from anatomy_ssl.losses.cross_rank_gather import (
    gather_with_grad,
    gather_without_grad,
    rank_and_world,
)
from anatomy_ssl.losses.dino_loss import DINOLoss
from anatomy_ssl.losses.feature_queue import FeatureQueue
from anatomy_ssl.losses.masked_reconstruction_loss import masked_reconstruction_loss
from anatomy_ssl.losses.moco_loss import MoCoLoss
from anatomy_ssl.losses.ntxent_loss import NTXentLoss

__all__ = [
    "DINOLoss",
    "FeatureQueue",
    "MoCoLoss",
    "NTXentLoss",
    "gather_with_grad",
    "gather_without_grad",
    "masked_reconstruction_loss",
    "rank_and_world",
]
