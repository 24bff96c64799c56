"""Writes manifest records as a CSV that `manifest_from_csv` reads back to the same records."""

from __future__ import annotations

import contextlib
import csv
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from anatomy_ssl.manifests.manifest_paths import absolute_path, format_manifest_path
from anatomy_ssl.manifests.manifest_record import RESERVED_COLUMNS, ManifestRecord


def write_manifest_csv(records: Sequence[ManifestRecord], path: str | Path) -> Path:
    """Write `records` to `path` atomically (temporary file in the same folder + `os.replace`).

    Columns: `image, label, subject_id, split`, then every metadata key in order of first
    appearance. Paths inside the CSV's folder are written relative to it (POSIX separators), other
    paths absolute. None labels / splits and absent metadata keys are written as empty cells.
    Readers never see a half-written file; a failed write leaves the old file untouched.

    Args:
        records: the records to write, in order.
        path: the CSV file to (over)write; its folder is created if missing.

    Returns:
        The absolute path written.
    """
    path = absolute_path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    metadata_columns = list(dict.fromkeys(key for record in records for key in record.metadata))
    rows = [
        [
            format_manifest_path(record.image, folder),
            "" if record.label is None else format_manifest_path(record.label, folder),
            record.subject_id,
            record.split or "",
            *(record.metadata.get(key, "") for key in metadata_columns),
        ]
        for record in records
    ]
    # A unique name beside the target (same filesystem, so the rename is atomic); "x" mode keeps
    # the usual permissions, unlike tempfile's 0600.
    temporary = folder / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    try:
        with temporary.open("x", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*RESERVED_COLUMNS, *metadata_columns])
            writer.writerows(rows)
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return path
