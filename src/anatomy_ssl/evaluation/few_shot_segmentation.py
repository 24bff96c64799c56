"""Few-shot segmentation (docs/architecture.md, protocols 1 and 5): the grid of k x seeds x modes.

For every k (labeled training subjects), seed and mode ("finetune", "frozen", "frozen_deep"),
a network is trained from the encoder on the seed's k-subset (`few_shot_subsets`) and scored by
Dice per structure on one fixed held-out test set; mode "knn" trains nothing and transfers the
subset's labels by nearest neighbours in the frozen deep maps (`knn_label_transfer`).
`summarize_few_shot` gives the mean over seeds with a 95% bootstrap interval per (mode, k),
`label_efficiency_curve` the Dice-vs-k line of protocol 5, and `compare_few_shot` a method
against a baseline (e.g. scratch) on paired runs.
`few_shot_outcomes` packs the runs per seed into the fields of the project's `EvaluationRecord`
(and `few_shot_records_from_evaluation` unpacks them for reports).
"""

from __future__ import annotations

import math
import multiprocessing
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from anatomy_ssl.evaluation.bootstrap_interval import (
    DEFAULT_RESAMPLES,
    PairedComparison,
    bootstrap_interval,
    paired_comparison,
)
from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.evaluation.few_shot_subsets import ALL, few_shot_subsets
from anatomy_ssl.evaluation.knn_label_transfer import knn_label_transfer
from anatomy_ssl.evaluation.segmentation_finetuning import (
    MODES,
    FineTunedSegmenter,
    finetune_segmentation,
    fit_to_multiple,
)
from anatomy_ssl.evaluation.segmentation_scoring import score_volumes
from anatomy_ssl.models import Encoder
from anatomy_ssl.parallel import die_with_parent
from anatomy_ssl.preprocess import CachedVolume

DEFAULT_K_VALUES: tuple[int | str, ...] = (1, 2, 5, 10, ALL)
DEFAULT_SEEDS = (0, 1, 2)
PROTOCOL = "few_shot_segmentation"
KNN_MODE = "knn"
GRID_MODES = (*MODES, KNN_MODE)


