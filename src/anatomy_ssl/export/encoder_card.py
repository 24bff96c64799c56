"""`card.json`: everything needed to rebuild, load and feed an exported encoder."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from anatomy_ssl import __version__
from anatomy_ssl.errors import InputError

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
    preprocess: dict[str, Any] | None,
    preprocess_hash: str | None,
    method: str,
    run_config: dict[str, Any] | None,
    source: str | None,
    step: int | None,
) -> dict[str, Any]:
    """The card of one exported encoder (plain JSON values)."""
    return {
        "format_version": CARD_FORMAT_VERSION,
        "encoder": encoder_config,
        "embed_dim": embed_dim,
        "out_channels": list(out_channels),
        "strides": list(strides),
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
    """Read and check `<folder>/card.json`."""
    path = folder / CARD_FILE
    if not path.is_file():
        raise InputError(path, "not an exported encoder (card.json missing)")
    try:
        card: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(path, f"not valid JSON: {error}") from error
    if card.get("format_version") != CARD_FORMAT_VERSION or "encoder" not in card:
        raise InputError(path, f"unsupported card format {card.get('format_version')!r}")
    return card
