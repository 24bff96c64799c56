"""Pretrain every method of a suite on one dataset under the same budget, and export each encoder.

Finished work is reused: an exported encoder whose card reports the full budget is kept; an
interrupted run is resumed from its last checkpoint; `scratch` is a seeded random init.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import torch

from anatomy_ssl.anatomy import build_frame
from anatomy_ssl.benchmarking.suite_config import SuiteConfig, SuiteDataset
from anatomy_ssl.correspondence import mine_cache
from anatomy_ssl.errors import InputError
from anatomy_ssl.export import export_run, export_scratch, read_card
from anatomy_ssl.models import create_encoder
from anatomy_ssl.preprocess import PreprocessSpec
from anatomy_ssl.training.pretrain_config import PretrainConfig, resolve_pretrain_config
from anatomy_ssl.training.pretrain_run import pretrain
from anatomy_ssl.training.pretraining_data import prepare_pretraining_data

SCRATCH = "scratch"

log = logging.getLogger(__name__)


def pretrained_encoder(
    method: str,
    dataset: SuiteDataset,
    data_path: Path,
    spec: PreprocessSpec,
    suite: SuiteConfig,
    out: Path,
    *,
    progress: bool = True,
) -> Path:
    """The exported encoder of `method` on `dataset`: `<out>/encoders/<dataset>/<method>`.

    Pretraining reads the dataset's "train" split only (the test subjects stay unseen), through
    a cache at `<out>/cache/<dataset>`; its run folder is `<out>/runs/<dataset>/<method>`.
    """
    encoder_dir = out / "encoders" / dataset.name / method
    budget = suite.pretraining
    if finished_export(encoder_dir, suite.base_method(method), budget.steps):
        return encoder_dir
    if method == SCRATCH:
        torch.manual_seed(suite.seed)
        encoder = create_encoder(
            budget.encoder,
            spatial_dims=spec.spatial_dims,
            in_channels=1,
            **budget.encoder_kwargs,
        )
        return export_scratch(
            encoder, encoder_dir, preprocess=spec.to_dict(), preprocess_hash=spec.hash
        )
    config = resolve_pretrain_config(
        {
            "method": suite.base_method(method),
            "seed": suite.seed,
            "data.source": str(data_path),
            "data.split": "train",
            "data.cache_dir": str(out / "cache" / dataset.name),
            "data.preprocess": spec.to_dict(),
            "data.batch_size": budget.batch_size,
            "data.crop_size_vox": budget.crop_size_vox,
            "data.workers": budget.workers,
            "encoder.name": budget.encoder,
            "encoder.kwargs": budget.encoder_kwargs,
            "optim.max_steps": budget.steps,
        },
        suite.method_overrides(method),
    )
    run_dir = out / "runs" / dataset.name / method
    if (
        config.method == "alice"
        and config.alice.pairs == "cross_volume"
        and (config.alice.mined_pairs is None)
    ):
        folder = _mined_pairs(config, dataset, data_path, spec, suite, out, run_dir, progress)
        config = dataclasses.replace(
            config, alice=dataclasses.replace(config.alice, mined_pairs=str(folder))
        )
    if config.method == "drasclr" and config.drasclr.frame is None:
        folder = _frame(config, dataset, suite, run_dir, progress)
        config = dataclasses.replace(
            config, drasclr=dataclasses.replace(config.drasclr, frame=str(folder))
        )
    log.info("pretraining %s on %s (%d steps)", method, dataset.name, budget.steps)
    pretrain(config, run_dir, resume=True, max_steps=budget.steps, progress=progress)
    return export_run(run_dir, encoder_dir)


def _mined_pairs(
    config: PretrainConfig,
    dataset: SuiteDataset,
    data_path: Path,
    spec: PreprocessSpec,
    suite: SuiteConfig,
    out: Path,
    run_dir: Path,
    progress: bool,
) -> Path:
    """Mine Alice's cross-volume pairs among the training subjects of `dataset` (resumable):
    with the suite's own `sam` encoder when the suite has `sam`, else by affine registration."""
    run_dir.mkdir(parents=True, exist_ok=True)
    data = prepare_pretraining_data(config.data, run_dir, seed=config.seed, progress=progress)
    matcher: str | Path = "registration"
    if "sam" in suite.methods:
        matcher = pretrained_encoder("sam", dataset, data_path, spec, suite, out, progress=progress)
    log.info("mining alice's pairs on %s with %s", dataset.name, matcher)
    report = mine_cache(
        Path(data.entry_folders[0]).parents[2],
        spec_hash=data.spec.hash,
        matcher_spec=matcher,
        split="train",
        workers=suite.workers,
        progress=progress,
    )
    log.info("%s", report)
    return Path(report.folder)


def _frame(
    config: PretrainConfig,
    dataset: SuiteDataset,
    suite: SuiteConfig,
    run_dir: Path,
    progress: bool,
) -> Path:
    """Frame the training subjects of `dataset` for DrasCLR (resumable): the dataset's frame
    settings, patches of the method's crop (a variant may change it)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    data = prepare_pretraining_data(config.data, run_dir, seed=config.seed, progress=progress)
    log.info("framing %s's training subjects for drasclr", dataset.name)
    report = build_frame(
        Path(data.entry_folders[0]).parents[2],
        spec_hash=data.spec.hash,
        split="train",
        workers=suite.workers,
        progress=progress,
        **{**suite.frame_settings(dataset), "patch_vox": config.data.crop_size_vox},
    )
    log.info("%s", report)
    return Path(report.folder)


def finished_export(encoder_dir: Path, method: str, steps: int) -> bool:
    """Whether `encoder_dir` holds `method`'s export at `steps` steps (scratch: any)."""
    try:
        card = read_card(encoder_dir)
    except InputError:
        return False
    return card.get("method") == method and (method == SCRATCH or card.get("step") == steps)
