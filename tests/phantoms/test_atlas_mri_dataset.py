"""Atlas MRI subjects: determinism, real variation, landmarks inside the brain, files round trip."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from anatomy_ssl.errors import ConfigError
from anatomy_ssl.io import read_label, read_volume
from anatomy_ssl.manifests import load_manifest
from anatomy_ssl.phantoms.atlas_mri_dataset import (
    DISK_AXCODES,
    atlas_mri_hierarchy,
    iter_atlas_subjects,
    make_atlas_dataset,
    make_atlas_subject,
)
from anatomy_ssl.phantoms.icbm152_landmarks import icbm152_landmarks_mm
from anatomy_ssl.phantoms.icbm152_template import TISSUE_LABELS, load_icbm152_template
from anatomy_ssl.phantoms.phantom_dataset_writer import read_landmarks
from anatomy_ssl.phantoms.phantom_subject import PhantomSubject
from anatomy_ssl.preprocess import AxisReorientation

N_SUBJECTS = 4


@pytest.fixture(scope="module")
def subjects() -> list[PhantomSubject]:
    return [make_atlas_subject(k, seed=0, preset="small") for k in range(N_SUBJECTS)]


def _same_subject(a: PhantomSubject, b: PhantomSubject) -> bool:
    return (
        a.subject_id == b.subject_id
        and np.array_equal(a.image, b.image)
        and np.array_equal(a.affine, b.affine)
        and a.label_maps.keys() == b.label_maps.keys()
        and all(np.array_equal(a.label_maps[k], b.label_maps[k]) for k in a.label_maps)
        and a.landmarks_mm == b.landmarks_mm
        and a.clinical == b.clinical
        and a.disk_axcodes == b.disk_axcodes
    )


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum()))


def test_subject_contract(subjects: list[PhantomSubject]) -> None:
    template = load_icbm152_template(3.0)
    for k, subject in enumerate(subjects):
        assert subject.subject_id == f"atlas_{k:04d}"
        assert subject.image.shape == template.size_vox and subject.image.dtype == np.float32
        np.testing.assert_array_equal(subject.affine, template.affine)
        tissue = subject.label_maps["tissue"]
        assert tissue.shape == template.size_vox and tissue.dtype == np.uint8
        assert subject.disk_axcodes in DISK_AXCODES
        assert set(subject.landmarks_mm) == set(icbm152_landmarks_mm(3.0))
        assert float(subject.image.min()) >= 0.0
        white = np.median(subject.image[tissue == TISSUE_LABELS["white_matter"]])
        grey = np.median(subject.image[tissue == TISSUE_LABELS["grey_matter"]])
        assert 450.0 < white < 1100.0 and grey < white  # T1 contrast: white brighter
        assert float(subject.image.max()) < 1600.0


def test_same_seed_and_index_give_identical_subjects(subjects: list[PhantomSubject]) -> None:
    assert _same_subject(make_atlas_subject(2, seed=0, preset="small"), subjects[2])
    other_seed = make_atlas_subject(2, seed=1, preset="small")
    assert not np.array_equal(other_seed.label_maps["tissue"], subjects[2].label_maps["tissue"])


def test_subject_does_not_depend_on_how_many_are_made(subjects: list[PhantomSubject]) -> None:
    made = list(iter_atlas_subjects(2, seed=0, preset="small", progress=False))
    assert _same_subject(made[1], subjects[1])


def test_subjects_made_in_worker_processes_are_the_same(subjects: list[PhantomSubject]) -> None:
    made = list(iter_atlas_subjects(2, seed=0, preset="small", workers=2, progress=False))
    assert all(_same_subject(a, b) for a, b in zip(made, subjects[:2], strict=True))


def test_subjects_vary_but_keep_the_same_labels(subjects: list[PhantomSubject]) -> None:
    tissues = [s.label_maps["tissue"] for s in subjects]
    for tissue in tissues:
        assert set(np.unique(tissue).tolist()) == set(TISSUE_LABELS.values())
    for i in range(len(tissues)):
        for j in range(i + 1, len(tissues)):
            for value in (TISSUE_LABELS["grey_matter"], TISSUE_LABELS["white_matter"]):
                assert _dice(tissues[i] == value, tissues[j] == value) < 0.85
    volumes = [s.clinical["white_matter_ml"] for s in subjects]
    assert len(set(volumes)) == len(volumes)
    assert max(volumes) - min(volumes) > 10.0  # type: ignore[operator]


def test_every_landmark_lies_inside_its_own_subject_brain(
    subjects: list[PhantomSubject],
) -> None:
    for subject in subjects:
        tissue = subject.label_maps["tissue"]
        for name, point in subject.landmarks_mm.items():
            voxel = tuple(np.round(subject.world_to_voxel(point)).astype(int))
            assert tissue[voxel] > 0, (subject.subject_id, name)


def test_landmarks_move_with_the_anatomy(subjects: list[PhantomSubject]) -> None:
    """Landmarks are carried: they differ between subjects and from the template."""
    template = icbm152_landmarks_mm(3.0)
    moved = [
        np.linalg.norm(np.subtract(s.landmarks_mm[name], template[name]))
        for s in subjects
        for name in template
    ]
    assert np.median(moved) > 2.0  # mm


def test_one_subject_has_the_same_anatomy_at_two_resolutions() -> None:
    coarse = make_atlas_subject(1, preset="small")
    finer = make_atlas_subject(1, preset="small", resolution_mm=4.0)
    assert finer.image.shape == load_icbm152_template(4.0).size_vox
    for name in ("anterior_commissure", "left_thalamus", "pons"):
        distance = np.linalg.norm(np.subtract(coarse.landmarks_mm[name], finer.landmarks_mm[name]))
        assert distance < 1.5, name


def test_disk_orientations_are_exercised(subjects: list[PhantomSubject]) -> None:
    orientations = {subject.disk_axcodes for subject in subjects}
    assert len(orientations) >= 2 and orientations != {("R", "A", "S")}


@pytest.mark.parametrize(
    "kwargs", [{"preset": "huge"}, {"index": -1}, {"seed": -2}, {"resolution_mm": 0.0}]
)
def test_invalid_arguments_are_config_errors(kwargs: dict[str, object]) -> None:
    arguments: dict[str, object] = {"index": 0, "preset": "small", **kwargs}
    with pytest.raises(ConfigError):
        make_atlas_subject(**arguments)  # type: ignore[arg-type]


def test_dataset_round_trip_through_readers(tmp_path: Path, subjects: list[PhantomSubject]) -> None:
    out = tmp_path / "atlas"
    manifest = make_atlas_dataset(out, 2, seed=0, preset="small", progress=False)
    assert len(manifest) == 2
    loaded = load_manifest(out / "manifest.csv")
    assert [r.subject_id for r in loaded] == ["atlas_0000", "atlas_0001"]
    for record, subject in zip(loaded, subjects[:2], strict=True):
        image = read_volume(record.image)
        assert record.label is not None
        label = read_label(record.label, image=image)
        turn = AxisReorientation.to_ras(image)
        image_ras, label_ras = turn.apply(image), turn.apply(label)
        np.testing.assert_array_equal(image_ras.array[0], subject.image)
        np.testing.assert_array_equal(label_ras.array[0], subject.label_maps["tissue"])
        np.testing.assert_allclose(image_ras.affine, subject.affine, atol=1e-4)
        landmarks = read_landmarks(out / "landmarks" / f"{subject.subject_id}.json")
        for name, point in subject.landmarks_mm.items():
            np.testing.assert_allclose(landmarks[name], point, atol=1e-3)
    hierarchy = json.loads((out / "hierarchy.json").read_text())
    assert hierarchy == json.loads(json.dumps(atlas_mri_hierarchy()))
    assert hierarchy["levels"]["tissue"] == {
        "0": "background",
        "1": "csf_other",
        "2": "grey_matter",
        "3": "white_matter",
    }
    with (out / "clinical.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["subject_id"] for row in rows] == ["atlas_0000", "atlas_0001"]
    assert float(rows[0]["brain_volume_ml"]) == subjects[0].clinical["brain_volume_ml"]


def test_dataset_needs_at_least_one_subject(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="n must be"):
        make_atlas_dataset(tmp_path, 0, preset="small")