@dataclass(frozen=True)
class FewShotRecord:
    """One trained-and-scored run.

    Attributes:
        k: labeled training subjects used.
        seed: the run's seed (chooses the k-subset, initialisation and crops).
        mode: "finetune", "frozen", "frozen_deep" or "knn".
        train_subjects: the k subject ids (sorted).
        test_subjects: the test subject ids, in the order of `dice_per_volume` rows.
        structure_labels: `(K,)` label values scored (1..num_classes-1).
        dice: `(K,)` Dice per structure, mean over the test volumes that contain it (NaN if none).
        dice_per_volume: `(V, K)` Dice per test volume and structure (NaN where absent).
        mean_dice: mean of `dice` over structures, NaN left out.
        steps: optimizer steps trained.
        train_seconds: wall time of training.
    """

    k: int
    seed: int
    mode: str
    train_subjects: tuple[str, ...]
    test_subjects: tuple[str, ...]
    structure_labels: tuple[int, ...]
    dice: np.ndarray
    dice_per_volume: np.ndarray
    mean_dice: float
    steps: int
    train_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (arrays as lists, NaN as None)."""
        return {
            "k": self.k,
            "seed": self.seed,
            "mode": self.mode,
            "train_subjects": list(self.train_subjects),
            "test_subjects": list(self.test_subjects),
            "structure_labels": list(self.structure_labels),
            "dice": _json_floats(self.dice),
            "dice_per_volume": [_json_floats(row) for row in self.dice_per_volume],
            "mean_dice": _json_float(self.mean_dice),
            "steps": self.steps,
            "train_seconds": self.train_seconds,
        }

    @classmethod
    def from_per_volume(
        cls,
        *,
        k: int,
        seed: int,
        mode: str,
        train_subjects: tuple[str, ...],
        test_subjects: tuple[str, ...],
        dice_per_volume: np.ndarray,
        steps: int,
        train_seconds: float,
    ) -> FewShotRecord:
        """A record from its `(V, K)` per-volume Dice (structures are labels 1..K)."""
        dice = _nanmean(dice_per_volume, axis=0)  # (K,)
        return cls(
            k=k,
            seed=seed,
            mode=mode,
            train_subjects=tuple(train_subjects),
            test_subjects=tuple(test_subjects),
            structure_labels=tuple(range(1, dice_per_volume.shape[1] + 1)),
            dice=dice,
            dice_per_volume=dice_per_volume,
            mean_dice=float(_nanmean(dice, axis=0)),
            steps=steps,
            train_seconds=train_seconds,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FewShotRecord:
        """Inverse of `to_dict`."""
        labels = tuple(int(label) for label in data["structure_labels"])
        per_volume = _array(data["dice_per_volume"]).reshape(-1, len(labels))
        return cls(
            k=int(data["k"]),
            seed=int(data["seed"]),
            mode=str(data["mode"]),
            train_subjects=tuple(data["train_subjects"]),
            test_subjects=tuple(data["test_subjects"]),
            structure_labels=labels,
            dice=_array(data["dice"]),
            dice_per_volume=per_volume,
            mean_dice=float("nan") if data["mean_dice"] is None else float(data["mean_dice"]),
            steps=int(data["steps"]),
            train_seconds=float(data["train_seconds"]),
        )


@dataclass(frozen=True)
class FewShotSummary:
    """Runs of one (mode, k) over seeds.

    Attributes:
        mode: "finetune", "frozen" or "frozen_deep".
        k: labeled training subjects.
        num_runs: seeds summarized.
        mean_dice: mean over seeds of each run's mean Dice.
        ci_low: lower end of its percentile bootstrap interval (over seeds).
        ci_high: upper end.
        confidence: coverage of the interval.
        structure_labels: `(K,)` label values.
        dice: `(K,)` per-structure Dice, mean over seeds (NaN left out).
    """

    mode: str
    k: int
    num_runs: int
    mean_dice: float
    ci_low: float
    ci_high: float
    confidence: float
    structure_labels: tuple[int, ...]
    dice: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (arrays as lists, NaN as None)."""
        return {
            "mode": self.mode,
            "k": self.k,
            "num_runs": self.num_runs,
            "mean_dice": _json_float(self.mean_dice),
            "ci_low": _json_float(self.ci_low),
            "ci_high": _json_float(self.ci_high),
            "confidence": self.confidence,
            "structure_labels": list(self.structure_labels),
            "dice": _json_floats(self.dice),
        }


@dataclass(frozen=True)
class LabelEfficiencyCurve:
    """Dice against k for one mode (protocol 5): `(n,)` arrays in increasing k."""

    mode: str
    k: np.ndarray
    mean_dice: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray


def infer_num_classes(volumes: Sequence[CachedVolume]) -> int:
    """1 + the largest label value in the volumes (from `meta["label_values"]` when recorded).

    Raises:
        ValueError: a volume without a label map, or no structure (only background).
    """
    largest = 0
    for volume in volumes:
        values = volume.meta.get("label_values")
        if values is None:
            label = volume.load_label()
            if label is None:
                raise ValueError(f"{volume!r} has no label map")
            values = [int(label.max())] if label.size else [0]
        largest = max(largest, *(int(value) for value in values), 0)
    if largest < 1:
        raise ValueError("the volumes have no labeled structure (only background)")
    return largest + 1


