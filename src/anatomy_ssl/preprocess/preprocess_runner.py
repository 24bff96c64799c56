"""Batch preprocessing of a manifest into the cache: parallel, sharded, resumable, never dies on
one bad volume."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from anatomy_ssl.manifests import Manifest, ManifestRecord
from anatomy_ssl.parallel import (
    WORKER_DIED,
    die_with_parent,
    outcomes_in_completion_order,
    write_rejects,
)
from anatomy_ssl.preprocess.cache_entry import (
    read_meta,
    remove_stale_staging,
    write_json_atomically,
)
from anatomy_ssl.preprocess.preprocess_spec import PreprocessSpec
from anatomy_ssl.preprocess.record_preprocessor import (
    RecordOutcome,
    fingerprints,
    preprocess_record,
    refresh_record_fields,
)
from anatomy_ssl.preprocess.shard import Shard
from anatomy_ssl.preprocess.volume_cache import VolumeCache

logger = logging.getLogger(__name__)


@dataclass
class PreprocessSummary:
    """Counts and timings of one run (one shard).

    Attributes:
        spec_hash: the spec's hash (names the cache folder).
        spec_folder: `<cache>/<spec_hash>`.
        shard: "i/N".
        total: records in this shard.
        written / skipped / rejected: outcome counts.
        rejects: (path, reason) of each rejected record.
        seconds: wall time.
        source_megabytes: size of the sources processed (written ones).
    """

    spec_hash: str
    spec_folder: str
    shard: str
    total: int = 0
    written: int = 0
    skipped: int = 0
    rejected: int = 0
    rejects: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    source_megabytes: float = 0.0

    def add(self, outcome: RecordOutcome) -> None:
        if outcome.status == "written":
            self.written += 1
            self.source_megabytes += outcome.source_bytes / 1e6
        elif outcome.status == "skipped":
            self.skipped += 1
        else:
            self.rejected += 1
            self.rejects.append((outcome.image, outcome.reason or "unknown"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        rate = self.written / self.seconds if self.seconds > 0 else 0.0
        return (
            f"shard {self.shard}: {self.total} volumes -> {self.written} written, "
            f"{self.skipped} already cached, {self.rejected} rejected in {self.seconds:.1f} s "
            f"({rate:.2f} volumes/s, {self.source_megabytes / max(self.seconds, 1e-9):.1f} MB/s)"
            f"\ncache: {self.spec_folder}"
        )


def _start_worker(threads: int) -> None:
    """Worker initializer: die with the parent (no orphan goes on writing after a kill), and
    share the cores between processes instead of oversubscribing."""
    die_with_parent()
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)


def _existing_entries(cache: VolumeCache, spec_hash: str) -> dict[tuple[Any, ...], Path]:
    """Entries of this spec keyed by (image, label, fingerprints), to skip without hashing."""
    index: dict[tuple[Any, ...], Path] = {}
    folder = cache.entries_folder(spec_hash)
    if not folder.is_dir():
        return index
    for entry in folder.iterdir():
        try:
            meta = read_meta(entry)
        except (OSError, ValueError):
            continue  # not a complete entry
        prints = meta.get("source_fingerprints", {})
        index[_lookup_key(meta["source_image"], meta["source_label"], prints)] = entry
    return index


def _lookup_key(image: str, label: str | None, prints: dict[str, Any]) -> tuple[Any, ...]:
    label_print = prints.get("label")
    return (
        image,
        label,
        tuple(prints.get("image") or ()),
        None if label_print is None else tuple(label_print),
    )


def _claim_existing_entry(
    outcome: RecordOutcome,
    record: ManifestRecord,
    prints: dict[str, Any],
    entry_folder: Path,
    manifest_images: set[str],
) -> RecordOutcome:
    """Whose is the entry a worker found with `record`'s key (same spec, bytes and subject)?

    It is `record`'s when its sidecar names `record`'s image, or an image no row of the manifest
    lists any more (a source moved or renamed): the sidecar is then brought up to date. When
    another row lists it, `record` repeats that row's bytes for the same subject, and it is
    rejected naming both rows instead of silently merging into the other row's entry.
    """
    owner = read_meta(entry_folder).get("source_image")
    if owner != outcome.image and owner in manifest_images:
        return RecordOutcome(
            outcome.image,
            "rejected",
            reason=f"{outcome.image}: same image and label bytes as {owner} for the same subject "
            f"{record.subject_id!r}: a duplicate row (cached once, as {owner}); remove one of "
            "the rows or give each its own subject_id",
            seconds=outcome.seconds,
        )
    refresh_record_fields(entry_folder, record, prints)
    return outcome


def _run_outcomes(
    records: list[ManifestRecord], spec: PreprocessSpec, cache_root: str, workers: int
) -> Iterator[RecordOutcome]:
    """Outcomes in completion order; inline when workers == 1, else a process pool."""
    if workers <= 1:
        for record in records:
            yield preprocess_record(record, spec, cache_root)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    yield from outcomes_in_completion_order(
        functools.partial(preprocess_record, spec=spec, cache_root=cache_root),
        records,
        workers,
        on_worker_death=_worker_died,
        initializer=_start_worker,
        initargs=(threads,),
    )


def _worker_died(record: ManifestRecord) -> RecordOutcome:
    """A volume in flight when its worker was killed: finished entries are safe on disk, and a
    rerun retries exactly the volumes reported here."""
    reason = f"{record.image}: {WORKER_DIED}, finished volumes are kept"
    return RecordOutcome(str(record.image), "rejected", reason=reason)


def preprocess_dataset(
    manifest: Manifest | Iterable[ManifestRecord],
    spec: PreprocessSpec,
    cache_root: str | Path,
    *,
    workers: int = 1,
    shard: Shard | None = None,
    progress: bool = True,
) -> PreprocessSummary:
    """Preprocess every record of this shard into `cache_root`; resumable and idempotent.

    Records whose entry exists (same spec, same source bytes, same subject) are skipped, their
    entry's sidecar updated to the manifest's subject, split and metadata; a changed spec writes
    new entries in its own folder. Byte-identical images of two subjects get an entry each; a
    row repeating another row's bytes for the same subject is rejected as a duplicate naming
    both. Bad volumes are rejected (see `rejected.csv`) and the run goes on. Records are
    ordered by image path before sharding, so every shard sees the same order.

    Args:
        manifest: the records to preprocess.
        spec: how to preprocess.
        cache_root: cache folder (created if missing).
        workers: parallel processes (1 = in this process).
        shard: which slice of the records to process (default: all).
        progress: show a progress bar.

    Returns:
        The run's summary (also written to `summary{shard suffix}.json`).
    """
    started = time.perf_counter()
    shard = shard or Shard()
    cache = VolumeCache(cache_root)
    spec_folder = cache.register_spec(spec)
    removed = remove_stale_staging(cache.staging_root)
    if removed:
        logger.info("removed %d unfinished entries left by an interrupted run", removed)
    ordered = sorted(manifest, key=lambda r: (str(r.image), str(r.label)))
    manifest_images = {str(record.image) for record in ordered}
    records = shard.select(ordered)
    summary = PreprocessSummary(
        spec.hash, str(spec_folder), f"{shard.index}/{shard.count}", total=len(records)
    )
    existing = _existing_entries(cache, spec.hash)
    prints_of = {str(record.image): _safe_fingerprints(record) for record in records}
    todo: dict[str, ManifestRecord] = {}
    for record in records:
        prints = prints_of[str(record.image)]
        label = None if record.label is None else str(record.label)
        found = existing.get(_lookup_key(str(record.image), label, prints))
        if found is not None:
            refresh_record_fields(found, record, prints)
            summary.add(RecordOutcome(str(record.image), "skipped", found.name))
        else:
            todo[str(record.image)] = record
    with tqdm(
        total=len(records),
        initial=summary.skipped,
        desc=f"preprocess {shard.index}/{shard.count}",
        unit="vol",
        disable=not progress,
    ) as bar:
        for outcome in _run_outcomes(list(todo.values()), spec, str(cache.root), workers):
            if outcome.status == "skipped" and outcome.key is not None:
                outcome = _claim_existing_entry(
                    outcome,
                    todo[outcome.image],
                    prints_of[outcome.image],
                    cache.entries_folder(spec.hash) / outcome.key,
                    manifest_images,
                )
            summary.add(outcome)
            if outcome.status == "rejected":
                logger.warning("rejected %s", outcome.reason)
            bar.update(1)
            bar.set_postfix(rejected=summary.rejected)
    summary.seconds = time.perf_counter() - started
    write_rejects(spec_folder / f"rejected{shard.suffix}.csv", ("path", "reason"), summary.rejects)
    write_json_atomically(spec_folder / f"summary{shard.suffix}.json", summary.to_dict())
    return summary


def _safe_fingerprints(record: ManifestRecord) -> dict[str, Any]:
    """Fingerprints, or an empty dict if a source is missing (the worker then rejects it)."""
    try:
        return fingerprints(record)
    except OSError:
        return {}
