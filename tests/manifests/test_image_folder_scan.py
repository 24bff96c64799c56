from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from anatomy_ssl.manifests.image_folder_scan import (
    entry_stem,
    is_dicom_series_folder,
    scan_image_entries,
)

Touch = Callable[..., list[Path]]


def _names(entries: tuple[Path, ...], base: Path) -> list[str]:
    return [entry.relative_to(base).as_posix() for entry in entries]


def _latin1(folder: Path, name: bytes) -> Path:
    """The path of a file named by bytes that are not UTF-8 (as Python presents it)."""
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + name))


def test_scan_groups_dicom_series_and_skips_hidden_and_unknown_files(
    tmp_path: Path, touch: Touch, dicom_bytes: bytes
) -> None:
    touch("b/scan.nii.gz", "a.mha", "notes.txt", "._a.nii.gz", ".cache/x.nii.gz", "a.raw")
    touch("series/1.dcm", "series/2.dcm", "series/preview.png", "series/sub/c.nrrd")
    touch("sniffed/IM0001", "sniffed/IM0002", content=dicom_bytes)
    touch("not_dicom/README")
    scan = scan_image_entries(tmp_path)
    assert scan.rejects == ()
    assert _names(scan.entries, tmp_path) == [
        "a.mha",
        "b/scan.nii.gz",
        "series",
        "series/sub/c.nrrd",
        "sniffed",
    ]


def test_without_grouping_every_dicom_file_is_an_entry(tmp_path: Path, touch: Touch) -> None:
    touch("xr/p1.dcm", "xr/p2.dcm", "xr/p3.png")
    scan = scan_image_entries(tmp_path, group_dicom_series=False)
    assert _names(scan.entries, tmp_path) == ["xr/p1.dcm", "xr/p2.dcm", "xr/p3.png"]


def test_pattern_and_exclude(tmp_path: Path, touch: Touch) -> None:
    touch("ct/a.nii.gz", "ct/a.nrrd", "labels/a.nii.gz", "series/1.dcm")
    assert _names(scan_image_entries(tmp_path, "**/*.nii.gz").entries, tmp_path) == [
        "ct/a.nii.gz",
        "labels/a.nii.gz",
    ]
    assert _names(scan_image_entries(tmp_path, "**/*.dcm").entries, tmp_path) == ["series"]
    excluded = scan_image_entries(tmp_path, exclude=tmp_path / "labels").entries
    assert _names(excluded, tmp_path) == ["ct/a.nii.gz", "ct/a.nrrd", "series"]


def test_entry_stem(tmp_path: Path, touch: Touch) -> None:
    (series,) = touch("series.2/1.dcm")
    assert entry_stem(series.parent) == "series.2"  # a folder's whole name
    assert entry_stem(tmp_path / "case.01.nii.gz") == "case.01"


def test_a_lone_dicom_file_among_volumes_is_its_own_entry_and_the_volumes_stay(
    tmp_path: Path, touch: Touch
) -> None:
    touch("mixed/a.nii.gz", "mixed/b.nrrd", "mixed/stray.dcm")
    touch("series/1.dcm", "series/2.dcm", "series/extra.nii.gz", "series/preview.png")
    touch("only/single.dcm")
    entries = scan_image_entries(tmp_path).entries
    assert _names(entries, tmp_path) == [
        "mixed/a.nii.gz",
        "mixed/b.nrrd",
        "mixed/stray.dcm",  # read (or rejected) as a file of its own, naming itself
        "only",  # a single DICOM file alone in its folder is still a one-slice series
        "series",
        "series/extra.nii.gz",  # a volume beside the slices is not swallowed by the series
    ]
    assert not is_dicom_series_folder(tmp_path / "mixed")
    assert is_dicom_series_folder(tmp_path / "series")
    assert is_dicom_series_folder(tmp_path / "only")


def test_names_that_are_not_utf8_are_rejects_that_name_the_file(
    tmp_path: Path, touch: Touch
) -> None:
    touch("ok.nii.gz", "series/1.dcm", "clean/1.dcm", "clean/2.dcm")
    latin1_image = _latin1(tmp_path, b"caf\xe9.nii.gz")
    latin1_image.write_bytes(b"")
    _latin1(tmp_path / "series", b"caf\xe9.dcm").write_bytes(b"")
    _latin1(tmp_path, b"notes\xe9.txt").write_bytes(b"")  # not an image: ignored as before
    scan = scan_image_entries(tmp_path)
    assert _names(scan.entries, tmp_path) == ["clean", "ok.nii.gz"]
    assert "caf\\xe9.nii.gz'" in scan.rejects[0]  # printable: the repr of the name's bytes
    assert scan.rejects == (
        f"{os.fsencode(latin1_image)!r}: name is not UTF-8, so it can be "
        "neither read nor listed in a manifest; rename it",
        f"{tmp_path / 'series'}: DICOM file name(s) not UTF-8, so the series cannot be read: "
        "b'caf\\xe9.dcm'; rename them",
    )
