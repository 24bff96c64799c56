"""Write an encoder as `encoder.safetensors` + `card.json` (a random-init one: `scratch`)."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import save_file

from anatomy_ssl.export.encoder_card import CARD_FILE, WEIGHTS_FILE, make_card
from anatomy_ssl.models import Encoder


def export_scratch(
    encoder: Encoder,
    out: str | Path,
    *,
    preprocess: dict[str, object] | None = None,
    preprocess_hash: str | None = None,
) -> Path:
    """Write a randomly initialized encoder: the `scratch` reference for evaluation."""
    return write_encoder(
        encoder,
        Path(out),
        preprocess=preprocess,
        preprocess_hash=preprocess_hash,
        method="scratch",
        run_config=None,
        source=None,
        step=None,
    )


def write_encoder(encoder: Encoder, out: Path, **card_fields: object) -> Path:
    """Write `encoder`'s weights (safetensors) and its card into `out`, each file atomically.

    `card_fields` are `make_card`'s arguments beyond the architecture (preprocess,
    preprocess_hash, method, run_config, source, step).
    """
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
        requires_location=encoder.requires_location,
        **card_fields,  # type: ignore[arg-type]
    )
    staging_card = out / f".{CARD_FILE}.tmp"
    staging_card.write_text(json.dumps(card, indent=2))
    staging_card.replace(out / CARD_FILE)
    return out
