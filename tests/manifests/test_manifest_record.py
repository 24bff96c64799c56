from __future__ import annotations

import os
from pathlib import Path

import pytest

from anatomy_ssl.manifests import RESERVED_COLUMNS, ManifestRecord


def test_paths_are_normalized_and_kept_absolute(tmp_path: Path) -> None:
    record = ManifestRecord(
        image=tmp_path / "a" / ".." / "b" / "." / "scan.nii.gz",
        label=str(tmp_path / "labels" / "x" / ".." / "scan.nii.gz"),  # type: ignore[arg-type]
        subject_id="s",
    )
    assert record.image == tmp_path / "b" / "scan.nii.gz"
    assert record.label == tmp_path / "labels" / "scan.nii.gz"
    assert isinstance(record.label, Path)


@pytest.mark.parametrize("field", ["image", "label"])
def test_relative_paths_are_rejected(tmp_path: Path, field: str) -> None:
    kwargs = {"image": tmp_path / "scan.nii.gz", "label": None, "subject_id": "s"}
    kwargs[field] = Path("relative/scan.nii.gz")
    with pytest.raises(ValueError, match="absolute"):
        ManifestRecord(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("column", RESERVED_COLUMNS)
def test_metadata_may_not_shadow_manifest_columns(tmp_path: Path, column: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        ManifestRecord(tmp_path / "x.nii", None, "s", None, {column: "v"})


def test_metadata_values_must_be_strings(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="str"):
        ManifestRecord(tmp_path / "x.nii", None, "s", None, {"age": 63})  # type: ignore[dict-item]


@pytest.mark.parametrize(("subject", "split"), [("", None), ("s", "")])
def test_empty_subject_or_split_is_rejected(tmp_path: Path, subject: str, split: str) -> None:
    with pytest.raises(ValueError):
        ManifestRecord(tmp_path / "x.nii", None, subject, split)


def test_metadata_is_a_private_copy_and_records_are_hashable(tmp_path: Path) -> None:
    metadata = {"age": "63"}
    record = ManifestRecord(tmp_path / "x.nii", None, "s", "train", metadata)
    metadata["age"] = "99"
    assert record.metadata == {"age": "63"}
    same = ManifestRecord(tmp_path / "x.nii", None, "s", "train", {"age": "63"})
    assert record == same
    assert len({record, same}) == 1
    with pytest.raises(AttributeError):
        record.split = "val"  # type: ignore[misc]


@pytest.mark.parametrize("field", ["image", "label"])
def test_paths_that_are_not_utf8_are_refused_by_their_bytes(tmp_path: Path, field: str) -> None:
    latin1 = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.nii.gz"))
    kwargs = {"image": tmp_path / "scan.nii.gz", "label": None, "subject_id": "s"}
    kwargs[field] = latin1
    with pytest.raises(ValueError, match="not UTF-8") as caught:
        ManifestRecord(**kwargs)  # type: ignore[arg-type]
    assert repr(os.fsencode(latin1)) in str(caught.value)  # printable: b'.../caf\xe9.nii.gz'
    assert str(caught.value).isascii()  # prints on any terminal
