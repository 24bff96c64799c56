"""The LightningModule every pretraining method derives from: encoder + heads + losses."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.optim.lr_scheduler import LambdaLR

from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.data import PartViewLayout, ViewGroup
from anatomy_ssl.methods.collapse_monitor import embedding_statistics
from anatomy_ssl.models import Encoder
from anatomy_ssl.models.learning_rate_schedule import warmup_cosine_factor

log = logging.getLogger(__name__)


class PretrainingMethod(L.LightningModule):
    """Base class: subclasses build their heads in `__init__` and implement `view_groups` and
    `compute_loss`; everything else (optimization, logging, collapse monitoring, teacher
    updates, step-seeded randomness) lives here.

    The exported encoder is `self.encoder`; modules only used for pretraining (heads, teacher,
    queues) are other attributes and are not exported.
    """

    #: Whether the pipeline may mirror views (`data.augmentation.flip_probability`). Methods
    #: whose targets say where anatomy lies (pixel correspondences, matched pairs across
    #: volumes) turn it off: a mirrored view makes the left and the right organ one target.
    flips_views: bool = True

    def __init__(self, encoder: Encoder, config: PretrainConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = config
        self.crop_size_vox = (config.data.crop_size_vox,) * encoder.spatial_dims

    def view_groups(self) -> list[ViewGroup]:
        """The views each sample needs, in the order `compute_loss` receives them (a part-based
        method's are those of its `part_view_layout`)."""
        layout = self.part_view_layout()
        if layout is None:
            raise NotImplementedError
        return layout.view_groups()

    def mined_pairs_folder(self) -> Path | None:
        """Methods trained on crop pairs mined across volumes (Alice) return the folder of the
        mined pairs (`anatomy-ssl mine`); the pipeline then cuts each sample's views around a
        matched pair of points."""
        return None

    def frame_folder(self) -> Path | None:
        """Methods trained on patches of an anatomical frame (DrasCLR) return the frame's folder
        (`anatomy-ssl frame`); the pipeline then draws (subject, location) patches and puts
        each one's location, subject and neighbours in the batch."""
        return None

    def part_view_layout(self) -> PartViewLayout | None:
        """Part-based methods (Eden) return the anatomical part views they need; the data
        pipeline then draws parts with the anatomy decomposer instead of random crops."""
        return None

    def compute_loss(
        self, views: list[torch.Tensor], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Views `(B, C, *size)` -> (scalar loss, `(B, D)` embeddings for the collapse monitor)."""
        raise NotImplementedError

    def batch_loss(
        self, views: list[torch.Tensor], batch: dict[str, Any], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss of a whole batch; methods that need more than the views (the geometry of
        the crops) override this instead of `compute_loss`."""
        return self.compute_loss(views, step)

    def update_teacher(self) -> None:
        """Called after every optimizer step (EMA teachers override it)."""

    def step_generator(self, step: int) -> torch.Generator:
        """A torch generator seeded by (seed, rank, step): in-step randomness (masks) replays
        exactly on resume without saving RNG state."""
        generator = torch.Generator(device="cpu")
        generator.manual_seed(hash((self.config.seed, self.global_rank, step)) & (2**63 - 1))
        return generator

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        views = [self._to_memory_format(view) for view in batch["views"]]
        step = int(batch["step"])
        loss, embeddings = self.batch_loss(views, batch, step)
        batch_size = views[0].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        self.log("train/lr", self.lr_schedulers().get_last_lr()[0], batch_size=batch_size)  # type: ignore[union-attr]
        every = self.config.trainer.collapse_check_every_steps
        if every > 0 and self.global_step % every == 0:
            self._check_collapse(embeddings, batch_size)
        return loss

    def _check_collapse(self, embeddings: torch.Tensor, batch_size: int) -> None:
        statistics = embedding_statistics(embeddings)
        self.log("collapse/normalized_std", statistics.normalized_std, batch_size=batch_size)
        self.log("collapse/effective_rank", statistics.effective_rank, batch_size=batch_size)
        # a random-init network's embeddings are often bunched; judge only after the warmup
        if statistics.collapsed and self.global_step >= self.config.optim.warmup_steps:
            log.warning(
                "step %d: embeddings look collapsed (normalized std %.3f, effective rank %.2f); "
                "try a lower learning rate, a larger batch or stronger augmentation",
                self.global_step,
                statistics.normalized_std,
                statistics.effective_rank,
            )

    def on_fit_start(self) -> None:
        # weights in the same layout as the inputs, or every convolution converts them per call
        if self._channels_last():
            self.to(memory_format=self._layout())

    def _channels_last(self) -> bool:
        mode = self.config.trainer.channels_last
        return mode == "on" or (mode == "auto" and self.device.type == "cuda")

    def _layout(self) -> torch.memory_format:
        return torch.channels_last_3d if self.encoder.spatial_dims == 3 else torch.channels_last

    def _to_memory_format(self, view: torch.Tensor) -> torch.Tensor:
        return view.contiguous(memory_format=self._layout()) if self._channels_last() else view

    def configure_optimizers(self) -> Any:
        optim = self.config.optim
        decay: list[torch.nn.Parameter] = []
        no_decay: list[torch.nn.Parameter] = []
        for name, parameter in self.named_parameters():
            if not parameter.requires_grad:
                continue
            # biases and normalization scales are not decayed (standard for SSL ViTs and CNNs)
            (no_decay if parameter.ndim <= 1 or name.endswith(".bias") else decay).append(parameter)
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": optim.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=optim.lr,
            foreach=True,  # one batched update (by default torch batches only on GPUs)
        )
        schedule = LambdaLR(
            optimizer,
            lambda step: warmup_cosine_factor(
                step,
                warmup_steps=optim.warmup_steps,
                max_steps=optim.max_steps,
                min_ratio=optim.min_lr_ratio,
            ),
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        # the teacher moves inside the optimizer step, so a checkpoint written at the end of the
        # step (on_train_batch_end) already holds the updated teacher
        super().optimizer_step(*args, **kwargs)
        self.update_teacher()
