"""Write generated subjects in the layout every anatomy-ssl verb reads.

Layout::

    out/images/<id>.nii.gz              the image (in the subject's on-disk orientation)
    out/labels/<set>/<id>.nii.gz        one folder per label set (level0, level1, level2, ...)
    out/landmarks/<id>.json             {"name": [x, y, z], ...} in RAS mm
    out/clinical.csv                    subject_id + clinical variables
    out/hierarchy.json                  label names per set and the part -> organ mapping
    out/manifest.csv                    image, label (of `manifest_label_set`), subject_id, split
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from anatomy_ssl.io import Volume, write_nifti
from anatomy_ssl.manifests import Manifest, ManifestRecord
from anatomy_ssl.parallel import die_with_parent
from anatomy_ssl.phantoms.dataset_tables import write_dataset_tables, write_text_atomically
from anatomy_ssl.phantoms.phantom_subject import PhantomSubject
from anatomy_ssl.preprocess.ras_reorientation import AxisReorientation


def write_subject(subject: PhantomSubject, out: Path, image_dtype: str = "float32") -> None:
    """Write one subject's image, label maps and landmarks (each file atomically).

    `image_dtype="int16"` rounds the image first (CT in Hounsfield units is stored so).
    """
    array = subject.image if image_dtype == "float32" else np.rint(subject.image)
    image = Volume(array.astype(image_dtype)[None], subject.affine)
    turn = AxisReorientation.to_axcodes(image, subject.disk_axcodes)
    write_nifti(turn.apply(image), out / "images" / f"{subject.subject_id}.nii.gz")
    for name, label in subject.label_maps.items():
        label_volume = Volume(label[None], subject.affine)
        write_nifti(
            turn.apply(label_volume), out / "labels" / name / f"{subject.subject_id}.nii.gz"
        )
    landmarks = {k: [round(float(c), 3) for c in v] for k, v in subject.landmarks_mm.items()}
    path = out / "landmarks" / f"{subject.subject_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, json.dumps(landmarks, indent=2, sort_keys=True))


def write_phantom_dataset(
    subjects: Iterable[PhantomSubject],
    out: str | Path,
    *,
    hierarchy: dict[str, Any],
    manifest_label_set: str | None,
    split_seed: int = 0,
    image_dtype: str = "float32",
) -> Manifest:
    """Write every subject plus `clinical.csv`, `hierarchy.json` and `manifest.csv`.

    Args:
        subjects: generated subjects (consumed one at a time: memory holds one subject).
        out: output folder.
        hierarchy: JSON-ready description of the label sets.
        manifest_label_set: which label set the manifest's `label` column points to.
        split_seed: seed of the subject-level train/val/test split in the manifest.
        image_dtype: "float32", or "int16" for CT in HU (rounded; smaller, faster files).

    Returns:
        The manifest that was written.
    """
    out = Path(out)
    records: list[ManifestRecord] = []
    clinical_rows: list[dict[str, Any]] = []
    for subject in subjects:
        write_subject(subject, out, image_dtype)
        label = None
        if manifest_label_set is not None:
            label = out / "labels" / manifest_label_set / f"{subject.subject_id}.nii.gz"
        records.append(
            ManifestRecord(
                (out / "images" / f"{subject.subject_id}.nii.gz").absolute(),
                None if label is None else label.absolute(),
                subject.subject_id,
            )
        )
        clinical_rows.append({"subject_id": subject.subject_id, **subject.clinical})
    return write_dataset_tables(out, records, clinical_rows, hierarchy, split_seed)


def generate_subjects(
    make_subject: Callable[[int], PhantomSubject],
    n: int,
    *,
    workers: int = 1,
    progress: bool = True,
    desc: str = "subjects",
) -> Iterator[PhantomSubject]:
    """Subjects 0..n-1 in order, generated in `workers` processes (1 = in this process).

    `make_subject` must be picklable (a module-level function or a functools.partial of one).
    At most about 2 * workers subjects are in memory at once.
    """
    bar = tqdm(total=n, desc=desc, unit="subject", disable=not progress)
    with bar:
        if workers <= 1:
            for index in range(n):
                yield make_subject(index)
                bar.update(1)
            return
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers, initializer=die_with_parent) as pool:
            for subject in pool.imap(make_subject, range(n)):
                yield subject
                bar.update(1)


def read_landmarks(path: str | Path) -> dict[str, np.ndarray]:
    """Landmarks JSON -> name -> `(3,)` RAS mm."""
    values = json.loads(Path(path).read_text())
    return {name: np.asarray(point, dtype=float) for name, point in values.items()}
