"""Export a run's encoder (or a random-init one) as `encoder.safetensors` + `card.json`."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from anatomy_ssl.errors import InputError
from anatomy_ssl.export.encoder_card import CARD_FILE, WEIGHTS_FILE, make_card
from anatomy_ssl.models import Encoder, create_encoder
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
    return _write(
        encoder,
        Path(out),
        preprocess=data["spec"],
        preprocess_hash=data["spec_hash"],
        method=config.method,
        run_config=config.to_dict(),
        source=str(run_dir.resolve()),
        step=int(state.get("global_step", 0)),
    )


def export_scratch(
    encoder: Encoder,
    out: str | Path,
    *,
    preprocess: dict[str, object] | None = None,
    preprocess_hash: str | None = None,
) -> Path:
    """Write a randomly initialized encoder: the `scratch` reference for evaluation."""
    return _write(
        encoder,
        Path(out),
        preprocess=preprocess,
        preprocess_hash=preprocess_hash,
        method="scratch",
        run_config=None,
        source=None,
        step=None,
    )


def _write(encoder: Encoder, out: Path, **card_fields: object) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    tensors = {key: value.detach().contiguous() for key, value in encoder.state_dict().items()}
    staging = out / f".{WEIGHTS_FILE}.tmp"
    save_file(tensors, str(staging), metadata={"format": "pt"})
    staging.replace(out / WEIGHTS_FILE)
    card = make_card(
        encoder_config=encoder.config,
        embed_dim=encoder.embed_dim,
        out_channels=encoder.out_channels,
        strides=encoder.strides,
        **card_fields,  # type: ignore[arg-type]
    )
    staging_card = out / f".{CARD_FILE}.tmp"
    staging_card.write_text(json.dumps(card, indent=2))
    staging_card.replace(out / CARD_FILE)
    return out
