"""The anatomical frame on disk, kept with the cache and content-addressed like it.

Layout: `<cache>/<spec_hash>/frame/<frame_id>/` holding `frame.json` (the settings),
`locations.npz` (the reference grid), one `<subject key>.npz` per framed subject and
`rejects{shard suffix}.csv`. `frame_id` hashes the reference (key and the bytes of its arrays)
and every setting. Files are written through a temporary sibling and `os.replace`, and read
with `allow_pickle=False`: numbers, and the metadata as one JSON string.

A subject's file is stale when its entry is no longer in the cache (an entry's key changes with
its content, so a replaced volume counts as gone) or the entry's geometry (affine, size) is not
the one it was framed on; `scan_frame_files` names the subject and what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anatomy_ssl.anatomy.location_grid import LocationGrid
from anatomy_ssl.anatomy.subject_frame import SubjectFrame
from anatomy_ssl.errors import InputError
from anatomy_ssl.io.source_hash import source_hash
from anatomy_ssl.preprocess import CachedVolume, VolumeCache
from anatomy_ssl.preprocess.cache_entry import IMAGE_FILE, LABEL_FILE

FRAME_FOLDER = "frame"
FRAME_FILE = "frame.json"
LOCATIONS_FILE = "locations.npz"
FORMAT_VERSION = 1
#: Hex digits of `frame_id`.
ID_LENGTH = 16
#: Errors that mean a file cannot be read as a frame file.
READ_ERRORS = (OSError, ValueError, KeyError, zipfile.BadZipFile)


def frame_folder(cache: VolumeCache, spec_hash: str, frame_id: str) -> Path:
    """`<cache>/<spec_hash>/frame/<frame_id>`: the files of one frame."""
    return cache.spec_folder(spec_hash) / FRAME_FOLDER / frame_id


def content_sha256(volume: CachedVolume) -> str:
    """SHA-256 of an entry's image (and label) array files: what the frame was built on."""
    names = [IMAGE_FILE, LABEL_FILE] if volume.has_label else [IMAGE_FILE]
    digests = [source_hash(volume.folder / name) for name in names]
    return hashlib.sha256("".join(digests).encode()).hexdigest()


def frame_id(settings: Mapping[str, Any], *, reference_key: str, reference_sha256: str) -> str:
    """Address of a frame: `ID_LENGTH` hex chars of a SHA-256 of the reference (its key and
    `content_sha256`) and the JSON-ready `settings` that change the files."""
    material = {
        "format_version": FORMAT_VERSION,
        "reference_key": reference_key,
        "reference_sha256": reference_sha256,
        "settings": dict(settings),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:ID_LENGTH]


def entry_fingerprint(volume: CachedVolume) -> str:
    """16 hex chars of the entry's key, affine and size: a subject's file is current only while
    they are the ones it was framed on (content changes change the key)."""
    material = json.dumps([volume.key, volume.affine.tolist(), list(volume.size_vox)])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _save_npz_atomically(path: Path, members: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with temporary.open("wb") as handle:
            np.savez(handle, **members)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def _meta_array(meta: Mapping[str, Any]) -> np.ndarray:
    return np.array([json.dumps({"format_version": FORMAT_VERSION, **meta}, sort_keys=True)])


def _read_meta(stored: Any) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(str(stored["meta"][0]))
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"format version {meta.get('format_version')!r}, not {FORMAT_VERSION}")
    return meta