def run_few_shot_segmentation(
    encoder: Encoder,
    train_volumes: Sequence[CachedVolume],
    test_volumes: Sequence[CachedVolume],
    *,
    k_values: Sequence[int | str] = DEFAULT_K_VALUES,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    modes: Sequence[str] = MODES,
    num_classes: int | None = None,
    steps: int,
    crop_size_vox: int | Sequence[int],
    batch_size: int = 2,
    lr: float = 1e-2,
    encoder_lr: float | None = None,
    warmup_steps: int = 0,
    weight_decay: float = 1e-5,
    foreground_fraction: float = 0.5,
    window_vox: int | Sequence[int] | None = None,
    sw_batch_size: int = 4,
    overlap: float = 0.25,
    device: str | torch.device = "cpu",
    bf16: bool = False,
    decoder_channels: Sequence[int] | None = None,
    progress: bool = True,
    on_run: Callable[[FewShotRecord, FineTunedSegmenter], None] | None = None,
    workers: int = 1,
) -> list[FewShotRecord]:
    """Train and score one network per (k, seed, mode); the encoder itself is never modified.

    Args:
        encoder: the encoder under evaluation (e.g. from `load_encoder`), or a fresh one for
            the scratch baseline.
        train_volumes: the labeled pool the k-subsets are drawn from (by subject).
        test_volumes: the fixed held-out test set; no subject may also be in `train_volumes`.
        k_values: subset sizes, positive integers or "all". Sizes above the number of training
            subjects are skipped with a warning; sizes that coincide (10 and "all" with 10
            subjects) run once.
        seeds: one run per seed (>= 3 for an interval worth reading).
        modes: any of "finetune", "frozen", "frozen_deep", "knn" (no training: `steps` and
            the optimizer settings do not apply; its record has 0 steps).
        num_classes: classes with background; default `infer_num_classes` of all volumes.
        steps: optimizer steps per run.
        crop_size_vox: training crop side or sizes (rounded up to the encoder's multiple).
        batch_size: crops per step.
        lr: peak learning rate of decoder / head.
        encoder_lr: encoder learning rate in "finetune" (default `lr`).
        warmup_steps: linear learning-rate warm-up steps.
        weight_decay: AdamW weight decay.
        foreground_fraction: probability that a crop is centred on a labeled voxel.
        window_vox: sliding-window size (default: the crop size), rounded up likewise.
        sw_batch_size: windows per forward pass at test time.
        overlap: sliding-window overlap.
        device: where to train and predict.
        bf16: bfloat16 autocast (GPUs).
        decoder_channels: U-Net decoder widths ("finetune").
        progress: show a tqdm bar over runs.
        on_run: called after each trained run with its record and network (e.g. to save a
            segmentation overlay with `predict_label_map`); the network is dropped afterwards.
            Not called for "knn", which has no network.
        workers: runs trained at once on the CPU, each in its own process with an equal share
            of torch's threads (the runs are small, so two single-threaded processes on two
            cores do far more than one with two threads); records come back in grid order
            either way. Ignored on a GPU.

    Returns:
        One record per run, ordered by k, then seed, then mode.
    """
    unknown = sorted(set(modes) - set(GRID_MODES))
    if unknown:
        raise ValueError(f"unknown mode(s) {unknown}; choose from {GRID_MODES}")
    if not seeds:
        raise ValueError("need at least one seed")
    if not test_volumes:
        raise ValueError("need at least one test volume")
    train_ids = sorted({volume.subject_id for volume in train_volumes})
    test_ids = tuple(volume.subject_id for volume in test_volumes)
    leaked = sorted(set(train_ids) & set(test_ids))
    if leaked:
        raise ValueError(f"subjects in both the training pool and the test set: {leaked}")
    classes = (
        infer_num_classes([*train_volumes, *test_volumes]) if num_classes is None else num_classes
    )
    window = fit_to_multiple(
        crop_size_vox if window_vox is None else window_vox,
        spatial_dims=encoder.spatial_dims,
        multiple=encoder.min_input_multiple,
    )
    usable = usable_k_values(k_values, len(train_ids))
    subsets = {seed: few_shot_subsets(train_ids, usable, seed=seed) for seed in seeds}
    sizes = sorted(next(iter(subsets.values())))
    jobs = []
    for k in sizes:
        for seed in seeds:
            subjects = tuple(subsets[seed][k])
            chosen = set(subjects)
            volumes = [volume for volume in train_volumes if volume.subject_id in chosen]
            jobs += [
                _RunJob(k, seed, mode, subjects, volumes, keep_network=on_run is not None)
                for mode in modes
            ]
    common = _RunCommon(
        encoder=encoder,
        test_volumes=list(test_volumes),
        test_ids=test_ids,
        num_classes=classes,
        window=window,
        training={
            "steps": steps,
            "crop_size_vox": crop_size_vox,
            "batch_size": batch_size,
            "lr": lr,
            "encoder_lr": encoder_lr,
            "warmup_steps": warmup_steps,
            "weight_decay": weight_decay,
            "foreground_fraction": foreground_fraction,
            "device": device,
            "bf16": bf16,
            "decoder_channels": decoder_channels,
        },
        scoring={"sw_batch_size": sw_batch_size, "overlap": overlap},
    )
    records = []
    bar = tqdm(total=len(jobs), desc="few-shot segmentation", unit="run", disable=not progress)
    with bar, _run_pool(workers if torch.device(device).type == "cpu" else 1, common) as run:
        for record, trained in run(jobs):
            records.append(record)
            if on_run is not None and trained is not None:
                on_run(record, trained)
            bar.set_postfix(
                k=record.k, seed=record.seed, mode=record.mode, dice=f"{record.mean_dice:.3f}"
            )
            bar.update()
            del trained  # free the network before the next run
    return records


