"""The LightningDataModule that feeds a method its views from the cache."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import lightning as L
from torch.utils.data import DataLoader

from anatomy_ssl.data import (
    AnatomyPartStream,
    FramePatchStream,
    FrameSampleTable,
    PairedViewStream,
    PairTable,
    PartViewLayout,
    PretrainingStream,
    ViewGroup,
    make_pretraining_loader,
)
from anatomy_ssl.training.pretrain_config import PretrainConfig
from anatomy_ssl.training.pretraining_data import PretrainingData


class PretrainingDataModule(L.LightningDataModule):
    """Builds the step-indexed view stream when training starts (after a checkpoint restore),
    so the stream starts at the restored batch: resumed runs see exactly the batches an
    uninterrupted run would have seen next."""

    def __init__(
        self,
        data: PretrainingData,
        view_groups: list[ViewGroup],
        config: PretrainConfig,
        part_layout: PartViewLayout | None = None,
        pairs: PairTable | None = None,
        frame: FrameSampleTable | None = None,
        flips: bool = True,
    ) -> None:
        """`part_layout` (part-based methods) replaces the random crops of `view_groups` by
        views of anatomical parts; `pairs` (methods on mined pairs) by crops around the two
        points of a pair; `frame` (methods on an anatomical frame) by (subject, location)
        patches and their neighbours. `flips=False` never mirrors a view, whatever the config
        says."""
        super().__init__()
        self.data = data
        self.view_groups = view_groups
        self.config = config
        self.part_layout = part_layout
        self.pairs = pairs
        self.frame = frame
        self.flips = flips

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        assert trainer is not None, "the data module is used by a Trainer"
        batches_done = trainer.global_step * self.config.optim.accumulate_grad_batches
        common: dict[str, Any] = {
            "seed": self.config.seed,
            "augmentation": (
                self.config.data.augmentation
                if self.flips
                else replace(self.config.data.augmentation, flip_probability=0.0)
            ),
            "rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "start_step": batches_done,
        }
        stream: PretrainingStream
        if self.part_layout is not None:
            stream = AnatomyPartStream(
                self.data.entry_folders,
                self.part_layout,
                self.config.data.batch_size,
                **common,
            )
        elif self.frame is not None:
            stream = FramePatchStream(
                self.data.entry_folders,
                self.frame,
                self.view_groups[0],
                self.config.data.batch_size,
                **common,
            )
        elif self.pairs is not None:
            stream = PairedViewStream(
                self.data.entry_folders,
                self.pairs,
                self.view_groups[0],
                self.config.data.batch_size,
                **common,
            )
        else:
            stream = PretrainingStream(
                self.data.entry_folders,
                self.view_groups,
                self.config.data.batch_size,
                max_center_offset_fraction=self.config.data.max_center_offset_fraction,
                **common,
            )
        on_gpu = trainer.strategy.root_device.type == "cuda"
        return make_pretraining_loader(stream, self.config.data.workers, pin_memory=on_gpu)
