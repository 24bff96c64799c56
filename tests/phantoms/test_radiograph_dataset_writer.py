from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from anatomy_ssl.io import read_volume
from anatomy_ssl.manifests import load_manifest
from anatomy_ssl.phantoms import make_ct_like_volume
from anatomy_ssl.phantoms.phantom_subject import PhantomSubject
from anatomy_ssl.phantoms.radiograph_dataset_writer import (
    read_radiograph_landmarks,
    write_radiograph_dataset,
)
from anatomy_ssl.phantoms.radiograph_projection import project_radiograph


def _subject(index: int) -> PhantomSubject:
    volume = make_ct_like_volume((20, 18, 26), (2.0, 2.0, 3.0), seed=index)
    return PhantomSubject(
        f"sub_{index:02d}",
        volume.hu.astype(np.float32),
        volume.affine,
        {"level0": (volume.label > 0).astype(np.uint8), "level1": volume.label},
        {"centre": (0.0, 0.0, 0.0), "apex": (4.0, -2.0, 20.0)},
        clinical={"age": 50 + index, "sex": "F"},
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("xray")
    write_radiograph_dataset(
        (_subject(index) for index in range(3)),
        out,
        hierarchy={"level1": {"1": "body"}},
        manifest_label_set="level1",
        label_priority={"level1": [1, 2, 3, 5, 4]},
        pixel_spacing_mm=1.5,
    )
    return out


def test_images_and_labels_round_trip_with_their_affine(dataset: Path) -> None:
    expected = project_radiograph(
        _subject(1), label_priority={"level1": [1, 2, 3, 5, 4]}, pixel_spacing_mm=1.5
    )
    image = read_volume(dataset / "images" / "sub_01.nii.gz", spatial_dims=2)
    np.testing.assert_array_equal(image.array, expected.image)
    np.testing.assert_allclose(image.affine, expected.affine, atol=1e-5)
    for name in ("level0", "level1"):
        label = read_volume(dataset / "labels" / name / "sub_01.nii.gz", spatial_dims=2)
        np.testing.assert_array_equal(label.array[0], expected.label_maps[name])
        np.testing.assert_allclose(label.affine, expected.affine, atol=1e-5)


def test_manifest_lists_every_subject_with_labels_and_a_split(dataset: Path) -> None:
    manifest = load_manifest(dataset / "manifest.csv")
    records = sorted(manifest, key=lambda record: record.subject_id)
    assert [record.subject_id for record in records] == ["sub_00", "sub_01", "sub_02"]
    for record in records:
        assert record.image == dataset / "images" / f"{record.subject_id}.nii.gz"
        assert record.label == dataset / "labels" / "level1" / f"{record.subject_id}.nii.gz"
        assert record.split in {"train", "val", "test"}


def test_landmarks_hold_pixels_plane_mm_and_world_mm(dataset: Path) -> None:
    path = dataset / "landmarks" / "sub_02.json"
    pixels = read_radiograph_landmarks(path, units="px")
    plane = read_radiograph_landmarks(path)
    world = read_radiograph_landmarks(path, units="world_mm")
    affine = read_volume(dataset / "images" / "sub_02.nii.gz", spatial_dims=2).affine
    for name in ("centre", "apex"):
        mapped = affine[:2, :2] @ pixels[name] + affine[:2, 2]
        np.testing.assert_allclose(mapped, plane[name], atol=2e-3)  # JSON keeps 3 decimals
        np.testing.assert_allclose(plane[name], -world[name][[0, 2]], atol=2e-3)
    assert set(json.loads(path.read_text())["apex"]) == {"px", "mm", "world_mm"}


def test_tables_and_settings_are_written(dataset: Path) -> None:
    with (dataset / "clinical.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["subject_id"] for row in rows] == ["sub_00", "sub_01", "sub_02"]
    assert rows[0]["age"] == "50"
    assert json.loads((dataset / "hierarchy.json").read_text()) == {"level1": {"1": "body"}}
    settings = json.loads((dataset / "radiograph.json").read_text())
    assert settings["projection"] == "parallel" and settings["pixel_spacing_mm"] == 1.5
    assert settings["label_priority"] == {"level1": [1, 2, 3, 5, 4]}
    assert set(settings["white_level"]) == {"sub_00", "sub_01", "sub_02"}


def test_perspective_dataset_without_manifest_labels(tmp_path: Path) -> None:
    manifest = write_radiograph_dataset(
        [_subject(0)],
        tmp_path,
        hierarchy={},
        manifest_label_set=None,
        source_to_detector_mm=500.0,
    )
    assert [record.label for record in manifest] == [None]
    image = read_volume(tmp_path / "images" / "sub_00.nii.gz", spatial_dims=2)
    assert image.array.dtype == np.float32 and 0.0 <= image.array.min() <= image.array.max() <= 1
    settings = json.loads((tmp_path / "radiograph.json").read_text())
    assert settings["projection"] == "perspective"
