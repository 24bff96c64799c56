"""The dataset-level files shared by every built-in dataset: hierarchy.json, clinical.csv and
manifest.csv (with subject-level splits)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from anatomy_ssl.manifests import Manifest, ManifestRecord, assign_subject_splits


def write_text_atomically(path: Path, text: str) -> None:
    """Write `text` to a hidden sibling, then rename it over `path` (readers never see half)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.replace(path)


def write_dataset_tables(
    out: Path,
    records: Sequence[ManifestRecord],
    clinical_rows: Sequence[dict[str, Any]],
    hierarchy: dict[str, Any],
    split_seed: int,
) -> Manifest:
    """Write `hierarchy.json`, `clinical.csv` (when there are clinical columns beyond
    `subject_id`) and `manifest.csv` with subject-level splits seeded by `split_seed`.

    Returns:
        The manifest as written.
    """
    write_text_atomically(out / "hierarchy.json", json.dumps(hierarchy, indent=2))
    if clinical_rows and len(clinical_rows[0]) > 1:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(clinical_rows[0]))
        writer.writeheader()
        writer.writerows(clinical_rows)
        write_text_atomically(out / "clinical.csv", buffer.getvalue())
    manifest = assign_subject_splits(Manifest(out, records), seed=split_seed)
    manifest.to_csv(out / "manifest.csv")
    return manifest
