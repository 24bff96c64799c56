import json

import numpy as np
import pytest

from anatomy_ssl.errors import InputError
from anatomy_ssl.evaluation.evaluation_dataset import load_evaluation_dataset
from anatomy_ssl.phantoms import make_ct_phantom_dataset, make_xray_phantom_dataset
from anatomy_ssl.preprocess import PreprocessSpec

SPEC = PreprocessSpec(target_spacing_mm=(8.0, 8.0, 8.0), intensity="ct", foreground_crop=True)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval-dataset") / "phantom"
    make_ct_phantom_dataset(root, 3, preset="small", progress=False)
    return root


def test_built_in_folder_gives_volumes_landmarks_and_clinical_rows(phantom, tmp_path):
    dataset = load_evaluation_dataset(phantom, SPEC, tmp_path / "cache", progress=False)
    assert dataset.name == "phantom" and dataset.spatial_dims == 3
    assert [s.subject_id for s in dataset.subjects] == [f"phantom_000{k}" for k in range(3)]
    first = dataset.subjects[0]
    written = json.loads((phantom / "landmarks" / "phantom_0000.json").read_text())
    assert np.allclose(first.landmarks_mm["carina"], written["carina"])
    assert first.clinical is not None and float(first.clinical["severity"]) >= 0
    assert first.volume.has_label and max(first.volume.meta["label_values"]) <= 13  # organs
    splits = {s.split for s in dataset.subjects}
    assert splits <= {"train", "val", "test"} and sum(len(dataset.split(n)) for n in splits) == 3


def test_another_label_set_is_cached_apart(phantom, tmp_path):
    organs = load_evaluation_dataset(phantom, SPEC, tmp_path / "cache", progress=False)
    parts = load_evaluation_dataset(
        phantom, SPEC, tmp_path / "cache", label_set="level2", progress=False
    )
    assert len(parts.subjects) == len(organs.subjects) == 3
    assert max(parts.subjects[0].volume.meta["label_values"]) > 13  # 81 parts
    with pytest.raises(InputError, match="label set 'level9' not found"):
        load_evaluation_dataset(phantom, SPEC, tmp_path / "c", label_set="level9")


def test_radiograph_landmarks_are_in_image_plane_mm(tmp_path):
    make_xray_phantom_dataset(tmp_path / "xr", 2, preset="small", progress=False)
    spec = PreprocessSpec(spatial_dims=2, target_spacing_mm=(4.0, 4.0), intensity="mri")
    dataset = load_evaluation_dataset(tmp_path / "xr", spec, tmp_path / "cache", progress=False)
    subject = dataset.subjects[0]
    assert dataset.spatial_dims == 2 and subject.landmarks_mm["carina"].shape == (2,)
    voxel = subject.volume.world_to_voxel(subject.landmarks_mm["carina"][None])[0]
    assert np.all(voxel >= 0) and np.all(voxel < np.asarray(subject.volume.size_vox))


def test_missing_dataset_and_bad_landmarks_are_named(phantom, tmp_path):
    with pytest.raises(InputError, match="dataset not found"):
        load_evaluation_dataset(tmp_path / "nowhere", SPEC, tmp_path / "c")
    broken = tmp_path / "broken"
    make_ct_phantom_dataset(broken, 1, preset="small", progress=False)
    (broken / "landmarks" / "phantom_0000.json").write_text("{not json")
    with pytest.raises(InputError, match=r"phantom_0000\.json.*not a landmarks file"):
        load_evaluation_dataset(broken, SPEC, tmp_path / "c", progress=False)


def test_a_relative_dataset_path_works_with_another_label_set(phantom, tmp_path, monkeypatch):
    monkeypatch.chdir(phantom.parent)
    dataset = load_evaluation_dataset(
        phantom.name, SPEC, tmp_path / "cache", label_set="level2", progress=False
    )
    assert len(dataset.subjects) == 3 and dataset.source.is_absolute()
