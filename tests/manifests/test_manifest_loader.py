from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from anatomy_ssl.errors import ConfigError, InputError, ManifestError
from anatomy_ssl.manifests import load_manifest

Touch = Callable[..., list[Path]]
Write = Callable[[Path, str], Path]


def test_dispatches_on_folder_csv_and_json(tmp_path: Path, touch: Touch, write: Write) -> None:
    touch("imgs/a.nii.gz", "imgs/b.nii.gz")
    csv_path = write(tmp_path / "LIST.CSV", "image,split\nimgs/a.nii.gz,train\n")
    json_path = write(tmp_path / "dataset.json", json.dumps({"test": ["imgs/b.nii.gz"]}))
    folder = load_manifest(tmp_path / "imgs", spatial_dims=3)
    assert [r.subject_id for r in folder] == ["a", "b"]
    (from_csv,) = load_manifest(csv_path)
    assert (from_csv.image, from_csv.split) == (tmp_path / "imgs" / "a.nii.gz", "train")
    (from_json,) = load_manifest(json_path)
    assert (from_json.image, from_json.split) == (tmp_path / "imgs" / "b.nii.gz", "test")


def test_validates_by_default(tmp_path: Path, write: Write) -> None:
    csv_path = write(tmp_path / "m.csv", "image\nmissing.nii.gz\n")
    with pytest.raises(ManifestError, match="image not found"):
        load_manifest(csv_path)
    assert len(load_manifest(csv_path, validate=False)) == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(ManifestError, match="no records"):
        load_manifest(tmp_path / "empty")


def test_unsupported_or_missing_sources(tmp_path: Path, touch: Touch, write: Write) -> None:
    (yaml_file,) = touch("m.yaml")
    with pytest.raises(InputError, match="unsupported manifest") as caught:
        load_manifest(yaml_file)
    assert caught.value.path == str(yaml_file)
    with pytest.raises(InputError, match="not found"):
        load_manifest(tmp_path / "absent.csv")
    csv_path = write(tmp_path / "m.csv", "image\na.nii.gz\n")
    with pytest.raises(ConfigError, match="label_set"):
        load_manifest(csv_path, label_set="level0")


def test_confine_to_reaches_every_source(tmp_path: Path, touch: Touch, write: Write) -> None:
    root = tmp_path / "root"
    (outside,) = touch("outside.nii.gz")
    touch("imgs/a.nii.gz", root=root)
    csv_path = write(root / "m.csv", "image\nimgs/a.nii.gz\n../outside.nii.gz\n")
    json_path = write(root / "d.json", json.dumps({"test": ["imgs/a.nii.gz", str(outside)]}))
    (root / "imgs" / "b.nii.gz").symlink_to(outside)
    for source, where in [(csv_path, "line 3"), (json_path, "test[1]")]:
        assert len(load_manifest(source)) == 2  # not confined: as before
        with pytest.raises(ManifestError) as caught:
            load_manifest(source, confine_to=root)
        assert caught.value.problems == [f"{where}: image {outside} is outside the root {root}"]
    with pytest.raises(ManifestError) as caught:
        load_manifest(root / "imgs", confine_to=root)
    link = root / "imgs" / "b.nii.gz"
    assert caught.value.problems == [
        f"folder scan: image {link} (-> {outside}) is outside the root {root}"
    ]
