"""Mined pairs on disk, kept with the cache and content-addressed like it.

Layout: `<cache>/<spec_hash>/mined/<matcher_id>/<source_key>.npz`, one file per source volume,
where `matcher_id` hashes everything that determines the matches (`matcher_id`). Files are
written through a temporary sibling and `os.replace`, and read with `allow_pickle=False`: the
strings are fixed-width unicode arrays and the metadata one JSON string.

A file is stale when its source or one of its partners is no longer an entry of the cache (an
entry's key changes with its content, so a replaced volume counts as gone): `load_mined_pairs`
refuses stale files by name rather than hand out pairs that point at the wrong anatomy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
import zipfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anatomy_ssl.data.mined_pairs import MinedPairs
from anatomy_ssl.errors import AnatomySSLError, InputError
from anatomy_ssl.preprocess import VolumeCache

logger = logging.getLogger(__name__)

MINED_FOLDER = "mined"
FORMAT_VERSION = 1
#: Hex digits of `matcher_id`.
ID_LENGTH = 16
#: The arrays of a file and their dtypes (plain numbers: nothing is ever pickled).
_ARRAYS = {
    "source_vox": np.int64,
    "partner_vox": np.int64,
    "partner_index": np.int64,
    "similarity": np.float32,
}


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def matcher_id(
    matcher: Mapping[str, Any],
    *,
    partners: int,
    points_per_partner: int,
    seed: int,
    encoder_sha256: str | None = None,
) -> str:
    """Address of a mining setup: `ID_LENGTH` hex chars of a SHA-256.

    Args:
        matcher: JSON-ready settings that change the matches, with the matcher's `kind`
            (embedding: scales, threshold, coarse_candidates, tile; registration: iterations).
        partners, points_per_partner, seed: the mining settings.
        encoder_sha256: SHA-256 of the embedding matcher's `encoder.safetensors` (`file_sha256`).
    """
    material = {
        "format_version": FORMAT_VERSION,
        "matcher": dict(matcher),
        "encoder_sha256": encoder_sha256,
        "partners": partners,
        "points_per_partner": points_per_partner,
        "seed": seed,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:ID_LENGTH]


def mined_folder(cache: VolumeCache, spec_hash: str, matcher_id: str) -> Path:
    """`<cache>/<spec_hash>/mined/<matcher_id>`: the files of one mining setup."""
    return cache.spec_folder(spec_hash) / MINED_FOLDER / matcher_id


def save_mined_pairs(pairs: MinedPairs, folder: Path, *, subjects: Mapping[str, str]) -> Path:
    """Write `<folder>/<source_key>.npz` atomically; returns its path.

    Args:
        pairs: the source's pairs.
        folder: the setup's folder (`mined_folder`), created if missing.
        subjects: subject id by entry key for the source and its partners (kept so that a stale
            file can say which subject left the cache).
    """
    keys = (pairs.source_key, *pairs.partner_keys)
    meta = {
        "format_version": FORMAT_VERSION,
        "source_key": pairs.source_key,
        "matcher_id": pairs.matcher_id,
        "requested": pairs.requested,
        "subjects": {key: subjects[key] for key in keys},
    }
    members: dict[str, Any] = {
        "meta": np.array([json.dumps(meta, sort_keys=True)]),  # (1,) fixed-width unicode
        "partner_keys": np.array(pairs.partner_keys, dtype=str).reshape(-1),
        **{name: np.asarray(getattr(pairs, name), dtype) for name, dtype in _ARRAYS.items()},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{pairs.source_key}.npz"
    temporary = folder / f".{pairs.source_key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with temporary.open("wb") as handle:
            np.savez(handle, **members)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def read_mined_pairs(path: Path) -> MinedPairs:
    """The pairs stored in one file (no pickles); InputError naming it if it is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = _meta(stored)
            arrays = {name: stored[name].astype(dtype) for name, dtype in _ARRAYS.items()}
            return MinedPairs(
                source_key=str(meta["source_key"]),
                partner_keys=tuple(str(key) for key in stored["partner_keys"]),
                matcher_id=str(meta["matcher_id"]),
                requested=int(meta["requested"]),
                **arrays,
            )
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise InputError(path, f"not a readable mined-pairs file: {error}") from error


def _meta(stored: Any) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(str(stored["meta"][0]))
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"format version {meta.get('format_version')!r}, not {FORMAT_VERSION}")
    return meta


@dataclass(frozen=True)
class MinedPairsScan:
    """The files of one setup's folder, checked against the cache's current entry keys.

    Attributes:
        current: `{source key: path}` of files whose source and partners are all in the cache.
        stale: `{path: what changed}` of the other files (also unreadable ones).
    """

    current: dict[str, Path]
    stale: dict[Path, str]


