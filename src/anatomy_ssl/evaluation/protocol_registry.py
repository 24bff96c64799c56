"""Run a protocol by name on an encoder and an evaluation dataset; one record per seed.

Each runner picks the protocol's subjects from the dataset, calls the protocol, and turns its
result into `EvaluationRecord`s: flat metrics, per-unit samples (so a report can bootstrap and
pair them), and the details a report plots.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anatomy_ssl.configs import config_from_dict
from anatomy_ssl.correspondence import EmbeddingMatcher, RegistrationMatcher
from anatomy_ssl.embedding import embed_volume, frame_pooled_embeddings
from anatomy_ssl.errors import ConfigError, InputError
from anatomy_ssl.evaluation.attention_pooling_probe import (
    ATTENTION_SETTINGS,
    attention_pooling_probe,
)
from anatomy_ssl.evaluation.clinical_targets import ClinicalColumns, clinical_targets
from anatomy_ssl.evaluation.evaluation_dataset import EvaluationDataset, EvaluationSubject
from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.evaluation.few_shot_segmentation import (
    KNN_MODE,
    FewShotRecord,
    few_shot_outcomes,
    run_few_shot_segmentation,
)
from anatomy_ssl.evaluation.landmark_correspondence import (
    evaluate_landmark_correspondence,
    evaluate_matcher_correspondence,
)
from anatomy_ssl.evaluation.landmark_patch_locality import evaluate_landmark_patch_locality
from anatomy_ssl.evaluation.part_whole_compositionality import (
    evaluate_part_whole_compositionality,
)
from anatomy_ssl.evaluation.patient_prediction import evaluate_patient_prediction
from anatomy_ssl.evaluation.protocol_settings import (
    CompositionalitySettings,
    CorrespondenceSettings,
    FewShotSegmentationSettings,
    LocalitySettings,
    PatientPredictionSettings,
)
from anatomy_ssl.evaluation.regional_disease_probe import RegionRows, region_rows, regional_probe
from anatomy_ssl.evaluation.segmentation_finetuning import FineTunedSegmenter
from anatomy_ssl.evaluation.segmentation_overlay import save_segmentation_overlay
from anatomy_ssl.evaluation.segmentation_scoring import predict_label_map
from anatomy_ssl.models import Encoder

#: A protocol's result before it is labelled with method / dataset / encoder.
Outcome = dict[str, Any]


@dataclass(frozen=True)
class ProtocolContext:
    """What every runner may need besides the encoder, data and settings.

    Attributes:
        method: the encoder's label (names artifact files).
        artifacts_dir: where a runner may write files a report shows (overlay PNGs), or None.
        device: "cpu" or "cuda".
        progress: progress bars.
        workers: CPU processes a runner may train in at once (few-shot segmentation runs).
    """

    method: str
    artifacts_dir: Path | None = None
    device: str = "cpu"
    progress: bool = True
    workers: int = 1


Runner = Callable[[Encoder, EvaluationDataset, Any, ProtocolContext], list[Outcome]]


def parse_settings(protocol: str, values: Mapping[str, Any] | None) -> Any:
    """The protocol's settings dataclass from a dict (unknown keys are errors)."""
    cls = _SETTINGS.get(protocol)
    if cls is None:
        raise ConfigError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOL_NAMES)}")
    return config_from_dict(cls, dict(values or {}), source=f"{protocol} settings")


