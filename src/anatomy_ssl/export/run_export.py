"""Export a pretraining run's encoder (reads the run folder, so this module needs `training`)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from anatomy_ssl.errors import InputError
from anatomy_ssl.export.encoder_export import write_encoder
from anatomy_ssl.models import create_encoder
from anatomy_ssl.training.pretrain_run import CHECKPOINTS, load_run_config
from anatomy_ssl.training.pretraining_data import DATA_RECORD
from anatomy_ssl.training.step_checkpoint import LAST_CHECKPOINT

ENCODER_PREFIX = "encoder."


def export_run(
    run_dir: str | Path, out: str | Path, *, checkpoint: str | Path | None = None
) -> Path:
    """Write the pretrained encoder of a run to `out` (created).

    Args:
        run_dir: a pretraining run folder.
        out: export folder.
        checkpoint: a specific checkpoint (default `<run>/checkpoints/last.ckpt`).

    Returns:
        `out`.
    """
    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    checkpoint_path = Path(checkpoint) if checkpoint else run_dir / CHECKPOINTS / LAST_CHECKPOINT
    if not checkpoint_path.is_file():
        raise InputError(checkpoint_path, "no checkpoint to export (has the run finished a step?)")
    state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    weights = {
        key[len(ENCODER_PREFIX) :]: tensor
        for key, tensor in state["state_dict"].items()
        if key.startswith(ENCODER_PREFIX)
    }
    data = json.loads((run_dir / DATA_RECORD).read_text())
    encoder = create_encoder(
        config.encoder.name,
        spatial_dims=data["spatial_dims"],
        in_channels=data["in_channels"],
        **config.encoder.kwargs,
    )
    encoder.load_state_dict(weights, strict=True)
    return write_encoder(
        encoder,
        Path(out),
        preprocess=data["spec"],
        preprocess_hash=data["spec_hash"],
        method=config.method,
        run_config=config.to_dict(),
        source=str(run_dir.resolve()),
        step=int(state.get("global_step", 0)),
    )
