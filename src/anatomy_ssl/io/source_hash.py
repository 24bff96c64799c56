"""Content hashes of source files, so cache entries are addressed by what was read, not by path."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_CHUNK_BYTES = 8 * 1024 * 1024


def source_hash(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes, or of every file in a folder (sorted by relative name).

    A folder's hash covers relative names and contents, so renaming or editing any slice of a DICOM
    series changes it. Streams in 8 MiB chunks: memory stays flat for multi-GB volumes.
    """
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(os.fsencode(file.relative_to(path)) + b"\0")
        with file.open("rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                digest.update(chunk)
    return digest.hexdigest()


def source_fingerprint(path: str | Path) -> list[int]:
    """A cheap change detector: `[total bytes, newest mtime in ns, number of files]`.

    Used to skip re-hashing sources whose cache entry already exists; a changed fingerprint
    forces a full `source_hash`.
    """
    path = Path(path)
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    stats = [f.stat() for f in files]
    return [
        sum(s.st_size for s in stats),
        max((s.st_mtime_ns for s in stats), default=0),
        len(stats),
    ]
