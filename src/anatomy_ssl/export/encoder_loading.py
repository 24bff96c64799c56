"""`load_encoder(folder)`: rebuild an exported encoder from its card and safetensors weights."""

from __future__ import annotations

from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file

from anatomy_ssl.errors import ConfigError, InputError
from anatomy_ssl.export.encoder_card import CARD_FILE, WEIGHTS_FILE, read_card
from anatomy_ssl.models import Encoder, create_encoder, load_encoder_state


def load_encoder(folder: str | Path, *, device: str = "cpu") -> Encoder:
    """The encoder exported to `folder`, in eval mode.

    Weights come from `encoder.safetensors` (tensors only: nothing is unpickled); every key must
    match the architecture named in `card.json` exactly, or an error lists the differences.
    """
    folder = Path(folder)
    card = read_card(folder)
    try:
        encoder = create_encoder(**card["encoder"])
    except ConfigError as error:  # arguments the architecture does not take
        raise InputError(folder / CARD_FILE, f"encoder section: {error}") from None
    weights_path = folder / WEIGHTS_FILE
    if not weights_path.is_file():
        raise InputError(weights_path, "encoder weights missing")
    try:
        state = load_file(str(weights_path), device=device)
    except (SafetensorError, OSError) as error:
        raise InputError(weights_path, f"cannot read weights: {error}") from error
    try:
        load_encoder_state(encoder, state)
    except ValueError as error:
        raise InputError(weights_path, str(error)) from error
    return encoder.to(device).eval()
