from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from anatomy_ssl.errors import ManifestError
from anatomy_ssl.manifests import Manifest, ManifestRecord

MakeRecord = Callable[..., ManifestRecord]
Touch = Callable[..., list[Path]]


def test_a_consistent_manifest_passes(make_record: MakeRecord, touch: Touch) -> None:
    touch("a.nii.gz", "a_seg.nii.gz", "b.nii.gz")
    manifest = Manifest(
        "m",
        [
            make_record("a.nii.gz", label="a_seg.nii.gz", split="train"),
            make_record("b.nii.gz", split="val"),
        ],
    )
    manifest.validate()
    assert manifest.problems() == []


def test_every_missing_file_is_listed_in_one_error(
    tmp_path: Path, make_record: MakeRecord, touch: Touch
) -> None:
    touch("present.nii.gz", "dicom_series/1.dcm")
    manifest = Manifest(
        "cohort.csv",
        [
            make_record("present.nii.gz", label="missing_label.nii.gz"),
            make_record("gone_1.nii.gz"),
            make_record("dicom_series"),  # a folder image exists
            make_record("gone_2.nrrd", label="also_gone.nii.gz"),
        ],
    )
    with pytest.raises(ManifestError) as caught:
        manifest.validate()
    error = caught.value
    assert error.source == "cohort.csv"
    missing = ["missing_label.nii.gz", "gone_1.nii.gz", "gone_2.nrrd", "also_gone.nii.gz"]
    assert len(error.problems) == len(missing)
    for name, problem in zip(missing, error.problems, strict=True):
        assert str(tmp_path / name) in problem
        assert str(tmp_path / name) in str(error)
    assert error.problems[0].startswith("label not found")
    assert error.problems[1].startswith("image not found")


def test_check_files_false_skips_the_disk_but_not_the_logic(make_record: MakeRecord) -> None:
    unique = Manifest("m", [make_record("a.nii.gz"), make_record("b.nii.gz")])
    unique.validate(check_files=False)  # files do not exist, but that is not checked
    duplicated = Manifest("m", [make_record("a.nii.gz"), make_record("a.nii.gz")])
    with pytest.raises(ManifestError, match="listed 2 times"):
        duplicated.validate(check_files=False)


def test_duplicate_images_name_the_path_and_the_subjects(
    tmp_path: Path, make_record: MakeRecord
) -> None:
    manifest = Manifest(
        "m",
        [
            make_record("a.nii.gz", subject="s1"),
            make_record("a.nii.gz", subject="s1"),
            make_record("b.nii.gz", subject="s2"),
            make_record("b.nii.gz", subject="s3"),
            make_record("b.nii.gz", subject="s2"),
            make_record("c.nii.gz", subject="s1"),
        ],
    )
    assert manifest.problems(check_files=False) == [
        f"image listed 2 times for subject s1: {tmp_path / 'a.nii.gz'}",
        f"image listed 3 times, under subjects s2, s3: {tmp_path / 'b.nii.gz'}",
    ]


def test_a_subject_in_two_splits_is_a_leak(tmp_path: Path, make_record: MakeRecord) -> None:
    manifest = Manifest(
        "m",
        [
            make_record("p1_t1.nii.gz", subject="p1", split="train"),
            make_record("p1_t2.nii.gz", subject="p1", split="test"),
            make_record("p1_t3.nii.gz", subject="p1"),  # no split: no conflict by itself
            make_record("p2_t1.nii.gz", subject="p2", split="val"),
            make_record("p2_t2.nii.gz", subject="p2", split="val"),
        ],
    )
    problems = manifest.problems(check_files=False)
    assert len(problems) == 1
    assert problems[0].startswith("subject p1 is in 2 splits")
    assert f"test: {tmp_path / 'p1_t2.nii.gz'}" in problems[0]
    assert f"train: {tmp_path / 'p1_t1.nii.gz'}" in problems[0]


def test_empty_manifest_and_label_equal_to_image(make_record: MakeRecord) -> None:
    with pytest.raises(ManifestError, match="no records"):
        Manifest("empty.csv", []).validate()
    self_labeled = Manifest("m", [make_record("a.nii.gz", label="a.nii.gz")])
    assert self_labeled.problems(check_files=False) == [
        f"label is the image itself: {self_labeled[0].image}"
    ]


def test_all_kinds_of_problems_are_reported_together(make_record: MakeRecord) -> None:
    manifest = Manifest(
        "m",
        [
            make_record("x.nii.gz", subject="s", split="train"),
            make_record("x.nii.gz", subject="s", split="val"),
        ],
    )
    problems = manifest.problems()
    prefixes = ["image not found", "image not found", "image listed 2 times", "subject s is in"]
    assert len(problems) == len(prefixes)
    for prefix, problem in zip(prefixes, problems, strict=True):
        assert problem.startswith(prefix)