def split_protocol_overrides(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`{"locality.k": 3, "few_shot_segmentation": {...}}` -> protocol -> settings dict."""
    grouped: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        protocol, _, field = key.partition(".")
        if protocol not in _SETTINGS:
            raise ConfigError(
                f"override {key!r}: unknown protocol {protocol!r}; known: {', '.join(_SETTINGS)}"
            )
        if field:
            grouped.setdefault(protocol, {})[field] = value
        elif isinstance(value, Mapping):
            grouped.setdefault(protocol, {}).update(value)
        else:
            raise ConfigError(f"override {key!r} must name a setting, e.g. {key}.seeds=[0]")
    return grouped


def run_protocol(
    protocol: str,
    encoder: Encoder,
    dataset: EvaluationDataset,
    *,
    method: str,
    settings: Mapping[str, Any] | None = None,
    encoder_info: Mapping[str, Any] | None = None,
    artifacts_dir: Path | None = None,
    device: str = "cpu",
    progress: bool = True,
    workers: int = 1,
) -> list[EvaluationRecord]:
    """Run `protocol` and return its records (one per seed).

    Args:
        protocol: a name in `PROTOCOL_NAMES`.
        encoder: the encoder under test (loaded from its export folder).
        dataset: the data, preprocessed with the encoder's spec.
        method: label of the encoder in records ("scratch", "simclr", ...).
        settings: the protocol's settings (defaults otherwise).
        encoder_info: what to record about the encoder (folder, card fields).
        artifacts_dir: where runners may write files for the report (e.g. overlays).
        device: "cpu" or "cuda".
        progress: progress bars.
        workers: CPU processes a protocol may train in at once.
    """
    parsed = parse_settings(protocol, settings)
    context = ProtocolContext(
        method=method,
        artifacts_dir=artifacts_dir,
        device=device,
        progress=progress,
        workers=workers,
    )
    outcomes = _RUNNERS[protocol](encoder, dataset, parsed, context)
    return [
        EvaluationRecord(
            method=method,
            dataset=dataset.name,
            protocol=protocol,
            seed=int(outcome.get("seed", 0)),
            metrics=outcome["metrics"],
            samples=outcome.get("samples", {}),
            settings=asdict(parsed),
            encoder=dict(encoder_info or {}),
            details=outcome.get("details", {}),
        )
        for outcome in outcomes
    ]


def _subjects(dataset: EvaluationDataset, split: str, protocol: str) -> list[EvaluationSubject]:
    subjects = list(dataset.subjects) if split == "all" else dataset.split(split)
    if len(subjects) < 2:
        raise InputError(
            dataset.source,
            f"{protocol} needs at least 2 subjects in split {split!r}, found {len(subjects)}",
        )
    return subjects


def _landmarks(
    subjects: list[EvaluationSubject], dataset: EvaluationDataset, protocol: str
) -> dict[str, dict[str, np.ndarray]]:
    found = {s.subject_id: s.landmarks_mm for s in subjects if s.landmarks_mm}
    missing = [s.subject_id for s in subjects if s.subject_id not in found]
    if missing:
        raise InputError(dataset.source, f"{protocol} needs landmarks; none for {missing[:3]}")
    return found


def _few_shot_segmentation(
    encoder: Encoder,
    dataset: EvaluationDataset,
    settings: FewShotSegmentationSettings,
    context: ProtocolContext,
) -> list[Outcome]:
    train = [s.volume for s in dataset.split(settings.train_split) if s.volume.has_label]
    test = [s.volume for s in dataset.split(settings.test_split) if s.volume.has_label]
    if not train or not test:
        raise InputError(
            dataset.source,
            f"few-shot segmentation needs labelled volumes in splits {settings.train_split!r} "
            f"({len(train)} found) and {settings.test_split!r} ({len(test)} found)",
        )
    overlays: dict[int, str] = {}
    # sizes above the pool are skipped by the grid, so the largest run is the largest that fits
    sizes = [len(train) if str(k).lower() == "all" else int(k) for k in settings.k]
    largest_k = max((size for size in sizes if size <= len(train)), default=len(train))

    trained_modes = [mode for mode in settings.modes if mode != KNN_MODE]

    def save_overlay(record: FewShotRecord, trained: FineTunedSegmenter) -> None:
        # one picture per seed: the first trained mode at the largest k, on the first test volume
        if not settings.overlay or context.artifacts_dir is None:
            return
        if record.k != largest_k or record.mode != trained_modes[0]:
            return
        volume = test[0]
        image = volume.load_image()
        prediction = predict_label_map(
            trained.network,
            image,
            window_vox=trained.crop_size_vox,
            pad_value=volume.background_value,
            device=context.device,
        )
        reference = volume.load_label()
        assert reference is not None  # test volumes are labelled (checked above)
        name = f"few_shot_segmentation-overlay-seed{record.seed}.png"
        path = save_segmentation_overlay(
            image[0],
            reference[0],
            prediction,
            context.artifacts_dir / name,
            title=f"{context.method}, {record.mode}, k={record.k}: {volume.subject_id} "
            f"(mean Dice {record.mean_dice:.3f})",
        )
        overlays[record.seed] = path.name

    records = run_few_shot_segmentation(
        encoder,
        train,
        test,
        k_values=settings.k,
        seeds=settings.seeds,
        modes=settings.modes,
        steps=settings.steps,
        crop_size_vox=settings.crop_vox,
        batch_size=settings.batch_size,
        lr=settings.lr,
        encoder_lr=settings.encoder_lr,
        warmup_steps=settings.warmup_steps,
        foreground_fraction=settings.foreground_fraction,
        device=context.device,
        progress=context.progress,
        on_run=save_overlay,
        workers=context.workers,
    )
    outcomes = few_shot_outcomes(records)
    for outcome in outcomes:
        if outcome["seed"] in overlays:
            outcome["details"]["overlay_png"] = overlays[outcome["seed"]]
    return outcomes


def _correspondence(
    encoder: Encoder,
    dataset: EvaluationDataset,
    settings: CorrespondenceSettings,
    context: ProtocolContext,
) -> list[Outcome]:
    subjects = _subjects(dataset, settings.split, "correspondence")
    if settings.max_subjects:
        subjects = subjects[: settings.max_subjects]
    volumes = [s.volume for s in subjects]
    landmarks = _landmarks(subjects, dataset, "correspondence")
    if settings.matcher == "nearest":
        result = evaluate_landmark_correspondence(
            encoder,
            volumes,
            landmarks,
            radii_mm=settings.radii_mm,
            scales=settings.scales,
            grid_stride_vox=settings.grid_stride_vox,
            tile_vox=settings.tile_vox,
            refine=settings.refine,
            device=context.device,
        )
    else:
        if len(settings.scales) != 2:
            raise ConfigError("correspondence.scales must name a fine and a coarse map")
        matcher = (
            RegistrationMatcher()
            if settings.matcher == "registration"
            else EmbeddingMatcher(
                encoder,
                scales=(settings.scales[0], settings.scales[1]),
                tile_vox=settings.tile_vox,
                threshold=settings.threshold,
                refine=settings.refine,
                device=context.device,
            )
        )
        result = evaluate_matcher_correspondence(
            matcher, volumes, landmarks, radii_mm=settings.radii_mm
        )
    errors = np.asarray(result.errors_mm, dtype=float)
    samples = {"error_mm": errors.tolist(), "mean_error_mm": errors.tolist()}
    for radius in settings.radii_mm:
        samples[f"within_{radius:g}mm"] = (errors <= radius).astype(float).tolist()
    per_landmark = result.per_landmark_median_error_mm()
    return [
        {
            "metrics": result.metrics(),
            "samples": samples,
            "details": {"per_landmark_median_error_mm": per_landmark},
        }
    ]


def _locality(
    encoder: Encoder,
    dataset: EvaluationDataset,
    settings: LocalitySettings,
    context: ProtocolContext,
) -> list[Outcome]:
    subjects = _subjects(dataset, settings.split, "locality")
    result = evaluate_landmark_patch_locality(
        encoder,
        [s.volume for s in subjects],
        _landmarks(subjects, dataset, "locality"),
        patch_vox=settings.patch_vox,
        k=settings.k,
        device=context.device,
    )
    correct = (np.asarray(result.predicted_index) == np.asarray(result.label_index)).astype(float)
    return [
        {
            "metrics": result.metrics(),
            "samples": {"knn_accuracy": correct.tolist()},
            "details": {
                "embedding_map": {
                    "xy": _two_dimensional_map(np.asarray(result.embeddings)).tolist(),
                    "labels": list(result.labels),
                },
                "per_landmark_accuracy": result.per_landmark_accuracy(),
            },
        }
    ]


def _compositionality(
    encoder: Encoder,
    dataset: EvaluationDataset,
    settings: CompositionalitySettings,
    context: ProtocolContext,
) -> list[Outcome]:
    subjects = _subjects(dataset, settings.split, "compositionality")
    landmarks = (
        _landmarks(subjects, dataset, "compositionality") if settings.around_landmarks else None
    )
    result = evaluate_part_whole_compositionality(
        encoder,
        [s.volume for s in subjects],
        whole_vox=settings.whole_vox,
        wholes_per_volume=settings.wholes_per_volume,
        landmarks=landmarks,
        part_resampling=settings.part_resampling,
        device=context.device,
    )
    samples = {
        "part_whole_cosine_mean": result.cosines,
        "part_whole_centred_cosine_mean": result.centred_cosines,
        "other_whole_centred_cosine_mean": result.other_whole_cosines,
        "part_whole_specificity_mean": result.specificity,
    }
    return [
        {
            "metrics": result.metrics(),
            "samples": {k: np.asarray(v, dtype=float).tolist() for k, v in samples.items()},
        }
    ]


def _patient_prediction(
    encoder: Encoder,
    dataset: EvaluationDataset,
    settings: PatientPredictionSettings,
    context: ProtocolContext,
) -> list[Outcome]:
    subjects = _subjects(dataset, settings.split, "patient_prediction")
    missing = [s.subject_id for s in subjects if s.clinical is None]
    if missing:
        raise InputError(dataset.source, f"no clinical row for {missing[:3]}")
    pooling = settings.pooling
    if pooling == "auto":
        pooling = "frame" if encoder.requires_location else "volume"
    if pooling == "volume" and encoder.requires_location:
        raise ConfigError(
            "this encoder needs each patch's location, so it embeds a patient through an "
            "anatomical frame: set patient_prediction pooling to frame (or auto)"
        )
    if settings.regions and pooling != "frame":
        raise ConfigError("the regional probe (patient_prediction regions) needs pooling: frame")
    attention = _attention_settings(settings, pooling)
    clinical = {s.subject_id: s.clinical or {} for s in subjects}
    left_out: tuple[str, ...] = ()
    regional: RegionRows | None = None
    subtypes = None
    if pooling == "frame":
        pooled = frame_pooled_embeddings(
            encoder,
            [s.volume for s in subjects],
            settings.frame,
            workers=context.workers,
            device=context.device,
            progress=context.progress,
        )
        embeddings, ids, left_out = pooled.embeddings, list(pooled.subject_ids), pooled.notes
        locations = pooled.locations
        if settings.regions:
            table = [clinical[subject] for subject in ids]
            regional = region_rows(
                pooled.locations, pooled.location_labels, table, settings.regions
            )
            if "subtype" in settings.tasks:
                subtypes = [row.get(ClinicalColumns().subtype, "") for row in table]
    else:
        embeddings = np.stack(
            [
                embed_volume(
                    encoder, s.volume, tile_vox=settings.tile_vox, device=context.device
                ).embedding
                for s in subjects
            ]
        )  # (N, D)
        ids = [s.subject_id for s in subjects]
    targets = None if attention is None else clinical_targets(ids, clinical, tasks=settings.tasks)
    outcomes = []
    for seed in settings.seeds:
        result = evaluate_patient_prediction(
            embeddings, ids, clinical, tasks=settings.tasks, n_folds=settings.n_folds, seeds=(seed,)
        )
        notes = [*left_out, *result.notes]
        metrics = result.metrics()
        if regional is not None:
            probe = regional_probe(regional, subtypes, n_folds=settings.n_folds, seeds=(seed,))
            metrics.update(probe.metrics())
            notes.extend(f"regional: {note}" for note in probe.notes)
        details: dict[str, Any] = {"notes": notes, "pooling": pooling}
        if attention is not None and targets is not None and seed in attention["seeds"]:
            attended = attention_pooling_probe(
                locations,
                severity=targets.severity,
                subtype=None if targets.subtype is None else list(targets.subtype),
                survival_time=targets.survival_time,
                event=targets.event,
                n_folds=settings.n_folds,
                seeds=(seed,),
                device=context.device,
                **attention["model"],
            )
            metrics.update(attended.metrics())
            notes.extend(f"attention: {note}" for note in attended.notes)
            details["attention_mean_weights"] = attended.mean_weights.round(5).tolist()
        outcomes.append({"seed": seed, "metrics": metrics, "details": details})
    return outcomes


def _attention_settings(settings: PatientPredictionSettings, pooling: str) -> dict[str, Any] | None:
    """`{"seeds": repeats that run it, "model": attention_pooling_probe keywords}`, or None
    when `attention_pooling` is empty."""
    if not settings.attention_pooling:
        return None
    if pooling != "frame":
        raise ConfigError(
            "attention pooling (patient_prediction attention_pooling) needs pooling: frame"
        )
    model = dict(settings.attention_pooling)
    seeds = tuple(int(seed) for seed in model.pop("seeds", settings.seeds))
    unknown = sorted(set(model) - set(ATTENTION_SETTINGS))
    if unknown:
        raise ConfigError(
            f"unknown patient_prediction attention_pooling settings {unknown}; known: seeds, "
            f"{', '.join(ATTENTION_SETTINGS)}"
        )
    return {"seeds": seeds, "model": model}


def _two_dimensional_map(embeddings: np.ndarray) -> np.ndarray:
    """`(N, D)` -> `(N, 2)`: the first two principal components of the L2-normalised rows."""
    rows = torch.nn.functional.normalize(torch.as_tensor(embeddings, dtype=torch.float64), dim=1)
    centred = rows - rows.mean(dim=0)
    _, _, right = torch.linalg.svd(centred, full_matrices=False)
    return (centred @ right[:2].T).numpy() if len(right) >= 2 else np.zeros((len(rows), 2))


_SETTINGS: dict[str, type] = {
    "few_shot_segmentation": FewShotSegmentationSettings,
    "correspondence": CorrespondenceSettings,
    "locality": LocalitySettings,
    "compositionality": CompositionalitySettings,
    "patient_prediction": PatientPredictionSettings,
}
_RUNNERS: dict[str, Runner] = {
    "few_shot_segmentation": _few_shot_segmentation,
    "correspondence": _correspondence,
    "locality": _locality,
    "compositionality": _compositionality,
    "patient_prediction": _patient_prediction,
}
PROTOCOL_NAMES = tuple(_SETTINGS)
