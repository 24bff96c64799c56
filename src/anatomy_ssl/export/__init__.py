"""Exported encoders: `encoder.safetensors` + `card.json`, and loading them back.

`export_run` reads a pretraining run and so pulls in `training` (and Lightning); it is imported
on first use, so `load_encoder` and the cards stay light for evaluation and inference.
"""

from __future__ import annotations

from typing import Any

from anatomy_ssl.export.encoder_card import CARD_FILE, WEIGHTS_FILE, read_card
from anatomy_ssl.export.encoder_export import export_scratch, write_encoder
from anatomy_ssl.export.encoder_loading import load_encoder

__all__ = [
    "CARD_FILE",
    "WEIGHTS_FILE",
    "export_run",
    "export_scratch",
    "load_encoder",
    "read_card",
    "write_encoder",
]


def __getattr__(name: str) -> Any:
    if name == "export_run":
        from anatomy_ssl.export.run_export import export_run

        return export_run
    raise AttributeError(f"module 'anatomy_ssl.export' has no attribute {name!r}")
