"""Preprocess one manifest record into the cache (the unit of work of a batch run)."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np

from anatomy_ssl import __version__
from anatomy_ssl.errors import AnatomySSLError
from anatomy_ssl.io import read_label, read_volume
from anatomy_ssl.io.source_hash import source_fingerprint, source_hash
from anatomy_ssl.manifests import ManifestRecord
from anatomy_ssl.preprocess.cache_entry import (
    ENTRY_FORMAT_VERSION,
    META_FILE,
    read_meta,
    write_entry,
    write_json_atomically,
)
from anatomy_ssl.preprocess.preprocess_spec import PreprocessSpec
from anatomy_ssl.preprocess.volume_cache import VolumeCache, entry_key
from anatomy_ssl.preprocess.volume_preprocessor import preprocess_volume

Status = Literal["written", "skipped", "rejected"]


@dataclass(frozen=True)
class RecordOutcome:
    """What happened to one record.

    Attributes:
        image: source image path.
        status: "written" (new entry), "skipped" (an entry with this key is there already:
            whose it is, this record's or a duplicate row's, `preprocess_dataset` decides), or
            "rejected".
        key: cache entry key (None when rejected).
        reason: why it was rejected (None otherwise).
        seconds: wall time spent on it.
        source_bytes: size of the source image (and label) on disk.
    """

    image: str
    status: Status
    key: str | None = None
    reason: str | None = None
    seconds: float = 0.0
    source_bytes: int = 0


def record_fields(record: ManifestRecord) -> dict[str, Any]:
    """Manifest facts kept in an entry's sidecar (they may change without re-preprocessing)."""
    return {
        "subject_id": record.subject_id,
        "split": record.split,
        "metadata": dict(record.metadata),
    }


def fingerprints(record: ManifestRecord) -> dict[str, Any]:
    """Cheap change detectors of the record's sources (see `source_fingerprint`)."""
    return {
        "image": source_fingerprint(record.image),
        "label": None if record.label is None else source_fingerprint(record.label),
    }


def refresh_record_fields(
    entry_folder: Path, record: ManifestRecord, prints: dict[str, Any]
) -> None:
    """Make an existing entry `record`'s: rewrite its sidecar's subject, split, metadata, source
    paths and source fingerprints where they differ (a changed manifest, or a moved source).

    Args:
        entry_folder: the entry (same spec, source bytes and subject as `record`).
        record: the manifest row it now belongs to.
        prints: `fingerprints(record)`.
    """
    meta = read_meta(entry_folder)
    fields = {
        **record_fields(record),
        "source_image": str(record.image),
        "source_label": None if record.label is None else str(record.label),
        "source_fingerprints": prints,
    }
    if any(meta.get(name) != value for name, value in fields.items()):
        write_json_atomically(entry_folder / META_FILE, {**meta, **fields})


def preprocess_record(
    record: ManifestRecord, spec: PreprocessSpec, cache_root: str
) -> RecordOutcome:
    """Read, preprocess and cache one record; never raises for bad input.

    An entry with the record's key that exists already is left untouched ("skipped"): the
    caller decides whose it is. Input errors become a "rejected" outcome carrying the message
    (which names the file).
    Unexpected errors are rejected too, with their type and last traceback line, so one bad
    volume cannot stop a batch.
    """
    started = time.perf_counter()
    image_path = str(record.image)
    try:
        cache = VolumeCache(cache_root)
        image_sha = source_hash(record.image)
        label_sha = None if record.label is None else source_hash(record.label)
        key = entry_key(spec.hash, image_sha, label_sha, record.subject_id)
        folder = cache.entries_folder(spec.hash) / key
        prints = fingerprints(record)
        size = prints["image"][0] + (prints["label"][0] if prints["label"] else 0)
        if (folder / META_FILE).is_file():
            return RecordOutcome(
                image_path, "skipped", key, seconds=time.perf_counter() - started, source_bytes=size
            )
        series_uid = record.metadata.get("series_uid") or None
        image = read_volume(
            record.image,
            spatial_dims=spec.spatial_dims,
            channel=spec.channel,
            series_uid=series_uid,
        )
        label = None if record.label is None else read_label(record.label, image=image)
        result = preprocess_volume(image, spec, label)
        label_array = None if result.label is None else result.label.array
        meta = {
            "format_version": ENTRY_FORMAT_VERSION,
            "anatomy_ssl_version": __version__,
            "key": key,
            "spec_hash": spec.hash,
            **record_fields(record),
            "source_image": image_path,
            "source_label": None if record.label is None else str(record.label),
            "source_image_sha256": image_sha,
            "source_label_sha256": label_sha,
            "source_fingerprints": prints,
            "affine": result.image.affine.tolist(),
            "spacing_mm": list(result.image.spacing_mm),
            "size_vox": list(result.image.size_vox),
            "num_channels": result.image.num_channels,
            "image_dtype": str(result.image.array.dtype),
            "background_value": float(result.image.array.min()),
            "label_values": None if label_array is None else _present_labels(label_array),
            "steps": result.steps,
            "reader_metadata": image.metadata,
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        written = write_entry(
            folder, cache.staging_root, image=result.image.array, label=label_array, meta=meta
        )
        status: Status = "written" if written else "skipped"
        return RecordOutcome(
            image_path, status, key, seconds=time.perf_counter() - started, source_bytes=size
        )
    except AnatomySSLError as error:
        return RecordOutcome(
            image_path, "rejected", reason=str(error), seconds=time.perf_counter() - started
        )
    except Exception as error:  # one bad volume must not stop the batch; the reason is kept
        where = traceback.format_exc().strip().splitlines()[-3:]
        return RecordOutcome(
            image_path,
            "rejected",
            reason=f"{image_path}: unexpected {type(error).__name__}: {error} "
            f"({' | '.join(where)})",
            seconds=time.perf_counter() - started,
        )


def _present_labels(label: np.ndarray) -> list[int]:
    """Sorted label values present (bincount is far faster than unique for small label ids)."""
    flat = label.ravel()
    if flat.size and flat.min() >= 0 and flat.max() < 65536:
        return np.flatnonzero(np.bincount(flat.astype(np.int64))).tolist()
    return np.unique(flat).astype(int).tolist()
