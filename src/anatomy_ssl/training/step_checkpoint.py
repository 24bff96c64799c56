"""Checkpoints every N optimizer steps and at the end: `step-<k>.ckpt` plus `last.ckpt`."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

LAST_CHECKPOINT = "last.ckpt"


class StepCheckpoint(Callback):
    """Writes `<folder>/step-<k:08d>.ckpt` (atomically, through the trainer's CheckpointIO)
    every `every_steps` optimizer steps and when training ends, then points `last.ckpt` at it
    with an atomic hard-link swap; keeps the `keep` newest numbered files.

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

    def _save(self, trainer: L.Trainer) -> None:
        step = trainer.global_step
        if step == self._saved_step:
            return
        numbered = self.folder / f"step-{step:08d}.ckpt"
        trainer.save_checkpoint(numbered)
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
