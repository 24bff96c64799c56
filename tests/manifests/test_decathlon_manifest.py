from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from anatomy_ssl.errors import InputError, ManifestError
from anatomy_ssl.manifests import manifest_from_decathlon_json

Write = Callable[[Path, str], Path]


def test_lists_become_splits_and_paths_resolve_against_the_json_folder(
    tmp_path: Path, write: Write
) -> None:
    document = {
        "name": "Heart",
        "labels": {"0": "background", "1": "left atrium"},
        "numTraining": 2,
        "test": ["./imagesTs/la_001.nii.gz"],
        "validation": [{"image": "./imagesTr/la_005.nii.gz", "label": "./labelsTr/la_005.nii.gz"}],
        "training": [
            {"image": "./imagesTr/la_003.nii.gz", "label": "./labelsTr/la_003.nii.gz", "fold": 0},
            {"image": "imagesTr/la_004.nii.gz", "label": None, "site": "B", "ok": True, "x": None},
        ],
    }
    path = write(tmp_path / "Task02_Heart" / "dataset.json", json.dumps(document))
    manifest = manifest_from_decathlon_json(path)
    root = tmp_path / "Task02_Heart"
    assert [(r.image.relative_to(root).as_posix(), r.split) for r in manifest] == [
        ("imagesTr/la_003.nii.gz", "train"),
        ("imagesTr/la_004.nii.gz", "train"),
        ("imagesTr/la_005.nii.gz", "val"),
        ("imagesTs/la_001.nii.gz", "test"),
    ]
    assert manifest[0].label == root / "labelsTr" / "la_003.nii.gz"
    assert manifest[1].label is None
    assert manifest[3].label is None
    assert [r.subject_id for r in manifest] == ["la_003", "la_004", "la_005", "la_001"]
    assert manifest[0].metadata == {"fold": "0"}
    assert manifest[1].metadata == {"site": "B", "ok": "true"}
    assert manifest.source == str(path)


def test_subject_id_key_is_used_and_split_key_is_ignored(tmp_path: Path, write: Write) -> None:
    item = {"image": "a_t1.nii.gz", "subject_id": "p7", "split": "test"}
    path = write(tmp_path / "d.json", json.dumps({"training": [item]}))
    (record,) = manifest_from_decathlon_json(path)
    assert (record.subject_id, record.split, record.metadata) == ("p7", "train", {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"training": [{"image": "a.nii.gz"}', "cannot read JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"name": "x", "numTraining": 0}', "keys found: 'name', 'numTraining'"),
    ],
)
def test_malformed_json_is_an_input_error(
    tmp_path: Path, write: Write, text: str, message: str
) -> None:
    path = write(tmp_path / "dataset.json", text)
    with pytest.raises(InputError, match=message) as caught:
        manifest_from_decathlon_json(path)
    assert caught.value.path == str(path)


def test_every_malformed_item_is_listed(tmp_path: Path, write: Write) -> None:
    document = {
        "training": [{"label": "x.nii.gz"}, {"image": "ok.nii.gz"}, 5, {"image": ["a", "b"]}],
        "validation": {"image": "v.nii.gz"},
        "test": ["t.nii.gz", {"image": "t2.nii.gz", "label": 3}],
    }
    path = write(tmp_path / "dataset.json", json.dumps(document))
    with pytest.raises(ManifestError) as caught:
        manifest_from_decathlon_json(path)
    assert caught.value.problems == [
        "training[0]: image must be a non-empty string, got None",
        "training[2]: item must be an object or a path string, got 5",
        "training[3]: image must be a non-empty string, got ['a', 'b']",
        "'validation' must be a list, got dict",
        "test[1]: label must be a non-empty string, got 3",
    ]


def test_confined_datalist_refuses_items_outside_the_root(tmp_path: Path, write: Write) -> None:
    root = tmp_path / "Task"
    document = {"training": [{"image": "imagesTr/a.nii.gz"}], "test": ["../../b.nii.gz"]}
    path = write(root / "dataset.json", json.dumps(document))
    with pytest.raises(ManifestError) as caught:
        manifest_from_decathlon_json(path, confine_to=root)
    assert caught.value.problems == [
        f"test[0]: image {tmp_path.parent / 'b.nii.gz'} is outside the root {root}"
    ]
    assert len(manifest_from_decathlon_json(path)) == 2


def test_a_path_that_is_not_utf8_is_a_listed_problem(tmp_path: Path, write: Write) -> None:
    path = write(tmp_path / "dataset.json", '{"training": ["caf\\udce9.nii.gz", "ok.nii.gz"]}')
    with pytest.raises(ManifestError) as caught:
        manifest_from_decathlon_json(path)
    (problem,) = caught.value.problems
    assert problem.startswith("training[0]: image path is not UTF-8: b'")
    assert "caf\\xe9.nii.gz'" in problem
