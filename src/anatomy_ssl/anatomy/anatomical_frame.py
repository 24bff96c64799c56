"""DrasCLR's anatomical frame: every subject registered to one reference, and a grid of patch
locations defined once on the reference mapped into each subject (Yu et al., "DrasCLR: A
Self-supervised Framework of Learning Disease-related and Anatomy-specific Representation for
3D Medical Images", 2023).

`frame_subject` (in `subject_frame`, re-exported here) registers one subject (SimpleITK affine,
on the reference's region mask when region labels are given, else on the whole image) and maps
the location centres into it, with a validity mask: a location whose patch leaves the subject's
field of view, or covers too little of the subject's region, is skipped and counted.
`build_frame` does this for a whole cache, stored next to it (`anatomical_frame_files`):
parallel, sharded, resumable, and never stopped by one bad subject (a failed registration is
recorded with its reason in `rejects.csv`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from anatomy_ssl.anatomy.anatomical_frame_files import (
    FRAME_FILE,
    content_sha256,
    entry_fingerprint,
    frame_folder,
    frame_id,
    save_locations,
    save_subject_frame,
    scan_frame_files,
)
from anatomy_ssl.anatomy.location_grid import LocationGrid, location_grid, per_axis
from anatomy_ssl.anatomy.subject_frame import (
    MAX_METRIC_SAMPLES,
    PYRAMID_MM,
    SubjectFrame,
    frame_subject,
)
from anatomy_ssl.errors import AnatomySSLError, ConfigError, InputError
from anatomy_ssl.parallel import (
    WORKER_DIED,
    outcomes_in_completion_order,
    settle_stale_outputs,
    write_rejects,
)
from anatomy_ssl.preprocess import CachedVolume, Shard, VolumeCache
from anatomy_ssl.preprocess.cache_entry import write_json_atomically

logger = logging.getLogger(__name__)

__all__ = ["FrameReport", "build_frame", "choose_reference", "frame_subject"]

#: A subject serving fewer than this fraction of the locations is reported as sparse.
SPARSE_FRACTION = 0.5
REJECTS_HEADER = ("subject_key", "subject", "reason")
#: One row of `rejects.csv`: the subject whose frame could not be built, and why.
RejectRow = tuple[str, str, str]


@dataclass
class FrameReport:
    """Counts and timings of one frame run (one shard).

    Attributes:
        frame_id: the frame's id; `folder` holds its files.
        shard: "i/N".
        reference_key, reference_subject: the reference volume.
        region: what the locations were kept on ("labels [..]" or "body foreground").
        locations: locations L of the grid.
        subjects: subjects in this shard.
        framed / skipped / rejected: subjects framed now, already framed, and failed.
        stale: stale files found (re-framed, or removed when their subject left the cache).
        outside_volume / outside_region: locations skipped in the subjects framed now.
        sparse: `(key, subject, valid fraction)` of subjects framed now that serve fewer than
            `SPARSE_FRACTION` of the locations (their files are written all the same).
        volume_seconds: summed wall time of framing each subject (registration included).
        seconds: wall time of the run.
        rejects: rows of `rejects.csv`.
    """

    frame_id: str
    folder: str
    shard: str
    reference_key: str
    reference_subject: str
    region: str
    locations: int
    subjects: int = 0
    framed: int = 0
    skipped: int = 0
    rejected: int = 0
    stale: int = 0
    outside_volume: int = 0
    outside_region: int = 0
    sparse: list[tuple[str, str, float]] = field(default_factory=list)
    volume_seconds: float = 0.0
    seconds: float = 0.0
    rejects: list[RejectRow] = field(default_factory=list)

    @property
    def seconds_per_volume(self) -> float:
        return self.volume_seconds / self.framed if self.framed else 0.0

    def __str__(self) -> str:
        return (
            f"frame {self.shard}: {self.subjects} subjects -> {self.framed} framed, "
            f"{self.skipped} already framed, {self.rejected} rejected, {len(self.sparse)} sparse; "
            f"{self.locations} locations on {self.reference_subject} ({self.region}), "
            f"{self.outside_volume} outside a volume and {self.outside_region} outside a region "
            f"skipped, {self.stale} stale in {self.seconds:.1f} s "
            f"({self.seconds_per_volume:.2f} s/volume) -> {self.folder}"
        )


@dataclass(frozen=True)
class _SubjectTask:
    """Frame one subject: entry folders of the reference and the subject, and where to write."""

    reference: Path
    subject: Path
    subject_key: str
    subject_id: str
    grid: LocationGrid
    region_labels: tuple[int, ...] | None
    iterations: int
    frame_id: str
    out: Path


@dataclass(frozen=True)
class _SubjectOutcome:
    key: str
    subject_id: str
    frame: SubjectFrame | None
    seconds: float
    reject: RejectRow | None


def _frame_one(task: _SubjectTask) -> _SubjectOutcome:
    """Frame and write one subject; a user-level failure becomes a reject row."""
    started = time.perf_counter()
    try:
        subject = CachedVolume(task.subject)
        frame = frame_subject(
            CachedVolume(task.reference),
            subject,
            task.grid,
            region_labels=task.region_labels,
            iterations=task.iterations,
        )
        save_subject_frame(
            task.out, frame, frame_id=task.frame_id, fingerprint=entry_fingerprint(subject)
        )
    except (AnatomySSLError, OSError, ValueError) as error:
        row = (task.subject_key, task.subject_id, f"{type(error).__name__}: {error}")
        return _SubjectOutcome(task.subject_key, task.subject_id, None, 0.0, row)
    seconds = time.perf_counter() - started
    return _SubjectOutcome(task.subject_key, task.subject_id, frame, seconds, None)


def _run_outcomes(tasks: list[_SubjectTask], workers: int) -> Iterator[_SubjectOutcome]:
    """Outcomes in completion order; inline when workers == 1, else a process pool (each
    registration runs on REGISTRATION_THREADS; the workers share the cores)."""
    if workers <= 1 or len(tasks) <= 1:
        yield from map(_frame_one, tasks)
        return
    yield from outcomes_in_completion_order(
        _frame_one, tasks, workers, on_worker_death=_worker_died
    )


def _worker_died(task: _SubjectTask) -> _SubjectOutcome:
    """A subject in flight when its worker was killed: finished files are safe on disk, and a
    rerun frames exactly the subjects reported here."""
    row = (task.subject_key, task.subject_id, WORKER_DIED)
    return _SubjectOutcome(task.subject_key, task.subject_id, None, 0.0, row)


def choose_reference(volumes: Sequence[CachedVolume], reference: str | None) -> CachedVolume:
    """The reference volume: the entry whose key (or else subject id) is `reference`; by default
    the training-split entry with the smallest key, or the entry with the smallest key when no
    entry is in a "train" split.

    Raises:
        InputError: no entry (or several, by subject id) matches `reference`.
    """
    ordered = sorted(volumes, key=lambda volume: volume.key)
    if not ordered:
        raise ValueError("no volume to choose a reference from")
    if reference is None:
        training = [volume for volume in ordered if volume.split == "train"]
        return (training or ordered)[0]
    matches = [v for v in ordered if v.key == reference] or [
        v for v in ordered if v.subject_id == reference
    ]
    if len(matches) == 1:
        return matches[0]
    folder = ordered[0].folder.parent
    if matches:
        keys = ", ".join(volume.key for volume in matches)
        raise InputError(folder, f"subject {reference!r} has several entries ({keys}): pick a key")
    raise InputError(
        folder, f"no entry with key or subject id {reference!r} to use as the reference"
    )


def build_frame(
    cache_root: str | Path,
    *,
    reference_key: str | None = None,
    spec_hash: str | None = None,
    patch_vox: int | Sequence[int] = 32,
    stride_vox: int | Sequence[int] = 26,
    region_labels: Sequence[int] | None = None,
    min_coverage: float = 0.1,
    iterations: int = 200,
    workers: int = 1,
    shard: Shard | None = None,
    split: str = "all",
    progress: bool = True,
) -> FrameReport:
    """Build the anatomical frame of this shard of a cache's subjects; resumable, idempotent.

    The grid (`location_grid`) is defined on the reference and stored as `locations.npz`; each
    subject (sorted by key, then sharded) gets `<key>.npz` (`frame_subject`). Subjects with a
    current file are skipped; stale files are re-framed, and removed when their subject has
    left the cache. The folder's `frame_id` hashes the reference (key and array bytes) and the
    settings, not the split: runs over different splits share one frame, each adding its
    subjects.

    Args:
        cache_root: the cache folder.
        reference_key: the reference's entry key or subject id; by default the training-split
            entry with the smallest key (any entry's smallest key when no split is "train").
            For MRI, preprocess the atlas into the cache and name it here.
        spec_hash: the preprocessing spec (None: the cache's only one).
        patch_vox, stride_vox: patch size and stride in voxels (the paper: 32 and 26 at 1 mm).
        region_labels: label values of the region (e.g. the lungs); None keeps locations on the
            reference's body foreground and registers on the whole image.
        min_coverage: fraction of a patch in the region to keep it (the paper: 0.1).
        iterations: the registration's maximum iterations per pyramid level.
        workers: parallel processes (1 = in this process).
        shard: which slice of the subjects to frame (default: all).
        split: frame only the entries of this manifest split ("all": every entry).
        progress: show a progress bar.

    Returns:
        The run's report; rejects are also written to `rejects{shard suffix}.csv`.

    Raises:
        InputError: a missing cache, no subject in the split, an unknown reference, region labels
            on a reference without a label map, or no location kept.
        ConfigError: a count below 1 or a coverage outside [0, 1].
    """
    started = time.perf_counter()
    if min(workers, iterations) < 1:
        raise ConfigError(f"workers and iterations must be >= 1, got {workers}, {iterations}")
    shard = shard or Shard()
    cache = VolumeCache(cache_root)
    if not cache.root.is_dir():
        raise InputError(cache.root, "no such cache folder")
    spec_hash = cache.resolve_spec_hash(spec_hash)
    volumes = cache.entries(spec_hash)
    subjects = {v.key: v for v in volumes if split == "all" or v.split == split}
    if not subjects:
        where = "" if split == "all" else f" in split {split!r}"
        raise InputError(cache.entries_folder(spec_hash), f"holds no volume{where} to frame")
    reference = choose_reference(volumes, reference_key)
    labels = None if region_labels is None else tuple(sorted({int(v) for v in region_labels}))
    dims = reference.spatial_dims
    patch, stride = per_axis(patch_vox, dims, "patch_vox"), per_axis(stride_vox, dims, "stride_vox")
    grid = location_grid(
        reference,
        patch_vox=patch,
        stride_vox=stride,
        region_labels=labels,
        min_coverage=min_coverage,
    )
    region = "body foreground" if labels is None else f"labels {list(labels)}"
    if labels is None:
        logger.info("no region labels: locations kept on the body foreground, image registered")
    settings: dict[str, Any] = {
        "patch_vox": list(patch),
        "stride_vox": list(stride),
        "region_labels": None if labels is None else list(labels),
        "min_coverage": float(min_coverage),
        "iterations": iterations,
        "pyramid_mm": list(PYRAMID_MM),
        "max_metric_samples": MAX_METRIC_SAMPLES,
    }
    reference_sha256 = content_sha256(reference)
    identity = frame_id(settings, reference_key=reference.key, reference_sha256=reference_sha256)
    folder = frame_folder(cache, spec_hash, identity)
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomically(
        folder / FRAME_FILE,
        {
            "frame_id": identity,
            "reference_key": reference.key,
            "reference_subject": reference.subject_id,
            "reference_sha256": reference_sha256,
            "settings": settings,
            "locations": grid.count,
        },
    )
    save_locations(folder, grid, frame_id=identity, reference=reference)
    keys = sorted(subjects)
    selected = shard.select(keys)
    report = FrameReport(
        identity,
        str(folder),
        f"{shard.index}/{shard.count}",
        reference.key,
        reference.subject_id,
        region,
        grid.count,
        subjects=len(selected),
    )
    fingerprints = {volume.key: entry_fingerprint(volume) for volume in volumes}
    scan = scan_frame_files(folder, fingerprints, locations=grid.count)
    # the shard (and split) that holds a stale file's volume re-frames it
    report.stale = settle_stale_outputs(scan.stale, fingerprints, selected, redo="re-framing")
    report.skipped = sum(key in scan.current for key in selected)
    tasks = [
        _SubjectTask(
            reference=reference.folder,
            subject=subjects[key].folder,
            subject_key=key,
            subject_id=subjects[key].subject_id,
            grid=grid,
            region_labels=labels,
            iterations=iterations,
            frame_id=identity,
            out=folder,
        )
        for key in selected
        if key not in scan.current
    ]
    with tqdm(
        total=len(selected),
        initial=report.skipped,
        desc=f"frame {shard.index}/{shard.count}",
        unit="vol",
        disable=not progress,
    ) as bar:
        for outcome in _run_outcomes(tasks, workers):
            _count(report, outcome)
            bar.update(1)
            bar.set_postfix(rejected=report.rejected, sparse=len(report.sparse))
    write_rejects(folder / f"rejects{shard.suffix}.csv", REJECTS_HEADER, report.rejects)
    report.seconds = time.perf_counter() - started
    return report


def _count(report: FrameReport, outcome: _SubjectOutcome) -> None:
    """Add one subject's outcome to the report."""
    if outcome.frame is None:
        report.rejected += 1
        if outcome.reject is not None:
            report.rejects.append(outcome.reject)
            logger.warning(
                "framing %s (%s): %s", outcome.key, outcome.subject_id, outcome.reject[2]
            )
        return
    frame = outcome.frame
    report.framed += 1
    report.volume_seconds += outcome.seconds
    report.outside_volume += frame.outside_volume
    report.outside_region += frame.outside_region
    if frame.valid_fraction < SPARSE_FRACTION:
        report.sparse.append((outcome.key, outcome.subject_id, frame.valid_fraction))
        logger.warning(
            "subject %s (%s) serves only %.0f%% of the locations (%d outside its volume, %d "
            "outside its region)",
            outcome.subject_id,
            outcome.key,
            100 * frame.valid_fraction,
            frame.outside_volume,
            frame.outside_region,
        )