def scan_mined_pairs(folder: Path, keys: Collection[str]) -> MinedPairsScan:
    """Sort the `.npz` files of `folder` into current and stale, reading only their metadata.

    Args:
        folder: a setup's folder (`mined_folder`); a missing one holds nothing.
        keys: the keys of the cache's entries now.
    """
    present = set(keys)
    current: dict[str, Path] = {}
    stale: dict[Path, str] = {}
    paths = sorted(folder.glob("*.npz")) if folder.is_dir() else []
    for path in paths:
        try:
            with np.load(path, allow_pickle=False) as stored:
                meta = _meta(stored)
                partner_keys = [str(key) for key in stored["partner_keys"]]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            stale[path] = f"unreadable ({error})"
            continue
        problem = _staleness(path, meta, partner_keys, present)
        if problem is None:
            current[path.stem] = path
        else:
            stale[path] = problem
    return MinedPairsScan(current, stale)


def _staleness(
    path: Path, meta: dict[str, Any], partner_keys: list[str], present: set[str]
) -> str | None:
    """What changed in the cache since `path` was mined, or None if nothing it uses did."""
    source = str(meta["source_key"])
    if source != path.stem or meta.get("matcher_id") != path.parent.name:
        return f"holds the pairs of source {source} mined by {meta.get('matcher_id')}"
    subjects: dict[str, str] = meta.get("subjects", {})
    if source not in present:
        return (
            f"its source entry {source} (subject {subjects.get(source)!r}) is no longer in "
            "the cache (removed, or replaced by an entry of new content)"
        )
    gone = [key for key in partner_keys if key not in present]
    if gone:
        named = ", ".join(f"{key} (subject {subjects.get(key)!r})" for key in gone)
        return (
            f"partner entr{'y' if len(gone) == 1 else 'ies'} {named} no longer in the cache "
            "(removed, or replaced by an entry of new content)"
        )
    return None


class StaleMinedPairsError(AnatomySSLError):
    """Some mined-pairs files no longer match the cache.

    Attributes:
        stale: `{path: what changed}` of each stale file.
        usable: the pairs of the current files (sorted by source key).
    """

    def __init__(self, folder: Path, stale: dict[Path, str], usable: list[MinedPairs]) -> None:
        self.stale = stale
        self.usable = usable
        listing = "\n  ".join(f"{path.name}: {reason}" for path, reason in stale.items())
        super().__init__(
            f"{folder}: {len(stale)} stale mined-pairs file(s) (the cache changed since they "
            f"were mined; rerun `anatomy-ssl mine` to refresh them):\n  {listing}"
        )


def _resolve(cache: VolumeCache | str | Path, spec_hash: str | None) -> tuple[VolumeCache, str]:
    volumes = cache if isinstance(cache, VolumeCache) else VolumeCache(cache)
    return volumes, volumes.resolve_spec_hash(spec_hash)


def load_mined_pairs(
    cache: VolumeCache | str | Path,
    spec_hash: str | None,
    matcher_id: str,
    *,
    skip_stale: bool = False,
) -> list[MinedPairs]:
    """Every current file of a mining setup, sorted by source key.

    Args:
        cache: the cache (or its root folder).
        spec_hash: its preprocessing spec (None: the cache's only one).
        matcher_id: the setup's id (`matcher_id`).
        skip_stale: leave stale files out with a logged warning instead of raising.

    Raises:
        InputError: nothing was mined for this setup.
        StaleMinedPairsError: stale files (naming each and what changed), unless `skip_stale`;
            its `usable` holds the current ones.
    """
    volumes, spec_hash = _resolve(cache, spec_hash)
    folder = mined_folder(volumes, spec_hash, matcher_id)
    if not folder.is_dir():
        raise InputError(folder, "nothing mined for this matcher id (run `anatomy-ssl mine`)")
    scan = scan_mined_pairs(folder, [entry.key for entry in volumes.entries(spec_hash)])
    usable = [read_mined_pairs(scan.current[key]) for key in sorted(scan.current)]
    if scan.stale:
        error = StaleMinedPairsError(folder, scan.stale, usable)
        if not skip_stale:
            raise error
        logger.warning("%s", error)
    return usable


def missing_sources(
    cache: VolumeCache | str | Path, spec_hash: str | None, matcher_id: str
) -> list[str]:
    """Sorted keys of the cache's entries without a current file for this setup (never mined,
    rejected, or stale): what a resumed run still has to mine."""
    volumes, spec_hash = _resolve(cache, spec_hash)
    keys = sorted(entry.key for entry in volumes.entries(spec_hash))
    scan = scan_mined_pairs(mined_folder(volumes, spec_hash, matcher_id), keys)
    return [key for key in keys if key not in scan.current]
