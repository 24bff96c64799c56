from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from anatomy_ssl.errors import ConfigError, InputError, ManifestError
from anatomy_ssl.manifests import Manifest, manifest_from_csv, manifest_from_folder

Touch = Callable[..., list[Path]]


def _rows(manifest: Manifest, base: Path) -> list[tuple[str, str | None, str]]:
    """(image, label, subject_id) with paths relative to base."""
    return [
        (
            r.image.relative_to(base).as_posix(),
            None if r.label is None else r.label.relative_to(base).as_posix(),
            r.subject_id,
        )
        for r in manifest
    ]


def test_nested_folders_sorted_with_one_record_per_dicom_series(
    tmp_path: Path, touch: Touch
) -> None:
    root = tmp_path / "data"
    touch("site_b/case_2.nii.gz", "site_a/case_1.nii.gz", "site_a/deep/er/case_0.nrrd", root=root)
    touch(*(f"site_a/patient_9/ct/{i:03d}.dcm" for i in range(5)), root=root)
    touch("site_a/readme.txt", "site_b/meta.json", root=root)
    manifest = manifest_from_folder(root)
    assert _rows(manifest, root) == [
        ("site_a/case_1.nii.gz", None, "case_1"),
        ("site_a/deep/er/case_0.nrrd", None, "case_0"),
        ("site_a/patient_9/ct", None, "ct"),
        ("site_b/case_2.nii.gz", None, "case_2"),
    ]
    assert all(r.split is None and r.metadata == {} for r in manifest)
    assert manifest.source == str(root)
    assert manifest_from_folder(root) == manifest  # deterministic


def test_2d_treats_each_dicom_file_as_one_image(tmp_path: Path, touch: Touch) -> None:
    touch("xr/p1.dcm", "xr/p2.dcm", "xr/p3.png")
    manifest = manifest_from_folder(tmp_path, spatial_dims=2)
    assert [r.subject_id for r in manifest] == ["p1", "p2", "p3"]
    assert [r.subject_id for r in manifest_from_folder(tmp_path)] == ["xr"]  # 3D: one series


def test_labels_match_by_relative_path_or_stem_with_any_suffix(
    tmp_path: Path, touch: Touch
) -> None:
    root = tmp_path / "images"
    labels = tmp_path / "labels"
    touch("a/c1.nii.gz", "a/c2.nii.gz", "b/c3.mha", "b/c4.nii", "s5/1.dcm", root=root)
    touch("a/c1.nii.gz", "a/c2.nrrd", "b/c3.nii.gz", "s5.nii.gz", root=labels)
    manifest = manifest_from_folder(root, labels_dir=labels)
    assert [
        (r.image.relative_to(root).as_posix(), r.label and r.label.relative_to(labels).as_posix())
        for r in manifest
    ] == [
        ("a/c1.nii.gz", "a/c1.nii.gz"),
        ("a/c2.nii.gz", "a/c2.nrrd"),
        ("b/c3.mha", "b/c3.nii.gz"),
        ("b/c4.nii", None),
        ("s5", "s5.nii.gz"),  # a DICOM series matches by folder name
    ]


def test_orphan_labels_are_all_reported_with_their_paths(tmp_path: Path, touch: Touch) -> None:
    root, labels = tmp_path / "img", tmp_path / "lab"
    touch("c1.nii.gz", root=root)
    touch("c1.nii.gz", "c9.nii.gz", "sub/c1.nii.gz", root=labels)
    with pytest.raises(ManifestError) as caught:
        manifest_from_folder(root, labels_dir=labels)
    assert caught.value.problems == [
        f"label map without an image: {labels / 'c9.nii.gz'}",
        f"label map without an image: {labels / 'sub' / 'c1.nii.gz'}",  # wrong folder
    ]


def test_labels_of_images_left_out_by_the_pattern_are_not_orphans(
    tmp_path: Path, touch: Touch
) -> None:
    root, labels = tmp_path / "img", tmp_path / "lab"
    touch("c1_ct.nii.gz", "c1_mr.nii.gz", root=root)
    touch("c1_ct.nii.gz", "c1_mr.nii.gz", root=labels)
    manifest = manifest_from_folder(root, pattern="*_ct.nii.gz", labels_dir=labels)
    assert _rows(manifest, tmp_path) == [("img/c1_ct.nii.gz", "lab/c1_ct.nii.gz", "c1_ct")]


def test_several_label_maps_for_one_image_are_reported(tmp_path: Path, touch: Touch) -> None:
    root, labels = tmp_path / "img", tmp_path / "lab"
    touch("c1.nii.gz", root=root)
    touch("c1.nii.gz", "c1.nrrd", root=labels)
    with pytest.raises(ManifestError, match="several label maps") as caught:
        manifest_from_folder(root, labels_dir=labels)
    assert str(labels / "c1.nrrd") in caught.value.problems[0]


def test_a_labels_folder_inside_the_root_is_not_scanned_for_images(
    tmp_path: Path, touch: Touch
) -> None:
    touch("imagesTr/c1.nii.gz", "imagesTr/c2.nii.gz", "labelsTr/imagesTr/c1.nii.gz")
    manifest = manifest_from_folder(tmp_path, labels_dir=tmp_path / "labelsTr")
    assert _rows(manifest, tmp_path) == [
        ("imagesTr/c1.nii.gz", "labelsTr/imagesTr/c1.nii.gz", "c1"),
        ("imagesTr/c2.nii.gz", None, "c2"),
    ]


