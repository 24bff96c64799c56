"""Write synthetic radiographs in the layout of the 3D phantom writer, as 2D images.

Layout::

    out/images/<id>.nii.gz              (1, H, W) float32 radiograph, 2D NIfTI with its affine
    out/labels/<set>/<id>.nii.gz        (1, H, W) uint8 projected label maps, one folder per set
    out/landmarks/<id>.json             {"name": {"px": [row, col], "mm": [u, v],
                                                  "world_mm": [x, y, z]}, ...}
    out/clinical.csv                    subject_id + clinical variables
    out/hierarchy.json                  label names per set and the part -> organ mapping
    out/radiograph.json                 projection settings, conventions, white level per subject
    out/manifest.csv                    image, label (of `manifest_label_set`), subject_id, split

Images read back with `anatomy_ssl.io.read_volume(path, spatial_dims=2)` with the same array and
3x3 affine (`(row, col)` -> image-plane mm `u = -x`, `v = -z`; see `radiograph_geometry`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from anatomy_ssl.io import write_nifti
from anatomy_ssl.manifests import Manifest, ManifestRecord
from anatomy_ssl.phantoms.dataset_tables import write_dataset_tables, write_text_atomically
from anatomy_ssl.phantoms.phantom_subject import PhantomSubject
from anatomy_ssl.phantoms.radiograph import Radiograph
from anatomy_ssl.phantoms.radiograph_projection import project_radiograph
from anatomy_ssl.phantoms.xray_attenuation import MU_WATER_PER_MM

#: Decimals kept for landmark coordinates in JSON (pixels and mm alike).
_DECIMALS = 3


def write_radiograph(
    radiograph: Radiograph,
    out: str | Path,
    *,
    world_landmarks_mm: Mapping[str, Sequence[float]] | None = None,
) -> None:
    """Write one radiograph's image, projected label maps and landmarks (each file atomically).

    Args:
        radiograph: the radiograph.
        out: dataset folder.
        world_landmarks_mm: the subject's 3D landmarks (RAS mm), stored beside their
            projections when given.
    """
    out = Path(out)
    subject_id = radiograph.subject_id
    write_nifti(radiograph.to_volume(), out / "images" / f"{subject_id}.nii.gz")
    for name in radiograph.label_maps:
        write_nifti(radiograph.label_volume(name), out / "labels" / name / f"{subject_id}.nii.gz")
    plane_mm = radiograph.landmarks_mm()
    landmarks: dict[str, dict[str, list[float]]] = {}
    for name, pixel in radiograph.landmarks_px.items():
        entry = {"px": _rounded(pixel), "mm": _rounded(plane_mm[name])}
        if world_landmarks_mm is not None and name in world_landmarks_mm:
            entry["world_mm"] = _rounded(world_landmarks_mm[name])
        landmarks[name] = entry
    path = out / "landmarks" / f"{subject_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, json.dumps(landmarks, indent=2, sort_keys=True))


def write_radiograph_dataset(
    subjects: Iterable[PhantomSubject],
    out: str | Path,
    *,
    hierarchy: dict[str, Any],
    manifest_label_set: str | None,
    split_seed: int = 0,
    label_priority: Mapping[str, Sequence[int]] | None = None,
    pixel_spacing_mm: float | None = None,
    source_to_detector_mm: float | None = None,
    white_level: float | None = None,
) -> Manifest:
    """Project every subject (`project_radiograph`) and write the dataset (module docstring).

    Args:
        subjects: subjects (consumed one at a time: memory holds one subject).
        out: output folder.
        hierarchy: JSON-ready description of the label sets.
        manifest_label_set: which label set the manifest's `label` column points to.
        split_seed: seed of the subject-level train/val/test split in the manifest.
        label_priority: label-set name -> draw order of its labels (bottom to top).
        pixel_spacing_mm: square pixel size, mm; None keeps each volume's x and z spacing.
        source_to_detector_mm: None for parallel projection, else the source distance, mm.
        white_level: optical depth shown as 1.0; None uses each image's maximum.

    Returns:
        The manifest that was written.
    """
    out = Path(out)
    records: list[ManifestRecord] = []
    clinical_rows: list[dict[str, Any]] = []
    white_levels: dict[str, float] = {}
    for subject in subjects:
        radiograph = project_radiograph(
            subject,
            label_priority=label_priority,
            pixel_spacing_mm=pixel_spacing_mm,
            source_to_detector_mm=source_to_detector_mm,
            white_level=white_level,
        )
        write_radiograph(radiograph, out, world_landmarks_mm=subject.landmarks_mm)
        white_levels[subject.subject_id] = radiograph.white_level
        label = None
        if manifest_label_set is not None:
            label = (
                out / "labels" / manifest_label_set / f"{subject.subject_id}.nii.gz"
            ).absolute()
        image = (out / "images" / f"{subject.subject_id}.nii.gz").absolute()
        records.append(ManifestRecord(image, label, subject.subject_id))
        clinical_rows.append({"subject_id": subject.subject_id, **subject.clinical})
    settings = {
        "view": "PA",
        "projection": "parallel" if source_to_detector_mm is None else "perspective",
        "source_to_detector_mm": source_to_detector_mm,
        "pixel_spacing_mm": pixel_spacing_mm,
        "mu_water_per_mm": MU_WATER_PER_MM,
        "intensity": "optical depth (attenuation line integral) / white_level, clipped to [0, 1]",
        "image_plane": {
            "u": "across the columns: -x RAS mm, towards the patient's Left",
            "v": "down the rows: -z RAS mm, towards the feet",
        },
        "label_priority": {
            name: list(map(int, order)) for name, order in (label_priority or {}).items()
        },
        "white_level": white_levels,
    }
    write_text_atomically(out / "radiograph.json", json.dumps(settings, indent=2))
    return write_dataset_tables(out, records, clinical_rows, hierarchy, split_seed)


def read_radiograph_landmarks(
    path: str | Path, *, units: Literal["mm", "px", "world_mm"] = "mm"
) -> dict[str, np.ndarray]:
    """Landmarks JSON of a radiograph -> name -> position.

    Args:
        path: a `landmarks/<id>.json` written by `write_radiograph`.
        units: "mm": `(2,)` image-plane `(u, v)`, the world coordinates of the 2D image's
            affine; "px": `(2,)` `(row, col)`; "world_mm": `(3,)` RAS mm of the 3D landmark
            (landmarks written without it are left out).

    Returns:
        name -> float array.
    """
    values = json.loads(Path(path).read_text())
    return {
        name: np.asarray(entry[units], dtype=float)
        for name, entry in values.items()
        if units in entry
    }


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(float(value), _DECIMALS) for value in values]
