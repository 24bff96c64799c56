"""Eden v1 (Adam-v1): MoCo v2 on anatomical parts, coarse to fine, with the purposive pruner.

Hosseinzadeh Taher, Gotway, Liang, "Towards Foundation Models Learned from Anatomy in Medical
Imaging via Self-Supervision" (MICCAI DART 2023, arXiv:2309.15358). The anatomy decomposer
gives both views of a sample from the same part of the body, at a granularity level that goes
from the whole body to ever smaller parts over the run (locality: structures become distinct
at every scale); the purposive pruner drops queued negatives that look like the query, which
are most likely the same anatomy in another subject.
"""

from __future__ import annotations

import torch

from anatomy_ssl.configs.pretrain_schema import MoCoConfig, PretrainConfig
from anatomy_ssl.data import PartViewLayout, ViewGroup
from anatomy_ssl.losses import MoCoLoss
from anatomy_ssl.methods.decomposer_layout import decomposer_layout
from anatomy_ssl.methods.moco_method import MoCoMethod
from anatomy_ssl.models import Encoder


class EdenV1Method(MoCoMethod):
    """MoCo v2 (symmetrized, momentum key encoder, queue) whose two views are two augmentations
    of one decomposer part; `train/pruned_fraction` logs the share of pruned negatives."""

    def __init__(self, encoder: Encoder, config: PretrainConfig) -> None:
        super().__init__(encoder, config)
        options = config.eden_v1
        self.loss = MoCoLoss(options.temperature, prune_threshold=options.prune_threshold)
        self.layout = decomposer_layout(config, encoder, views=2)

    @staticmethod
    def moco_options(config: PretrainConfig) -> MoCoConfig:
        return config.eden_v1

    def compute_loss(
        self, views: list[torch.Tensor], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.log(
            "train/level", float(self.layout.schedule.level_at(step)), batch_size=len(views[0])
        )
        return super().compute_loss(views, step)

    def view_groups(self) -> list[ViewGroup]:
        # MoCo's random-crop groups would be the same shapes; the layout's are the truth
        return self.layout.view_groups()

    def part_view_layout(self) -> PartViewLayout:
        return self.layout
