from __future__ import annotations

import csv
from pathlib import Path

from anatomy_ssl.manifests import Manifest, ManifestRecord, manifest_from_csv


def _records(tmp_path: Path) -> list[ManifestRecord]:
    data = tmp_path / "data"
    return [
        ManifestRecord(data / "img" / "a.nii.gz", data / "lab" / "a.nii.gz", "a", "train",
                       {"age": "63", "note": 'has, comma and "quotes"\nand a newline'}),
        ManifestRecord(data / "img" / "b.nii.gz", None, "patient b", None, {"sex": "F"}),
        ManifestRecord(tmp_path / "outside" / "c.nrrd", None, "c", "test", {}),
        ManifestRecord(data / "dicom" / "series_1", None, "d", "val", {"age": " 7 "}),
    ]  # fmt: skip


def test_to_csv_round_trips_through_the_reader(tmp_path: Path) -> None:
    manifest = Manifest("original", _records(tmp_path))
    written = manifest.to_csv(tmp_path / "data" / "manifest.csv")
    assert written == tmp_path / "data" / "manifest.csv"
    again = manifest_from_csv(written)
    assert again.records == manifest.records
    assert again.source == str(written)


def test_paths_are_relative_inside_the_csv_folder_and_absolute_outside(tmp_path: Path) -> None:
    path = Manifest("m", _records(tmp_path)).to_csv(tmp_path / "data" / "manifest.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["image", "label", "subject_id", "split", "age", "note", "sex"]
    assert rows[1][:4] == ["img/a.nii.gz", "lab/a.nii.gz", "a", "train"]
    assert rows[2][:4] == ["img/b.nii.gz", "", "patient b", ""]
    assert rows[2][4:] == ["", "", "F"]  # absent metadata -> empty cells
    assert rows[3][0] == str(tmp_path / "outside" / "c.nrrd")
    assert rows[4][0] == "dicom/series_1"


def test_writing_replaces_atomically_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "out" / "manifest.csv"
    target.parent.mkdir()
    target.write_text("old content that is not a manifest\n", encoding="utf-8")
    Manifest("m", _records(tmp_path)[:1]).to_csv(target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["manifest.csv"]
    assert len(manifest_from_csv(target)) == 1
