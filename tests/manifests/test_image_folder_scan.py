from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from anatomy_ssl.manifests.image_folder_scan import entry_stem, scan_image_entries

Touch = Callable[..., list[Path]]


def _names(entries: list[Path], base: Path) -> list[str]:
    return [entry.relative_to(base).as_posix() for entry in entries]


def test_scan_groups_dicom_series_and_skips_hidden_and_unknown_files(
    tmp_path: Path, touch: Touch, dicom_bytes: bytes
) -> None:
    touch("b/scan.nii.gz", "a.mha", "notes.txt", "._a.nii.gz", ".cache/x.nii.gz", "a.raw")
    touch("series/1.dcm", "series/2.dcm", "series/preview.png", "series/sub/c.nrrd")
    touch("sniffed/IM0001", "sniffed/IM0002", content=dicom_bytes)
    touch("not_dicom/README")
    entries = scan_image_entries(tmp_path)
    assert _names(entries, tmp_path) == [
        "a.mha",
        "b/scan.nii.gz",
        "series",
        "series/sub/c.nrrd",
        "sniffed",
    ]


def test_without_grouping_every_dicom_file_is_an_entry(tmp_path: Path, touch: Touch) -> None:
    touch("xr/p1.dcm", "xr/p2.dcm", "xr/p3.png")
    entries = scan_image_entries(tmp_path, group_dicom_series=False)
    assert _names(entries, tmp_path) == ["xr/p1.dcm", "xr/p2.dcm", "xr/p3.png"]


def test_pattern_and_exclude(tmp_path: Path, touch: Touch) -> None:
    touch("ct/a.nii.gz", "ct/a.nrrd", "labels/a.nii.gz", "series/1.dcm")
    assert _names(scan_image_entries(tmp_path, "**/*.nii.gz"), tmp_path) == [
        "ct/a.nii.gz",
        "labels/a.nii.gz",
    ]
    assert _names(scan_image_entries(tmp_path, "**/*.dcm"), tmp_path) == ["series"]
    excluded = scan_image_entries(tmp_path, exclude=tmp_path / "labels")
    assert _names(excluded, tmp_path) == ["ct/a.nii.gz", "ct/a.nrrd", "series"]


def test_entry_stem(tmp_path: Path, touch: Touch) -> None:
    (series,) = touch("series.2/1.dcm")
    assert entry_stem(series.parent) == "series.2"  # a folder's whole name
    assert entry_stem(tmp_path / "case.01.nii.gz") == "case.01"
