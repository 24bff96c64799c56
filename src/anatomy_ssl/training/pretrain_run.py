"""Assemble and run one pretraining job: data, encoder, method, Lightning Trainer, run folder.

Run folder layout::

    <run>/config.yaml         resolved config (every default spelled out)
    <run>/data.json           the cache entries and PreprocessSpec used
    <run>/checkpoints/        step-<k>.ckpt (newest few) and last.ckpt
    <run>/logs/tensorboard/   TensorBoard events
    <run>/logs/csv/           metrics.csv: one row per logged step, the whole run (a resumed
                              run appends, replacing the rows of the steps it trains again)
    <run>/summary.json        steps, wall time, samples/s, data-wait fraction, final loss
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.loggers import TensorBoardLogger

from anatomy_ssl.configs import config_from_dict
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.methods import create_method
from anatomy_ssl.models import create_encoder
from anatomy_ssl.training.atomic_checkpoint_io import AtomicCheckpointIO
from anatomy_ssl.training.augmentation_calibration import with_calibrated_augmentation
from anatomy_ssl.training.lightning_console_logging import print_lightning_logs_once
from anatomy_ssl.training.metrics_csv_logger import MetricsCsvLogger
from anatomy_ssl.training.pretrain_config import PretrainConfig, save_pretrain_config
from anatomy_ssl.training.pretraining_data import (
    frame_sample_table,
    mined_pair_table,
    prepare_pretraining_data,
)
from anatomy_ssl.training.pretraining_data_module import PretrainingDataModule
from anatomy_ssl.training.step_checkpoint import LAST_CHECKPOINT, StepCheckpoint, read_progress
from anatomy_ssl.training.step_progress import StepProgress

CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
CHECKPOINTS = "checkpoints"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PretrainResult:
    """What a finished run produced.

    Attributes:
        run_dir: the run folder.
        checkpoint: its last checkpoint.
        summary: the run's summary (as in summary.json).
        trained_steps: optimizer steps taken by this call (0 when resuming a finished run).
    """

    run_dir: Path
    checkpoint: Path
    summary: dict[str, Any]
    trained_steps: int


def load_run_config(run_dir: Path) -> PretrainConfig:
    """The resolved config saved in a run folder."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{run_dir}: not a pretraining run (no {CONFIG_FILE})")
    return config_from_dict(PretrainConfig, yaml.safe_load(path.read_text()), source=str(path))


