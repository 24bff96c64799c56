"""Checkpoints every N optimizer steps and at the end: `step-<k>.ckpt` plus `last.ckpt`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

LAST_CHECKPOINT = "last.ckpt"
#: Checkpoint key of the training loss at the checkpoint's step (NaN before any was logged).
TRAIN_LOSS_KEY = "train_loss"


@dataclass(frozen=True)
class CheckpointProgress:
    """How far the run a checkpoint belongs to had come.

    Attributes:
        step: optimizer steps taken.
        loss: training loss of the last of them (NaN when unknown, as in checkpoints written
            before the loss was recorded).
    """

    step: int
    loss: float


class StepCheckpoint(Callback):
    """Writes `<folder>/step-<k:08d>.ckpt` (atomically, through the trainer's CheckpointIO)
    every `every_steps` optimizer steps and when training ends, then points `last.ckpt` at it
    with an atomic hard-link swap; keeps the `keep` newest numbered files. Each checkpoint
    records the training loss of its step under `TRAIN_LOSS_KEY`.

    The checkpoint is taken in `on_train_batch_end`, after the optimizer step and the teacher
    update of that step, so a resume continues from exactly that state.
    """

    def __init__(self, folder: Path, *, every_steps: int, keep: int = 2) -> None:
        self.folder = Path(folder)
        self.every_steps = every_steps
        self.keep = max(keep, 1)
        self._saved_step = -1

    def on_train_batch_end(self, trainer: L.Trainer, *args: object, **kwargs: object) -> None:
        step = trainer.global_step
        if self.every_steps > 0 and step > 0 and step % self.every_steps == 0:
            self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        loss = trainer.callback_metrics.get("train/loss")
        checkpoint[TRAIN_LOSS_KEY] = float("nan") if loss is None else float(loss)

    def _save(self, trainer: L.Trainer) -> None:
        step = trainer.global_step
        if step == self._saved_step:
            return
        numbered = self.folder / f"step-{step:08d}.ckpt"
        # Lightning's `weights_only` here chooses what is *saved*: False is the full training
        # state (optimizer, schedulers, callbacks) a resume needs. Left unset, Lightning logs
        # "`weights_only` was not set, defaulting to `False`" at every save, which reads like
        # an unsafe torch.load; loading always uses torch.load(weights_only=True).
        trainer.save_checkpoint(numbered, weights_only=False)
        self._saved_step = step
        if trainer.is_global_zero:
            point_last_at(numbered)
            for stale in sorted(self.folder.glob("step-*.ckpt"))[: -self.keep]:
                stale.unlink(missing_ok=True)
        trainer.strategy.barrier("step_checkpoint")


def point_last_at(numbered: Path) -> None:
    """Atomically make `last.ckpt` (beside `numbered`) the same file as `numbered`."""
    last = numbered.with_name(LAST_CHECKPOINT)
    staging = numbered.with_name(f".{LAST_CHECKPOINT}.{os.getpid()}.tmp")
    staging.unlink(missing_ok=True)
    try:
        os.link(numbered, staging)
    except OSError:  # filesystems without hard links: copy (still swapped in atomically)
        staging.write_bytes(numbered.read_bytes())
    staging.replace(last)


def read_progress(checkpoint: Path) -> CheckpointProgress | None:
    """The step and loss a checkpoint was written at, or None without one. Reads with
    torch.load(weights_only=True), memory-mapped (the weights are not read)."""
    if not checkpoint.is_file():
        return None
    state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    return CheckpointProgress(
        step=int(state["global_step"]), loss=float(state.get(TRAIN_LOSS_KEY, float("nan")))
    )
