"""Batch mining of cross-volume pairs for a whole cache: parallel, sharded, resumable, and never
stopped by one bad volume (as preprocessing is).

Each source volume gets `partners` partners (`choose_partners`) and its pairs are written next to
the cache (`mined_pairs_store`). Sources with a current file are skipped; sources that give no
pair, and partners that give none (a failed registration), are recorded in `rejects.csv`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from anatomy_ssl.correspondence.embedding_matcher import DEFAULT_THRESHOLD, EmbeddingMatcher
from anatomy_ssl.correspondence.pair_mining import (
    PointMatcher,
    choose_partners,
    key_rng,
    mine_volume_pairs,
)
from anatomy_ssl.correspondence.registration_matcher import RegistrationMatcher
from anatomy_ssl.data.mined_pairs_store import (
    file_sha256,
    matcher_id,
    mined_folder,
    save_mined_pairs,
    scan_mined_pairs,
)
from anatomy_ssl.errors import AnatomySSLError, ConfigError, InputError
from anatomy_ssl.parallel import (
    WORKER_DIED,
    die_with_parent,
    outcomes_in_completion_order,
    settle_stale_outputs,
    write_rejects,
)
from anatomy_ssl.preprocess import CachedVolume, Shard, VolumeCache
from anatomy_ssl.preprocess.cache_entry import write_json_atomically

logger = logging.getLogger(__name__)

REGISTRATION = "registration"
MATCHER_FILE = "matcher.json"
REJECTS_HEADER = ("source_key", "source_subject", "partner_key", "partner_subject", "reason")
#: One row of `rejects.csv`; an empty partner means the whole source was rejected (no file).
RejectRow = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class MatcherSpec:
    """Which matcher mines, with its settings; every worker process builds its own from it.

    Attributes:
        encoder_dir: an exported encoder folder (embedding matcher), or None (registration).
        scales, threshold, coarse_candidates, refine, tile_vox: the embedding matcher's
            settings.
        iterations: the registration's optimizer iterations per pyramid level.
        device: where the encoder runs (does not change the matcher id).
    """

    encoder_dir: Path | None = None
    scales: tuple[int, int] = (0, -1)
    threshold: float = DEFAULT_THRESHOLD
    coarse_candidates: int = 4
    refine: bool = True
    tile_vox: int = 64
    iterations: int = 200
    device: str = "cpu"

    @classmethod
    def parse(cls, text: str | Path, *, device: str = "cpu") -> MatcherSpec:
        """ "registration", or the folder of an exported encoder (checked to exist)."""
        if str(text) == REGISTRATION:
            return cls(device=device)
        folder = Path(text)
        if not folder.is_dir():
            raise InputError(
                folder,
                "no such encoder folder (the matcher is 'registration' or an exported "
                "encoder folder)",
            )
        return cls(encoder_dir=folder, device=device)

    def settings(self) -> dict[str, Any]:
        """The settings that change the matches, as JSON values (see `matcher_id`)."""
        if self.encoder_dir is None:
            return {"kind": REGISTRATION, "iterations": self.iterations}
        return {
            "kind": "embedding",
            "scales": list(self.scales),
            "threshold": self.threshold,
            "coarse_candidates": self.coarse_candidates,
            "refine": self.refine,
            "tile_vox": self.tile_vox,
        }

    def build(self) -> PointMatcher:
        if self.encoder_dir is None:
            return RegistrationMatcher(iterations=self.iterations)
        from anatomy_ssl.export import load_encoder

        return EmbeddingMatcher(
            load_encoder(self.encoder_dir, device=self.device),
            scales=self.scales,
            tile_vox=self.tile_vox,
            threshold=self.threshold,
            coarse_candidates=self.coarse_candidates,
            refine=self.refine,
            device=self.device,
        )


@dataclass
class MiningReport:
    """Counts and timings of one mining run (one shard).

    Attributes:
        matcher_id: the setup's id; `folder` holds its files.
        shard: "i/N".
        sources: source volumes in this shard.
        mined / skipped / rejected: sources mined now, already mined, and without any pair.
        pairs / refused: pairs written now, and points tried now that gave none.
        stale: stale files found (re-mined, or removed when their source left the cache).
        seconds: wall time.
        rejects: rows of `rejects.csv` (source, partner and reason).
    """

    matcher_id: str
    folder: str
    shard: str
    sources: int = 0
    mined: int = 0
    skipped: int = 0
    rejected: int = 0
    pairs: int = 0
    refused: int = 0
    stale: int = 0
    seconds: float = 0.0
    rejects: list[RejectRow] = field(default_factory=list)

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        return (
            f"mine {self.shard}: {self.sources} sources -> {self.mined} mined, {self.skipped} "
            f"already mined, {self.rejected} rejected; {self.pairs} pairs, {self.refused} "
            f"refused, {self.stale} stale in {self.seconds:.1f} s "
            f"({self.pairs_per_second:.1f} pairs/s) -> {self.folder}"
        )


@dataclass(frozen=True)
class _SourceTask:
    """Mine one source: entry folders of it and its partners, and where to write."""

    source: Path
    partners: tuple[Path, ...]
    points_per_partner: int
    seed: int
    matcher_id: str
    out: Path


@dataclass(frozen=True)
class _SourceOutcome:
    written: bool
    pairs: int
    refused: int
    rejects: tuple[RejectRow, ...]


def _mine_source(matcher: PointMatcher, task: _SourceTask) -> _SourceOutcome:
    """Mine and write one source's pairs; a user-level failure becomes a reject row."""
    requested = len(task.partners) * task.points_per_partner
    failures_before = len(matcher.failures) if isinstance(matcher, RegistrationMatcher) else 0
    try:
        source = CachedVolume(task.source)
        partners = [CachedVolume(folder) for folder in task.partners]
        pairs = mine_volume_pairs(
            matcher,
            source,
            partners,
            points_per_partner=task.points_per_partner,
            rng=key_rng(task.seed, source.key, "points"),
            matcher_id=task.matcher_id,
        )
    except (AnatomySSLError, OSError) as error:
        row = (task.source.name, "", "", "", f"{type(error).__name__}: {error}")
        return _SourceOutcome(False, 0, requested, (row,))
    failed = {}
    if isinstance(matcher, RegistrationMatcher):
        failed = {target: reason for _, target, reason in matcher.failures[failures_before:]}
    rows: list[RejectRow] = [
        (
            source.key,
            source.subject_id,
            partner.key,
            partner.subject_id,
            failed.get(partner.subject_id, "every match was refused or fell outside the partner"),
        )
        for partner, count in zip(partners, pairs.pairs_per_partner(), strict=True)
        if count == 0
    ]
    if pairs.count == 0:
        reason = f"no pairs: all {requested} points into {len(partners)} partner(s) gave none"
        rows.append((source.key, source.subject_id, "", "", reason))
        return _SourceOutcome(False, 0, requested, tuple(rows))
    subjects = {volume.key: volume.subject_id for volume in (source, *partners)}
    save_mined_pairs(pairs, task.out, subjects=subjects)
    return _SourceOutcome(True, pairs.count, pairs.refused, tuple(rows))


