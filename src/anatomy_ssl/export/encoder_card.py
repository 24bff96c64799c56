"""`card.json`: everything needed to rebuild, load and feed an exported encoder."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from anatomy_ssl import __version__
from anatomy_ssl.errors import ConfigError, InputError
from anatomy_ssl.models import list_encoders
from anatomy_ssl.preprocess import PreprocessSpec

CARD_FILE = "card.json"
WEIGHTS_FILE = "encoder.safetensors"
CARD_FORMAT_VERSION = 1


def git_revision() -> str | None:
    """The source tree's git commit, or None outside a git checkout."""
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None if completed.returncode == 0 else None


def make_card(
    *,
    encoder_config: dict[str, Any],
    embed_dim: int,
    out_channels: tuple[int, ...],
    strides: tuple[int, ...],
    requires_location: bool,
    preprocess: dict[str, Any] | None,
    preprocess_hash: str | None,
    method: str,
    run_config: dict[str, Any] | None,
    source: str | None,
    step: int | None,
) -> dict[str, Any]:
    """The card of one exported encoder (plain JSON values). `requires_location`: the encoder
    takes `(x, location)`, each patch's normalized location in an anatomical frame (DrasCLR),
    so it embeds through a frame (`embed --frame`), not whole volumes."""
    return {
        "format_version": CARD_FORMAT_VERSION,
        "encoder": encoder_config,
        "embed_dim": embed_dim,
        "out_channels": list(out_channels),
        "strides": list(strides),
        "requires_location": requires_location,
        "preprocess": preprocess,
        "preprocess_hash": preprocess_hash,
        "method": method,
        "config": run_config,
        "source_run": source,
        "step": step,
        "anatomy_ssl_version": __version__,
        "git_revision": git_revision(),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def read_card(folder: Path) -> dict[str, Any]:
    """Read and check `<folder>/card.json`, so a bad card fails here rather than mid-run.

    Raises:
        InputError: naming the card: missing or not JSON, an unsupported format, an encoder
            section without a registered architecture `name`, or a `preprocess` section that
            is not a valid PreprocessSpec (unknown keys, bad values; None is allowed).
    """
    path = folder / CARD_FILE
    if not path.is_file():
        raise InputError(path, "not an exported encoder (card.json missing)")
    try:
        card = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(path, f"not valid JSON: {error}") from error
    if not isinstance(card, dict):
        raise InputError(path, f"a card must be a JSON object, got {type(card).__name__}")
    if card.get("format_version") != CARD_FORMAT_VERSION or "encoder" not in card:
        raise InputError(path, f"unsupported card format {card.get('format_version')!r}")
    _check_encoder_section(card["encoder"], path)
    if card.get("preprocess") is not None:
        _check_preprocess_section(card["preprocess"], path)
    return card


def _check_encoder_section(encoder: Any, path: Path) -> None:
    """Refuse an `encoder` section that does not name a registered architecture."""
    if not isinstance(encoder, dict):
        raise InputError(path, f"encoder section must be a JSON object, got {encoder!r}")
    name = encoder.get("name")
    if name not in list_encoders():
        raise InputError(
            path,
            f"unknown architecture {name!r} in encoder.name; known: {', '.join(list_encoders())}",
        )


def _check_preprocess_section(preprocess: Any, path: Path) -> None:
    """Refuse a `preprocess` section that is not a valid PreprocessSpec."""
    if not isinstance(preprocess, dict):
        raise InputError(path, f"preprocess section must be a JSON object, got {preprocess!r}")
    try:
        PreprocessSpec.from_dict(preprocess, source="preprocess section")
    except ConfigError as error:  # unknown keys, out-of-range values
        raise InputError(path, str(error)) from None
    except (TypeError, ValueError) as error:  # values of the wrong type, e.g. a word for a number
        raise InputError(path, f"preprocess section: {error}") from None