def pretrain(
    config: PretrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    max_steps: int | None = None,
    progress: bool = True,
) -> PretrainResult:
    """Pretrain `config.method` and write the run folder.

    Args:
        config: the resolved configuration (ignored when resuming: the run's saved one is used).
        run_dir: the run folder.
        resume: continue from `<run>/checkpoints/last.ckpt` (weights, optimizer, scheduler,
            teacher, queues and data position), or start fresh if there is none yet.
        max_steps: with `resume`, a new total number of optimizer steps (extend a finished run);
            the step-dependent schedules (learning rate, teacher momentum, Eden's stages) are
            recomputed for the new total from the checkpoint's step on. None keeps the saved one.
        progress: show progress bars.

    Raises:
        ConfigError: the folder already holds a run and `resume` is False; `max_steps` is
            below the step the run has already reached.
    """
    run_dir = Path(run_dir)
    last = run_dir / CHECKPOINTS / LAST_CHECKPOINT
    reached = read_progress(last)
    start_step = reached.step if reached is not None else None
    if resume and (run_dir / CONFIG_FILE).is_file():
        config = _extended(load_run_config(run_dir), max_steps, run_dir, start_step or 0)
    elif start_step is not None and not resume:
        raise ConfigError(
            f"{run_dir} already holds a run with checkpoints; pass --resume to continue it or "
            "choose another --out"
        )
    if reached is not None and reached.step >= config.optim.max_steps:
        log.info(
            "%s: already at step %d of %d; nothing to train",
            run_dir,
            reached.step,
            config.optim.max_steps,
        )
        kept = {
            "method": config.method,
            "encoder": config.encoder.name,
            "wall_s": 0.0,
            **_read_summary(run_dir),
            "steps": reached.step,
        }
        if not math.isfinite(kept.get("final_loss", math.nan)):
            # no summary.json (killed after the last checkpoint) or an earlier version's NaN
            kept["final_loss"] = reached.loss
        return PretrainResult(run_dir=run_dir, checkpoint=last, summary=kept, trained_steps=0)
    run_dir.mkdir(parents=True, exist_ok=True)
    data = prepare_pretraining_data(config.data, run_dir, seed=config.seed, progress=progress)
    config = with_calibrated_augmentation(config, data)
    save_pretrain_config(config, run_dir / CONFIG_FILE)

    L.seed_everything(config.seed, workers=False, verbose=False)
    encoder = create_encoder(
        config.encoder.name,
        spatial_dims=data.spatial_dims,
        in_channels=data.in_channels,
        **config.encoder.kwargs,
    )
    method = create_method(encoder, config)
    pairs_folder = method.mined_pairs_folder()  # before any work: a missing folder is an error
    pairs = None if pairs_folder is None else mined_pair_table(pairs_folder, data)
    frame_folder = method.frame_folder()
    frame = None
    if frame_folder is not None:
        frame = frame_sample_table(
            frame_folder,
            data,
            neighbours=config.drasclr.neighbours,
            crop_size_vox=config.data.crop_size_vox,
        )
    trainer_config = config.trainer
    gpu = trainer_config.accelerator in ("gpu", "cuda") or (
        trainer_config.accelerator == "auto" and torch.cuda.is_available()
    )
    precision = trainer_config.precision
    if precision == "auto":
        precision = "bf16-mixed" if gpu else "32-true"
    print_lightning_logs_once()
    # batch callbacks fire per micro-batch, so a batch is data.batch_size samples (per rank)
    steps_progress = StepProgress(samples_per_batch=config.data.batch_size, enabled=progress)
    trainer = L.Trainer(
        accelerator=trainer_config.accelerator,
        devices=trainer_config.devices,
        num_nodes=trainer_config.num_nodes,
        strategy=trainer_config.strategy,
        precision=precision,  # type: ignore[arg-type]
        sync_batchnorm=trainer_config.sync_batchnorm,
        max_steps=config.optim.max_steps,
        accumulate_grad_batches=config.optim.accumulate_grad_batches,
        gradient_clip_val=config.optim.gradient_clip_norm,
        log_every_n_steps=trainer_config.log_every_steps,
        logger=[
            TensorBoardLogger(run_dir / "logs", name="tensorboard", version=""),
            MetricsCsvLogger(run_dir / "logs" / "csv", start_step=start_step or 0),
        ],
        callbacks=[
            StepCheckpoint(
                run_dir / CHECKPOINTS,
                every_steps=trainer_config.checkpoint_every_steps,
                keep=trainer_config.keep_checkpoints,
            ),
            steps_progress,
        ],
        plugins=[AtomicCheckpointIO()],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        default_root_dir=run_dir,
    )
    datamodule = PretrainingDataModule(
        data,
        method.view_groups(),
        config,
        part_layout=method.part_view_layout(),
        pairs=pairs,
        frame=frame,
        flips=method.flips_views,
    )
    started = time.perf_counter()
    with warnings.catch_warnings(), _cpu_threads_beside_loaders(gpu, config.data.workers):
        # an infinite step-indexed stream has no length; Lightning's hint about it is expected
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*IterableDataset.*has `__len__`.*")
        # raised inside Lightning's own pytree helper with recent torch; nothing to act on
        warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated.*")
        trainer.fit(
            method,
            datamodule=datamodule,
            ckpt_path=last if last.is_file() else None,
            weights_only=True,
        )
    summary: dict[str, Any] = {
        "method": config.method,
        "encoder": config.encoder.name,
        "steps": trainer.global_step,
        "wall_s": time.perf_counter() - started,
        "final_loss": float(trainer.callback_metrics.get("train/loss", float("nan"))),
        **steps_progress.summary(),
    }
    if start_step is not None:
        summary["resumed_from_step"] = start_step
        summary["wall_s"] += float(_read_summary(run_dir).get("wall_s", 0.0))
    if trainer.is_global_zero:
        (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return PretrainResult(
        run_dir=run_dir,
        checkpoint=last,
        summary=summary,
        trained_steps=trainer.global_step - (start_step or 0),
    )


def _extended(
    config: PretrainConfig, max_steps: int | None, run_dir: Path, reached: int
) -> PretrainConfig:
    """The saved config with `optim.max_steps` set to `max_steps` (None: unchanged), for a run
    whose checkpoint is at step `reached`."""
    if max_steps is None or max_steps == config.optim.max_steps:
        return config
    if max_steps < reached:
        raise ConfigError(
            f"{run_dir}: the run is already at step {reached}; --steps {max_steps} would shorten "
            f"it (use a value >= {reached}, or a new --out)"
        )
    log.warning(
        "%s: total steps %d -> %d; the learning-rate and momentum schedules continue from step %d "
        "as if the run had been planned for %d steps",
        run_dir,
        config.optim.max_steps,
        max_steps,
        reached,
        max_steps,
    )
    return dataclasses.replace(config, optim=dataclasses.replace(config.optim, max_steps=max_steps))


def _read_summary(run_dir: Path) -> dict[str, Any]:
    """The run's summary.json, or {} when there is none (or it is unreadable)."""
    try:
        loaded = json.loads((run_dir / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


@contextmanager
def _cpu_threads_beside_loaders(gpu: bool, workers: int) -> Iterator[None]:
    """On CPU, leave one core per data-loading process: torch's default of one thread per core
    next to busy loader processes oversubscribes the machine (steps up to 3x slower were
    measured on a busy 2-core machine). The previous setting is restored afterwards."""
    before = torch.get_num_threads()
    wanted = max(1, (os.cpu_count() or 1) - workers)
    if gpu or wanted >= before:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)