def save_locations(
    folder: Path, grid: LocationGrid, *, frame_id: str, reference: CachedVolume
) -> Path:
    """Write `<folder>/locations.npz` atomically (the same bytes from every shard)."""
    meta = {
        "frame_id": frame_id,
        "reference_key": reference.key,
        "reference_subject": reference.subject_id,
        "patch_vox": list(grid.patch_vox),
        "stride_vox": list(grid.stride_vox),
        "min_coverage": grid.min_coverage,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCATIONS_FILE
    _save_npz_atomically(
        path,
        {
            "meta": _meta_array(meta),
            "centres_mm": np.asarray(grid.centres_mm, np.float64),
            "centres_vox": np.asarray(grid.centres_vox, np.int64),
            "normalized": np.asarray(grid.normalized, np.float64),
            "coverage": np.asarray(grid.coverage, np.float64),
        },
    )
    return path


def read_locations(folder: Path) -> tuple[LocationGrid, dict[str, Any]]:
    """The grid of a frame folder and its metadata (frame id, reference key and subject)."""
    path = folder / LOCATIONS_FILE
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = _read_meta(stored)
            grid = LocationGrid(
                centres_mm=stored["centres_mm"].astype(np.float64),
                centres_vox=stored["centres_vox"].astype(np.int64),
                normalized=stored["normalized"].astype(np.float64),
                coverage=stored["coverage"].astype(np.float64),
                patch_vox=tuple(int(v) for v in meta["patch_vox"]),
                stride_vox=tuple(int(v) for v in meta["stride_vox"]),
                min_coverage=float(meta["min_coverage"]),
            )
    except READ_ERRORS as error:
        raise InputError(path, f"not a readable frame locations file: {error}") from error
    return grid, meta


def save_subject_frame(
    folder: Path, frame: SubjectFrame, *, frame_id: str, fingerprint: str
) -> Path:
    """Write `<folder>/<subject key>.npz` atomically; returns its path."""
    meta = {
        "frame_id": frame_id,
        "subject_key": frame.subject_key,
        "subject_id": frame.subject_id,
        "fingerprint": fingerprint,
        "locations": len(frame.valid),
        "outside_volume": frame.outside_volume,
        "outside_region": frame.outside_region,
        "region_checked": frame.region_checked,
        "metric_value": None if np.isnan(frame.metric_value) else frame.metric_value,
        "registration_seconds": frame.registration_seconds,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{frame.subject_key}.npz"
    _save_npz_atomically(
        path,
        {
            "meta": _meta_array(meta),
            "centres_vox": np.asarray(frame.centres_vox, np.float64),
            "valid": np.asarray(frame.valid, bool),
            "reference_to_subject_mm": np.asarray(frame.reference_to_subject_mm, np.float64),
        },
    )
    return path


def read_subject_frame(path: Path) -> SubjectFrame:
    """The frame of one subject stored in `path` (no pickles); InputError if unreadable."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = _read_meta(stored)
            metric = meta["metric_value"]
            return SubjectFrame(
                subject_key=str(meta["subject_key"]),
                subject_id=str(meta["subject_id"]),
                centres_vox=stored["centres_vox"].astype(np.float64),
                valid=stored["valid"].astype(bool),
                reference_to_subject_mm=stored["reference_to_subject_mm"].astype(np.float64),
                outside_volume=int(meta["outside_volume"]),
                outside_region=int(meta["outside_region"]),
                region_checked=bool(meta["region_checked"]),
                metric_value=float("nan") if metric is None else float(metric),
                registration_seconds=float(meta["registration_seconds"]),
            )
    except READ_ERRORS as error:
        raise InputError(path, f"not a readable subject frame file: {error}") from error


@dataclass(frozen=True)
class FrameScan:
    """The subject files of one frame folder, checked against the cache's entries now.

    Attributes:
        current: `{subject key: path}` of files whose entry is unchanged.
        stale: `{path: what changed, naming the subject}` of the other files (also unreadable
            ones).
    """

    current: dict[str, Path]
    stale: dict[Path, str]


def scan_frame_files(
    folder: Path, fingerprints: Mapping[str, str], *, locations: int | None = None
) -> FrameScan:
    """Sort the subject files of `folder` into current and stale, reading only their metadata.

    Args:
        folder: a frame folder (`frame_folder`); a missing one holds nothing.
        fingerprints: `{entry key: entry_fingerprint}` of the cache's entries now.
        locations: the frame's location count L, when known (a file of another length is stale).
    """
    current: dict[str, Path] = {}
    stale: dict[Path, str] = {}
    paths = sorted(folder.glob("*.npz")) if folder.is_dir() else []
    for path in paths:
        if path.name == LOCATIONS_FILE:
            continue
        try:
            with np.load(path, allow_pickle=False) as stored:
                meta = _read_meta(stored)
        except READ_ERRORS as error:
            stale[path] = f"unreadable ({error})"
            continue
        problem = _staleness(path, meta, fingerprints, locations)
        if problem is None:
            current[path.stem] = path
        else:
            stale[path] = problem
    return FrameScan(current, stale)


def _staleness(
    path: Path, meta: dict[str, Any], fingerprints: Mapping[str, str], locations: int | None
) -> str | None:
    """What changed since `path` was written, or None if it is current."""
    key, subject = str(meta["subject_key"]), meta.get("subject_id")
    if key != path.stem or meta.get("frame_id") != path.parent.name:
        return f"holds subject {subject!r} (entry {key}) of frame {meta.get('frame_id')}"
    if key not in fingerprints:
        return (
            f"the entry {key} of subject {subject!r} is no longer in the cache (removed, or "
            "replaced by an entry of new content)"
        )
    if meta.get("fingerprint") != fingerprints[key]:
        return (
            f"the entry {key} of subject {subject!r} changed since it was framed (its affine or "
            "size differs)"
        )
    if locations is not None and meta.get("locations") != locations:
        return f"subject {subject!r} has {meta.get('locations')} locations, the frame {locations}"
    return None
