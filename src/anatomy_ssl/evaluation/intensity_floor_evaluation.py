"""Write the intensity floor's few-shot records for a dataset, like `evaluate_encoder` does for an
encoder (same record layout, method `FLOOR`), so reports put the floor in every few-shot table."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from anatomy_ssl.errors import InputError
from anatomy_ssl.evaluation.control_methods import FLOOR
from anatomy_ssl.evaluation.evaluation_dataset import load_evaluation_dataset
from anatomy_ssl.evaluation.evaluation_record import (
    EvaluationRecord,
    read_record,
    same_settings,
    write_record,
)
from anatomy_ssl.evaluation.few_shot_segmentation import (
    PROTOCOL,
    FewShotRecord,
    few_shot_outcomes,
    infer_num_classes,
    usable_k_values,
)
from anatomy_ssl.evaluation.intensity_floor import intensity_floor_runs
from anatomy_ssl.evaluation.protocol_registry import parse_settings
from anatomy_ssl.preprocess import PreprocessSpec

log = logging.getLogger(__name__)
FLOOR_RULE = "majority label per intensity bin"


def evaluate_intensity_floor(
    data: str | Path,
    records_dir: str | Path,
    *,
    spec: PreprocessSpec,
    settings: Mapping[str, Any] | None = None,
    dataset_name: str | None = None,
    label_set: str | None = None,
    cache_dir: str | Path,
    workers: int = 1,
    skip_done: bool = True,
    progress: bool = True,
) -> list[EvaluationRecord]:
    """The floor's records: `<records_dir>/<dataset>/intensity_floor/few_shot_segmentation-seed<k>`.

    Each (k, seed) fits the lookup on the same k-subset the encoders' runs of that seed train
    on, and scores the same test volumes; one record per mode of the settings carries the same
    Dice, so the floor sits in the "finetune" and the "frozen" columns alike.

    Args:
        data: a built-in dataset folder or a manifest.
        records_dir: root of the records.
        spec: the preprocessing the encoders under comparison use (intensities as they see them).
        settings: few-shot segmentation settings (k, seeds, modes, splits).
        dataset_name: dataset label (default: the data folder's name).
        label_set: a label set of a built-in folder.
        cache_dir: where the data is preprocessed.
        workers: preprocessing processes.
        skip_done: keep existing records.
        progress: progress bars while preprocessing.
    """
    parsed = parse_settings(PROTOCOL, settings)
    records_dir = Path(records_dir)
    dataset = load_evaluation_dataset(
        data,
        spec,
        cache_dir,
        label_set=label_set,
        name=dataset_name,
        workers=workers,
        progress=progress,
    )
    folder = records_dir / dataset.name / FLOOR
    settings_of_run = {**asdict(parsed), "floor": FLOOR_RULE}
    if skip_done and all(
        _same_grid(folder / f"{PROTOCOL}-seed{seed}.json", settings_of_run) for seed in parsed.seeds
    ):
        log.info("%s / %s: records exist, skipped", dataset.name, FLOOR)
        return []
    train = [s.volume for s in dataset.split(parsed.train_split) if s.volume.has_label]
    test = [s.volume for s in dataset.split(parsed.test_split) if s.volume.has_label]
    if not train or not test:
        raise InputError(
            dataset.source, "the intensity floor needs labelled train and test volumes"
        )
    classes = infer_num_classes([*train, *test])
    k_values = usable_k_values(parsed.k, len({volume.subject_id for volume in train}))
    runs = intensity_floor_runs(
        train, test, k_values=k_values, seeds=parsed.seeds, num_classes=classes
    )
    test_ids = tuple(volume.subject_id for volume in test)
    few_shot = [
        FewShotRecord.from_per_volume(
            k=k,
            seed=seed,
            mode=mode,
            train_subjects=subjects,
            test_subjects=test_ids,
            dice_per_volume=dice,
            steps=0,
            train_seconds=seconds,
        )
        for k, seed, subjects, dice, seconds in runs
        for mode in parsed.modes
    ]
    written = []
    for outcome in few_shot_outcomes(few_shot):
        record = EvaluationRecord(
            method=FLOOR,
            dataset=dataset.name,
            protocol=PROTOCOL,
            seed=int(outcome["seed"]),
            metrics=outcome["metrics"],
            samples=outcome["samples"],
            settings=settings_of_run,
            encoder={"name": None, "method": FLOOR},
            details=outcome["details"],
        )
        write_record(record, records_dir)
        written.append(record)
    return written


def _same_grid(path: Path, settings: dict[str, Any]) -> bool:
    """Whether the record at `path` exists and was made with these settings (its seed list
    aside): a new mode or k makes the floor run again (it takes seconds)."""
    if not path.is_file():
        return False
    try:
        recorded = read_record(path).settings
    except InputError:
        return False
    return same_settings(recorded, settings, ignore=("seeds",))
