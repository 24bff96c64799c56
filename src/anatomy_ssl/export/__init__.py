"""Exported encoders: `encoder.safetensors` + `card.json`, and loading them back."""

from anatomy_ssl.export.encoder_card import CARD_FILE, WEIGHTS_FILE, read_card
from anatomy_ssl.export.encoder_export import export_run, export_scratch
from anatomy_ssl.export.encoder_loading import load_encoder

__all__ = [
    "CARD_FILE",
    "WEIGHTS_FILE",
    "export_run",
    "export_scratch",
    "load_encoder",
    "read_card",
]
