"""The data an evaluation runs on: cached volumes of one label set, landmarks, clinical rows.

A dataset is a folder in the built-in layout (what `anatomy-ssl phantom` and `atlas-dataset`
write: `manifest.csv`, `labels/<set>/`, optional `landmarks/<id>.json` and `clinical.csv`) or any
manifest (CSV / decathlon JSON / folder), whose extra columns then serve as the clinical table.
It is preprocessed with the encoder card's PreprocessSpec, so every encoder sees its own input.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from anatomy_ssl.errors import InputError
from anatomy_ssl.manifests import Manifest, load_manifest
from anatomy_ssl.preprocess import CachedVolume, PreprocessSpec, VolumeCache, preprocess_dataset

MANIFEST_FILE = "manifest.csv"
CLINICAL_FILE = "clinical.csv"
LANDMARKS_FOLDER = "landmarks"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationSubject:
    """One subject's preprocessed volume and what is known about it.

    Attributes:
        subject_id: the subject.
        split: its split in the manifest ("train", "val", "test", ...).
        volume: the cache entry (image and label of the chosen label set).
        landmarks_mm: name -> `(S,)` world position in mm (RAS in 3D, the image plane in 2D),
            or None when the dataset has no landmarks.
        clinical: column -> value (text) from the clinical table, or None.
    """

    subject_id: str
    split: str | None
    volume: CachedVolume
    landmarks_mm: dict[str, np.ndarray] | None
    clinical: dict[str, str] | None


@dataclass(frozen=True)
class EvaluationDataset:
    """Subjects sorted by id; `name` identifies the dataset in records and reports."""

    name: str
    source: Path
    label_set: str | None
    spec: PreprocessSpec
    subjects: tuple[EvaluationSubject, ...]

    def split(self, name: str) -> list[EvaluationSubject]:
        """The subjects of one split (in id order)."""
        return [subject for subject in self.subjects if subject.split == name]

    @property
    def spatial_dims(self) -> int:
        return self.spec.spatial_dims


def load_evaluation_dataset(
    data: str | Path,
    spec: PreprocessSpec,
    cache_dir: str | Path,
    *,
    label_set: str | None = None,
    name: str | None = None,
    workers: int = 1,
    progress: bool = True,
) -> EvaluationDataset:
    """Preprocess `data` with `spec` (cached; a re-run only reads) and gather each subject's
    landmarks and clinical row.

    Args:
        data: a built-in dataset folder (with `manifest.csv`) or a manifest.
        spec: the encoder card's PreprocessSpec.
        cache_dir: cache root; each label set gets its own sub-folder.
        label_set: `labels/<set>/` of a built-in folder to use instead of the manifest's labels
            (e.g. "level2" for the CT phantom's parts).
        name: dataset name for records (default: the folder or file name).
        workers: preprocessing processes.
        progress: show a progress bar.

    Raises:
        InputError: missing files, a label set that does not exist, a malformed landmarks or
            clinical file, no volume that could be preprocessed. Volumes that fail
            preprocessing are left out with a warning (and listed in the cache's rejected.csv).
    """
    data = Path(data).absolute()  # manifests hold absolute paths
    manifest = _manifest(data, label_set)
    cache_root = Path(cache_dir) / (label_set or "manifest-labels")
    summary = preprocess_dataset(manifest, spec, cache_root, workers=workers, progress=progress)
    for path, reason in summary.rejects:  # recorded in the cache's rejected.csv too
        log.warning("%s: left out of the evaluation: %s", path, reason)
    wanted = {str(record.image): record for record in manifest}
    volumes = [
        volume
        for volume in VolumeCache(cache_root).entries(spec.hash)
        if str(volume.meta.get("source_image")) in wanted
    ]
    if not volumes:
        raise InputError(data, "no volume of this dataset could be preprocessed")
    folder = data if data.is_dir() else data.parent
    clinical = _clinical_table(folder / CLINICAL_FILE, manifest)
    subjects = tuple(
        EvaluationSubject(
            subject_id=volume.subject_id,
            split=volume.split,
            volume=volume,
            landmarks_mm=_landmarks(folder / LANDMARKS_FOLDER / f"{volume.subject_id}.json"),
            clinical=clinical.get(volume.subject_id),
        )
        for volume in volumes
    )
    return EvaluationDataset(
        name=name or folder.name,
        source=data,
        label_set=label_set,
        spec=spec,
        subjects=subjects,
    )


def _manifest(data: Path, label_set: str | None) -> Manifest:
    if not data.exists():
        raise InputError(data, "dataset not found")
    manifest_path = data / MANIFEST_FILE if (data / MANIFEST_FILE).is_file() else data
    manifest = load_manifest(manifest_path)
    if label_set is None:
        return manifest
    folder = data if data.is_dir() else data.parent
    labels = folder / "labels" / label_set
    if not labels.is_dir():
        raise InputError(labels, f"label set {label_set!r} not found in this dataset")
    records = []
    for record in manifest:
        if record.label is None:
            records.append(record)
            continue
        label = labels / record.label.name
        if not label.is_file():
            raise InputError(label, f"label map of {record.subject_id} missing in {label_set!r}")
        records.append(replace(record, label=label))
    return Manifest(manifest.source, records)


def _clinical_table(path: Path, manifest: Manifest) -> dict[str, dict[str, str]]:
    """subject -> row: `clinical.csv` if present, else the manifest's metadata columns."""
    if not path.is_file():
        return {record.subject_id: dict(record.metadata) for record in manifest if record.metadata}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "subject_id" not in reader.fieldnames:
            raise InputError(path, "clinical table needs a 'subject_id' column")
        return {row["subject_id"]: row for row in reader}


def _landmarks(path: Path) -> dict[str, np.ndarray] | None:
    """Both landmark formats: `{name: [x, y, z]}` (volumes) and the radiograph writer's
    `{name: {"mm": [u, v], "px": ..., "world_mm": ...}}` (image-plane mm are used)."""
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text())
        return {
            name: np.asarray(value["mm"] if isinstance(value, dict) else value, dtype=float)
            for name, value in values.items()
        }
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise InputError(path, f"not a landmarks file: {error}") from error
