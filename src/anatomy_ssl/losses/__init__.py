"""Plain-torch losses: contrastive (NT-Xent, MoCo InfoNCE with a feature queue and the purposive
pruner), SAM's pixel-level InfoNCE, DINO self-distillation, masked reconstruction and part-whole
composition, DrasCLR's location-matched InfoNCE with a tagged queue, with negatives gathered
across ranks."""

from __future__ import annotations

from anatomy_ssl.losses.cross_rank_gather import (
    gather_with_grad,
    gather_without_grad,
    rank_and_world,
)
from anatomy_ssl.losses.dino_loss import DINOLoss
from anatomy_ssl.losses.embedding_center import EmbeddingCenter
from anatomy_ssl.losses.feature_queue import FeatureQueue
from anatomy_ssl.losses.location_matched_infonce import (
    LocationMatchedInfoNCE,
    location_matched_negative_mask,
    neighbour_query,
)
from anatomy_ssl.losses.masked_patch_distillation_loss import MaskedPatchDistillationLoss
from anatomy_ssl.losses.masked_reconstruction_loss import masked_reconstruction_loss
from anatomy_ssl.losses.moco_loss import MoCoLoss
from anatomy_ssl.losses.ntxent_loss import NTXentLoss
from anatomy_ssl.losses.part_whole_losses import (
    composability_loss,
    cosine_distance,
    decomposability_loss,
)
from anatomy_ssl.losses.pixel_infonce_loss import correspondence_negative_mask, pixel_infonce_loss
from anatomy_ssl.losses.purposive_pruner import prune_lookalike_negatives
from anatomy_ssl.losses.tagged_feature_queue import TaggedFeatureQueue

__all__ = [
    "DINOLoss",
    "EmbeddingCenter",
    "FeatureQueue",
    "LocationMatchedInfoNCE",
    "MaskedPatchDistillationLoss",
    "MoCoLoss",
    "NTXentLoss",
    "TaggedFeatureQueue",
    "composability_loss",
    "correspondence_negative_mask",
    "cosine_distance",
    "decomposability_loss",
    "gather_with_grad",
    "gather_without_grad",
    "location_matched_negative_mask",
    "masked_reconstruction_loss",
    "neighbour_query",
    "pixel_infonce_loss",
    "prune_lookalike_negatives",
    "rank_and_world",
]
