from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from anatomy_ssl.errors import ManifestError
from anatomy_ssl.manifests import Manifest, ManifestRecord

MakeRecord = Callable[..., ManifestRecord]


@pytest.fixture
def manifest(make_record: MakeRecord) -> Manifest:
    return Manifest(
        "listing.csv",
        [
            make_record("b1.nii.gz", subject="b", split="val"),
            make_record("a1.nii.gz", subject="a", split="train"),
            make_record("a2.nii.gz", subject="a", split="train"),
            make_record("c1.nii.gz", subject="c"),
        ],
    )


def test_sequence_protocol_keeps_order(manifest: Manifest) -> None:
    assert len(manifest) == 4
    assert [record.image.name for record in manifest] == [
        "b1.nii.gz",
        "a1.nii.gz",
        "a2.nii.gz",
        "c1.nii.gz",
    ]
    assert manifest[1].image.name == "a1.nii.gz"
    assert isinstance(manifest.records, tuple)
    assert repr(manifest) == "Manifest(source='listing.csv', 4 records)"


def test_subjects_are_distinct_and_sorted(manifest: Manifest) -> None:
    assert manifest.subjects() == ("a", "b", "c")


def test_by_split_selects_records_and_none_selects_unsplit(manifest: Manifest) -> None:
    assert [r.image.name for r in manifest.by_split("train")] == ["a1.nii.gz", "a2.nii.gz"]
    assert [r.image.name for r in manifest.by_split(None)] == ["c1.nii.gz"]
    assert len(manifest.by_split("test")) == 0
    assert manifest.by_split("val").source == manifest.source


def test_with_splits_moves_every_record_of_a_subject(manifest: Manifest) -> None:
    changed = manifest.with_splits({"a": "test", "c": "train"})
    assert [r.split for r in changed] == ["val", "test", "test", "train"]
    assert [r.split for r in manifest] == ["val", "train", "train", None]  # original untouched
    assert [r.image for r in changed] == [r.image for r in manifest]


def test_with_splits_rejects_unknown_subjects(manifest: Manifest) -> None:
    with pytest.raises(ManifestError) as caught:
        manifest.with_splits({"zz": "train", "yy": "val"})
    assert caught.value.problems == [
        "split given for unknown subject yy",
        "split given for unknown subject zz",
    ]


def test_records_must_be_manifest_records(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        Manifest("x", [tmp_path / "a.nii.gz"])  # type: ignore[list-item]


def test_rejects_travel_with_the_manifest_and_explain_an_empty_one(
    make_record: MakeRecord,
) -> None:
    rejects = ["b'/d/caf\\xe9.nii.gz': name is not UTF-8"]
    manifest = Manifest("d", [make_record("a.nii.gz", subject="a")], rejects)
    assert manifest.with_splits({"a": "train"}).rejects == tuple(rejects)
    assert manifest.by_split(None).rejects == tuple(rejects)
    assert repr(manifest) == "Manifest(source='d', 1 records, 1 rejected)"
    assert manifest.problems(check_files=False) == []
    empty = Manifest("d", [], rejects)
    with pytest.raises(ManifestError) as caught:
        empty.validate()
    assert caught.value.problems == ["manifest has no records", *rejects]