#: The matcher of a pool worker, built once by `_start_worker`.
_worker_matcher: PointMatcher | None = None


def _start_worker(spec: MatcherSpec, threads: int) -> None:
    """Worker initializer: die with the parent, share the cores, build the matcher once."""
    global _worker_matcher
    die_with_parent()
    import SimpleITK as sitk
    import torch

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    torch.set_num_threads(threads)
    _worker_matcher = spec.build()


def _mine_in_worker(task: _SourceTask) -> _SourceOutcome:
    if _worker_matcher is None:
        raise RuntimeError("_start_worker did not run in this process")
    return _mine_source(_worker_matcher, task)


def _run_outcomes(
    tasks: list[_SourceTask], spec: MatcherSpec, workers: int
) -> Iterator[_SourceOutcome]:
    """Outcomes in completion order; inline when workers == 1, else a process pool."""
    if workers <= 1 or len(tasks) <= 1:
        matcher = spec.build() if tasks else None
        for task in tasks:
            assert matcher is not None
            yield _mine_source(matcher, task)
        return
    threads = max(1, (os.cpu_count() or 1) // min(workers, len(tasks)))
    yield from outcomes_in_completion_order(
        _mine_in_worker,
        tasks,
        workers,
        on_worker_death=_worker_died,
        initializer=_start_worker,
        initargs=(spec, threads),
    )


def _worker_died(task: _SourceTask) -> _SourceOutcome:
    """A source in flight when its worker was killed: finished files are safe on disk, and a
    rerun mines exactly the sources reported here."""
    requested = len(task.partners) * task.points_per_partner
    return _SourceOutcome(False, 0, requested, ((task.source.name, "", "", "", WORKER_DIED),))


def _check_encoder(encoder_dir: Path, volume: CachedVolume) -> str:
    """The SHA-256 of the encoder's weights, once the encoder loads (so a bad one fails here, not
    in every worker) and takes the cache's volumes."""
    from anatomy_ssl.export import WEIGHTS_FILE, load_encoder

    encoder = load_encoder(encoder_dir)
    dims, channels = encoder.spatial_dims, encoder.in_channels
    if dims != volume.spatial_dims or channels != volume.channels:
        raise InputError(
            encoder_dir,
            f"the encoder takes {dims}D images of {channels} channel(s), the cache holds "
            f"{volume.spatial_dims}D volumes of {volume.channels} channel(s)",
        )
    return file_sha256(encoder_dir / WEIGHTS_FILE)


def mine_cache(
    cache_root: str | Path,
    *,
    spec_hash: str | None = None,
    matcher_spec: str | Path | MatcherSpec,
    partners: int = 4,
    points_per_partner: int = 64,
    seed: int = 0,
    workers: int = 1,
    shard: Shard | None = None,
    split: str = "all",
    progress: bool = True,
) -> MiningReport:
    """Mine pairs for every source volume of this shard of a cache; resumable and idempotent.

    Sources (sorted by key, then sharded) whose file exists and is current are skipped; stale
    files are re-mined, and removed when their source has left the cache. Partners are chosen
    among all the cache's entries, so every shard sees the same choice.

    Args:
        cache_root: the cache folder.
        spec_hash: its preprocessing spec (None: the cache's only one).
        matcher_spec: "registration", an exported encoder folder, or a `MatcherSpec`.
        partners: partner volumes per source (fewer if the cache has fewer other volumes).
        points_per_partner: source body points tried per partner.
        seed: seeds partner choice and points (with each source's key).
        workers: parallel processes (1 = in this process).
        shard: which slice of the sources to mine (default: all).
        split: mine only the entries of this manifest split, sources and partners alike (say
            "train", so that pretraining never meets a test subject); "all" mines every entry.
            The split is part of the matcher id.
        progress: show a progress bar.

    Returns:
        The run's report; rejects are also written to `rejects{shard suffix}.csv`.

    Raises:
        InputError: a missing cache or encoder folder, a cache of fewer than two volumes, an
            encoder that does not fit the cache's volumes.
        ConfigError: a count below 1.
    """
    started = time.perf_counter()
    if min(partners, points_per_partner, workers) < 1:
        raise ConfigError(
            f"partners, points per partner and workers must be >= 1, got {partners}, "
            f"{points_per_partner}, {workers}"
        )
    shard = shard or Shard()
    cache = VolumeCache(cache_root)
    if not cache.root.is_dir():
        raise InputError(cache.root, "no such cache folder")
    spec = (
        matcher_spec if isinstance(matcher_spec, MatcherSpec) else MatcherSpec.parse(matcher_spec)
    )
    spec_hash = cache.resolve_spec_hash(spec_hash)
    entries = {
        entry.key: entry
        for entry in cache.entries(spec_hash)
        if split == "all" or entry.split == split
    }
    if len(entries) < 2:
        subjects = ", ".join(entry.subject_id for entry in entries.values()) or "none"
        where = "" if split == "all" else f" in split {split!r}"
        raise InputError(
            cache.spec_folder(spec_hash),
            f"holds {len(entries)} volume(s){where} (subjects: {subjects}): no second subject "
            "to mine from",
        )
    encoder_sha256 = None
    if spec.encoder_dir is not None:
        encoder_sha256 = _check_encoder(spec.encoder_dir, next(iter(entries.values())))
    identity = matcher_id(
        spec.settings() if split == "all" else {**spec.settings(), "split": split},
        partners=partners,
        points_per_partner=points_per_partner,
        seed=seed,
        encoder_sha256=encoder_sha256,
    )
    folder = mined_folder(cache, spec_hash, identity)
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomically(
        folder / MATCHER_FILE,
        {
            "matcher_id": identity,
            "matcher": spec.settings(),
            "encoder": None if spec.encoder_dir is None else str(spec.encoder_dir),
            "encoder_sha256": encoder_sha256,
            "partners": partners,
            "points_per_partner": points_per_partner,
            "seed": seed,
        },
    )
    keys = sorted(entries)
    selected = shard.select(keys)
    report = MiningReport(
        identity, str(folder), f"{shard.index}/{shard.count}", sources=len(selected)
    )
    scan = scan_mined_pairs(folder, keys)
    report.stale = settle_stale_outputs(scan.stale, entries, selected, redo="re-mining")
    report.skipped = sum(key in scan.current for key in selected)
    tasks = [
        _SourceTask(
            source=entries[key].folder,
            partners=tuple(
                entries[partner].folder for partner in choose_partners(keys, key, partners, seed)
            ),
            points_per_partner=points_per_partner,
            seed=seed,
            matcher_id=identity,
            out=folder,
        )
        for key in selected
        if key not in scan.current
    ]
    with tqdm(
        total=len(selected),
        initial=report.skipped,
        desc=f"mine {shard.index}/{shard.count}",
        unit="vol",
        disable=not progress,
    ) as bar:
        for outcome in _run_outcomes(tasks, spec, workers):
            report.mined += outcome.written
            report.rejected += not outcome.written
            report.pairs += outcome.pairs
            report.refused += outcome.refused
            report.rejects.extend(outcome.rejects)
            for row in outcome.rejects:
                logger.warning("mining %s with partner %s: %s", row[0], row[2] or "-", row[4])
            bar.update(1)
            bar.set_postfix(pairs=report.pairs, rejected=report.rejected)
    write_rejects(folder / f"rejects{shard.suffix}.csv", REJECTS_HEADER, report.rejects)
    report.seconds = time.perf_counter() - started
    return report