def summarize_few_shot(
    records: Sequence[FewShotRecord],
    *,
    confidence: float = 0.95,
    num_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> list[FewShotSummary]:
    """Mean Dice over seeds with a percentile bootstrap interval, per (mode, k).

    Args:
        records: runs (e.g. from `run_few_shot_segmentation`) of one encoder and dataset.
        confidence: interval coverage.
        num_resamples: bootstrap resamples.
        seed: bootstrap generator seed.

    Returns:
        One summary per (mode, k), sorted by mode then k.
    """
    groups: dict[tuple[str, int], list[FewShotRecord]] = {}
    for record in records:
        groups.setdefault((record.mode, record.k), []).append(record)
    summaries = []
    for (mode, k), group in sorted(groups.items()):
        interval = bootstrap_interval(
            [record.mean_dice for record in group],
            confidence=confidence,
            num_resamples=num_resamples,
            seed=seed,
        )
        summaries.append(
            FewShotSummary(
                mode=mode,
                k=k,
                num_runs=len(group),
                mean_dice=interval.mean,
                ci_low=interval.low,
                ci_high=interval.high,
                confidence=confidence,
                structure_labels=group[0].structure_labels,
                dice=_nanmean(np.stack([record.dice for record in group]), axis=0),
            )
        )
    return summaries


def label_efficiency_curve(
    summaries: Sequence[FewShotSummary], *, mode: str
) -> LabelEfficiencyCurve:
    """The Dice-vs-k line of one mode (protocol 5), from `summarize_few_shot`'s output."""
    rows = sorted((s for s in summaries if s.mode == mode), key=lambda s: s.k)
    return LabelEfficiencyCurve(
        mode=mode,
        k=np.asarray([s.k for s in rows], dtype=np.int64),
        mean_dice=np.asarray([s.mean_dice for s in rows], dtype=np.float64),
        ci_low=np.asarray([s.ci_low for s in rows], dtype=np.float64),
        ci_high=np.asarray([s.ci_high for s in rows], dtype=np.float64),
    )


def compare_few_shot(
    method: Sequence[FewShotRecord],
    baseline: Sequence[FewShotRecord],
    *,
    mode: str,
    k: int,
    confidence: float = 0.95,
    num_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> PairedComparison:
    """A method against a baseline (e.g. scratch) at one (mode, k), paired per (seed, test volume).

    Each unit is one test volume's mean Dice over its structures in the run of one seed; both
    encoders were trained on the same k-subset for that seed (subsets depend only on the seed
    and the training pool), so the pairs share data and differ by the encoder.

    Raises:
        ValueError: no common (seed, test subject) pairs at this (mode, k).
    """
    first = _volume_scores(method, mode=mode, k=k)
    second = _volume_scores(baseline, mode=mode, k=k)
    common = sorted(set(first) & set(second))
    if not common:
        raise ValueError(f"no paired (seed, test subject) runs for mode {mode!r}, k={k}")
    return paired_comparison(
        [first[unit] for unit in common],
        [second[unit] for unit in common],
        confidence=confidence,
        num_resamples=num_resamples,
        seed=seed,
    )


def few_shot_outcomes(records: Sequence[FewShotRecord]) -> list[dict[str, Any]]:
    """The runs as one outcome per seed: `{"seed", "metrics", "samples", "details"}`, the
    fields of an `EvaluationRecord` of protocol "few_shot_segmentation".

    Metrics are named `"<mode>_k<k>_dice"` (mean over structures), `"<mode>_k<k>_dice_label<L>"`
    and `"<mode>_k<k>_train_seconds"`; samples `"<mode>_k<k>_dice"` (one value per test volume,
    in `test_subjects` order: its mean Dice over the structures it contains), so a report can
    pair two encoders by (seed, test volume);
    `details["runs"]` keeps each `FewShotRecord.to_dict()` (see
    `few_shot_records_from_evaluation`).

    Args:
        records: runs of one encoder on one dataset.

    Returns:
        One outcome per seed, in increasing seed.
    """
    by_seed: dict[int, list[FewShotRecord]] = {}
    for record in records:
        by_seed.setdefault(record.seed, []).append(record)
    outcomes = []
    for seed, group in sorted(by_seed.items()):
        metrics: dict[str, float] = {}
        samples: dict[str, list[float]] = {}
        for record in group:
            prefix = f"{record.mode}_k{record.k}"
            metrics[f"{prefix}_dice"] = record.mean_dice
            for label, value in zip(record.structure_labels, record.dice, strict=True):
                metrics[f"{prefix}_dice_label{label}"] = float(value)
            metrics[f"{prefix}_train_seconds"] = record.train_seconds
            samples[f"{prefix}_dice"] = _nanmean(record.dice_per_volume, axis=1).tolist()
        outcomes.append(
            {
                "seed": seed,
                "metrics": metrics,
                "samples": samples,
                "details": {"runs": [record.to_dict() for record in group]},
            }
        )
    return outcomes


def merge_few_shot_records(earlier: EvaluationRecord, added: EvaluationRecord) -> EvaluationRecord:
    """One seed's record with the runs of `added` (new modes) joined to those of `earlier`.

    Metrics, samples and runs are united (`added` wins a name both have); other details (the
    overlay) and everything else come from `earlier`, with `settings["modes"]` the earlier
    modes followed by the new ones.

    Raises:
        ValueError: records of different seeds, methods, datasets or protocols.
    """
    keys = ("seed", "method", "dataset", "protocol")
    if any(getattr(earlier, key) != getattr(added, key) for key in keys):
        raise ValueError(
            "cannot merge few-shot records of different "
            + "/".join(f"{getattr(earlier, k)}|{getattr(added, k)}" for k in keys)
        )
    new_modes = [
        mode
        for mode in added.settings.get("modes", ())
        if mode not in earlier.settings.get("modes", ())
    ]
    runs = [run for run in earlier.details.get("runs", []) if run["mode"] not in new_modes] + list(
        added.details.get("runs", [])
    )
    return replace(
        earlier,
        metrics={**earlier.metrics, **added.metrics},
        samples={**earlier.samples, **added.samples},
        settings={**earlier.settings, "modes": [*earlier.settings.get("modes", ()), *new_modes]},
        details={**earlier.details, "runs": runs},
    )


def few_shot_records_from_evaluation(records: Sequence[EvaluationRecord]) -> list[FewShotRecord]:
    """The runs kept in records built from `few_shot_outcomes` (other protocols skipped)."""
    return [
        FewShotRecord.from_dict(run)
        for record in records
        if record.protocol == PROTOCOL
        for run in record.details.get("runs", [])
    ]


def _volume_scores(
    records: Sequence[FewShotRecord], *, mode: str, k: int
) -> dict[tuple[int, str], float]:
    """(seed, test subject) -> that volume's mean Dice over structures, for one (mode, k)."""
    scores = {}
    for record in records:
        if record.mode != mode or record.k != k:
            continue
        per_volume = _nanmean(record.dice_per_volume, axis=1)  # (V,)
        for subject, score in zip(record.test_subjects, per_volume, strict=True):
            scores[(record.seed, subject)] = float(score)
    return scores


def usable_k_values(k_values: Sequence[int | str], pool_size: int) -> list[int | str]:
    """The k values that fit a pool of `pool_size` training subjects (the rest skipped with a
    warning); ValueError when none fits."""
    usable: list[int | str] = []
    for k in k_values:
        numeric = k.strip() if isinstance(k, str) else str(k)
        if numeric.isdigit() and int(numeric) > pool_size:
            warnings.warn(
                f"k={k} skipped: only {pool_size} training subjects", UserWarning, stacklevel=3
            )
            continue
        usable.append(k)
    if not usable:
        raise ValueError(f"no k in {list(k_values)} fits the {pool_size} training subjects")
    return usable


def _nanmean(values: np.ndarray, *, axis: int) -> np.ndarray:
    """Mean along `axis` with NaN left out; NaN where nothing is finite (no warning)."""
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    count = finite.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        result: np.ndarray = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return result


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _json_floats(values: np.ndarray) -> list[float | None]:
    return [_json_float(float(value)) for value in np.asarray(values).ravel()]


def _array(values: list[Any]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)  # None -> NaN


@dataclass(frozen=True)
class _RunJob:
    """One cell of the grid: which subset trains in which mode."""

    k: int
    seed: int
    mode: str
    subjects: tuple[str, ...]
    volumes: list[CachedVolume]
    keep_network: bool


@dataclass(frozen=True)
class _RunCommon:
    """What every run shares: the encoder, the test set and the recipe."""

    encoder: Encoder
    test_volumes: list[CachedVolume]
    test_ids: tuple[str, ...]
    num_classes: int
    window: tuple[int, ...]
    training: dict[str, Any]
    scoring: dict[str, Any]


_WORKER_COMMON: _RunCommon | None = None  # a pool worker's copy, sent once at start-up


def _train_and_score(
    job: _RunJob, common: _RunCommon | None = None
) -> tuple[FewShotRecord, FineTunedSegmenter | None]:
    """Train one network of the grid and score it on the test set (or transfer labels)."""
    common = common or _WORKER_COMMON
    assert common is not None
    if job.mode == KNN_MODE:
        return _transfer_and_score(job, common), None
    trained = finetune_segmentation(
        common.encoder,
        job.volumes,
        num_classes=common.num_classes,
        mode=job.mode,
        seed=job.seed,
        **common.training,
    )
    per_volume = score_volumes(
        trained.network,
        common.test_volumes,
        num_classes=common.num_classes,
        window_vox=common.window,
        device=common.training["device"],
        bf16=common.training["bf16"],
        **common.scoring,
    )  # (V, K)
    record = FewShotRecord.from_per_volume(
        k=job.k,
        seed=job.seed,
        mode=job.mode,
        train_subjects=job.subjects,
        test_subjects=common.test_ids,
        dice_per_volume=per_volume,
        steps=common.training["steps"],
        train_seconds=trained.train_seconds,
    )
    return record, trained if job.keep_network else None


def _transfer_and_score(job: _RunJob, common: _RunCommon) -> FewShotRecord:
    """The "knn" cell of the grid: label transfer from the subset, nothing trained."""
    result = knn_label_transfer(
        common.encoder,
        job.volumes,
        common.test_volumes,
        num_classes=common.num_classes,
        tile_vox=common.window,
        seed=job.seed,
        device=common.training["device"],
    )
    return FewShotRecord.from_per_volume(
        k=job.k,
        seed=job.seed,
        mode=job.mode,
        train_subjects=job.subjects,
        test_subjects=common.test_ids,
        dice_per_volume=result.dice_per_volume,
        steps=0,
        train_seconds=result.seconds,
    )


def _start_worker(common: _RunCommon, threads: int) -> None:
    global _WORKER_COMMON
    die_with_parent()
    torch.set_num_threads(threads)
    _WORKER_COMMON = common


@contextmanager
def _run_pool(
    workers: int, common: _RunCommon
) -> Iterator[Callable[[Sequence[_RunJob]], Iterator[tuple[FewShotRecord, Any]]]]:
    """A function that runs jobs and yields their results in job order: in this process
    (`workers` <= 1) or in a pool of spawned processes sharing the machine's threads."""
    if workers <= 1:
        yield lambda jobs: (_train_and_score(job, common) for job in jobs)
        return
    threads = max(torch.get_num_threads() // workers, 1)
    with ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(common, threads),
    ) as pool:
        try:
            yield lambda jobs: (
                future.result() for future in [pool.submit(_train_and_score, job) for job in jobs]
            )
        finally:  # a failed run stops the grid: queued runs are dropped, not waited for
            pool.shutdown(wait=True, cancel_futures=True)
