"""One cache entry on disk: `image.npy` (+ `label.npy`) and a `meta.json` sidecar.

An entry folder is written under a staging folder and renamed into place in one step, so a folder
under `entries/` is always complete: a run killed midway leaves only staging debris, which the next
run removes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import uuid
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_FILE = "image.npy"
LABEL_FILE = "label.npy"
META_FILE = "meta.json"
ENTRY_FORMAT_VERSION = 1


def _write_bytes_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _save_npy_durably(path: Path, array: np.ndarray) -> None:
    with path.open("wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())


def write_json_atomically(path: Path, payload: Any) -> None:
    """Write JSON to `path` through a temporary sibling and `os.replace` (never half-written)."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    _write_bytes_durably(temporary, json.dumps(payload, indent=2, sort_keys=True).encode())
    temporary.replace(path)


def staging_folder(staging_root: Path) -> Path:
    """A fresh staging folder named after this host and process (see `remove_stale_staging`)."""
    folder = staging_root / f"{socket.gethostname()}--{os.getpid()}--{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    return folder


def remove_stale_staging(staging_root: Path) -> int:
    """Delete staging folders left by dead processes of this host; returns how many.

    Folders of live processes (a concurrent shard on this host) and of other hosts (a shard on
    another node writing to a shared filesystem) are left alone.
    """
    if not staging_root.is_dir():
        return 0
    host = socket.gethostname()
    removed = 0
    for folder in staging_root.iterdir():
        parts = folder.name.split("--")
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        if not _process_alive(int(parts[1])):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_entry(
    entry_folder: Path,
    staging_root: Path,
    *,
    image: np.ndarray,
    label: np.ndarray | None,
    meta: dict[str, Any],
) -> bool:
    """Write an entry atomically; returns False if another process finished it first.

    Args:
        entry_folder: final folder `<spec>/entries/<key>` (must not exist yet).
        staging_root: folder on the same filesystem for the temporary entry.
        image: `(C, *size_vox)` array in the cache dtype.
        label: `(1, *size_vox)` integer array or None.
        meta: JSON-ready sidecar (see `PreprocessRunner`).
    """
    staging = staging_folder(staging_root)
    try:
        _save_npy_durably(staging / IMAGE_FILE, image)
        if label is not None:
            _save_npy_durably(staging / LABEL_FILE, label)
        _write_bytes_durably(
            staging / META_FILE, json.dumps(meta, indent=2, sort_keys=True).encode()
        )
        entry_folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(entry_folder)
        except OSError:
            if (entry_folder / META_FILE).is_file():
                return False  # a concurrent writer of the same content won; same bytes
            raise
        return True
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def read_meta(entry_folder: Path) -> dict[str, Any]:
    """The sidecar of a complete entry."""
    meta: dict[str, Any] = json.loads((entry_folder / META_FILE).read_text())
    return meta
