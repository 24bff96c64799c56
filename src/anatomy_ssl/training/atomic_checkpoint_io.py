"""Checkpoint files that are never half-written and never unpickle code when read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """`torch.save` into a hidden sibling file, fsync, then rename over the target (atomic on
    POSIX), so a crash leaves either the previous checkpoint or the new one. Loading uses
    `torch.load(weights_only=True)`: tensors and plain containers only, no arbitrary objects."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with temporary.open("wb") as handle:
            torch.save(checkpoint, handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(target)

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        target = Path(path)
        if not target.is_file():
            raise FileNotFoundError(f"checkpoint not found: {target}")
        location = map_location if map_location is not None else "cpu"
        loaded: dict[str, Any] = torch.load(target, map_location=location, weights_only=True)
        return loaded
