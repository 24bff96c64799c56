"""Progress bar and throughput logging: samples/s, ETA and the fraction of time spent waiting
for data."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from tqdm import tqdm


class StepProgress(Callback):
    """A tqdm bar over optimizer steps (resumes at the restored step) showing loss, samples/s
    and data wait; logs `perf/samples_per_s` and `perf/data_wait_fraction`.

    Data wait is the time between the end of one training batch and the start of the next (the
    loader's `next()`); step time is from the start of one batch to the start of the next.
    """

    def __init__(
        self, *, samples_per_batch: int, enabled: bool = True, warmup_batches: int = 5
    ) -> None:
        self.samples_per_batch = samples_per_batch
        self.warmup_batches = warmup_batches
        self.enabled = enabled
        self._bar: tqdm[Any] | None = None
        self._batch_end = 0.0
        self._batch_start = 0.0
        self._waits: list[float] = []
        self._steps: list[float] = []

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self._bar = tqdm(
                total=trainer.max_steps,
                initial=trainer.global_step,
                desc="pretrain",
                unit="step",
                disable=not self.enabled,
                dynamic_ncols=True,
            )
        self._batch_end = time.perf_counter()
        self._batch_start = 0.0

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        now = time.perf_counter()
        if self._batch_start > 0:
            self._waits.append(now - self._batch_end)
            self._steps.append(now - self._batch_start)
        self._batch_start = now

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._batch_end = time.perf_counter()
        window = 20
        if len(self._steps) >= 2:
            step_time = sum(self._steps[-window:])
            wait = sum(self._waits[-window:]) / step_time
            rate = self.samples_per_batch * len(self._steps[-window:]) / step_time
            pl_module.log("perf/samples_per_s", rate)
            pl_module.log("perf/data_wait_fraction", wait)
        if self._bar is not None and not self._bar.disable:  # float(loss) syncs a GPU
            self._bar.n = trainer.global_step
            postfix = {}
            loss = trainer.callback_metrics.get("train/loss")
            if loss is not None:
                postfix["loss"] = f"{float(loss):.4f}"
            if len(self._steps) >= 2:
                postfix["samples/s"] = f"{rate:.1f}"
                postfix["data_wait"] = f"{wait:.0%}"
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.refresh()

    def summary(self) -> dict[str, float]:
        """Steady-state samples/s and data-wait fraction: the mean over the batches after the
        first `warmup_batches` (all of them when the run is shorter)."""
        steps, waits = self._steps, self._waits
        if len(steps) > self.warmup_batches:
            steps, waits = steps[self.warmup_batches :], waits[self.warmup_batches :]
        if not steps:
            return {}
        total = sum(steps)
        return {
            "samples_per_s": self.samples_per_batch * len(steps) / total,
            "data_wait_fraction": sum(waits) / total,
        }

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