def test_phantom_layout_scans_images_and_needs_a_label_set_among_several(
    phantom_root: Path,
) -> None:
    unlabeled = manifest_from_folder(phantom_root)
    assert _rows(unlabeled, phantom_root) == [
        (f"images/case_{k:03d}.nii.gz", None, f"case_{k:03d}") for k in range(3)
    ]
    level1 = manifest_from_folder(phantom_root, label_set="level1")
    assert _rows(level1, phantom_root) == [
        (f"images/case_{k:03d}.nii.gz", f"labels/level1/case_{k:03d}.nii.gz", f"case_{k:03d}")
        for k in range(3)
    ]


def test_phantom_layout_uses_a_single_label_set_or_flat_labels(
    tmp_path: Path, touch: Touch
) -> None:
    touch("one/images/a.nii.gz", "one/labels/level0/a.nii.gz")
    touch("flat/images/a.nii.gz", "flat/labels/a.nii.gz")
    (one,) = manifest_from_folder(tmp_path / "one")
    assert one.label == tmp_path / "one" / "labels" / "level0" / "a.nii.gz"
    (flat,) = manifest_from_folder(tmp_path / "flat")
    assert flat.label == tmp_path / "flat" / "labels" / "a.nii.gz"


def test_unknown_label_set_lists_the_available_ones(phantom_root: Path) -> None:
    with pytest.raises(InputError) as caught:
        manifest_from_folder(phantom_root, label_set="level7")
    assert caught.value.path == str(phantom_root / "labels" / "level7")
    assert "level0, level1, level2" in caught.value.problem


def test_label_set_picks_a_subfolder_of_an_explicit_labels_dir(phantom_root: Path) -> None:
    manifest = manifest_from_folder(
        phantom_root / "images", labels_dir=phantom_root / "labels", label_set="level2"
    )
    assert [r.label for r in manifest] == [
        phantom_root / "labels" / "level2" / f"case_{k:03d}.nii.gz" for k in range(3)
    ]


def test_bad_arguments(tmp_path: Path, touch: Touch) -> None:
    (image,) = touch("a.nii.gz")
    with pytest.raises(InputError, match="not a folder"):
        manifest_from_folder(image)
    with pytest.raises(ConfigError, match="spatial_dims"):
        manifest_from_folder(tmp_path, spatial_dims=4)
    with pytest.raises(ConfigError, match="label_set"):
        manifest_from_folder(tmp_path, label_set="level0")
    with pytest.raises(InputError, match="labels folder not found"):
        manifest_from_folder(tmp_path, labels_dir=tmp_path / "missing")


def test_files_with_the_same_name_are_reported_as_duplicate_subjects(
    tmp_path: Path, touch: Touch
) -> None:
    root = tmp_path / "data"
    touch("p1/scan.nii.gz", "p2/scan.nii.gz", "p3/other.nii.gz", root=root)
    with pytest.raises(ManifestError) as caught:
        manifest_from_folder(root)
    (problem,) = caught.value.problems
    assert "duplicate subject id 'scan'" in problem
    assert (
        str(root / "p1" / "scan.nii.gz") in problem and str(root / "p2" / "scan.nii.gz") in problem
    )
    assert "subject_id column" in problem


def test_a_stray_dicom_file_does_not_swallow_the_volumes_beside_it(
    tmp_path: Path, touch: Touch
) -> None:
    touch("ct/case_1.nii.gz", "ct/case_2.nii.gz", "ct/stray.dcm")
    manifest = manifest_from_folder(tmp_path)
    assert _rows(manifest, tmp_path) == [
        ("ct/case_1.nii.gz", None, "case_1"),
        ("ct/case_2.nii.gz", None, "case_2"),
        ("ct/stray.dcm", None, "stray"),
    ]


def test_a_name_that_is_not_utf8_is_a_reject_and_the_rest_is_written(
    tmp_path: Path, touch: Touch
) -> None:
    root = tmp_path / "data"
    touch("ok.nii.gz", root=root)
    latin1 = Path(os.fsdecode(os.fsencode(root) + b"/caf\xe9.nii.gz"))  # b"caf\xe9": Latin-1
    latin1.write_bytes(b"")
    manifest = manifest_from_folder(root)
    assert _rows(manifest, root) == [("ok.nii.gz", None, "ok")]
    (reject,) = manifest.rejects
    assert reject.startswith(f"{os.fsencode(latin1)!r}: name is not UTF-8")
    written = manifest.to_csv(tmp_path / "manifest.csv")  # used to raise UnicodeEncodeError
    assert manifest_from_csv(written).records == manifest.records
    assert manifest.with_splits({"ok": "train"}).rejects == manifest.rejects


def test_confine_to_refuses_a_symlink_that_leaves_the_root(tmp_path: Path, touch: Touch) -> None:
    root = tmp_path / "data"
    (outside,) = touch("secret/x.nii.gz")
    touch("ct/a.nii.gz", root=root)
    (root / "ct" / "b.nii.gz").symlink_to(outside)
    assert [r.subject_id for r in manifest_from_folder(root)] == ["a", "b"]  # default: anywhere
    assert len(manifest_from_folder(root, confine_to=tmp_path)) == 2  # the link stays inside
    with pytest.raises(ManifestError) as caught:
        manifest_from_folder(root, confine_to=root)
    assert caught.value.problems == [
        f"folder scan: image {root / 'ct' / 'b.nii.gz'} (-> {outside}) is outside the root {root}"
    ]
