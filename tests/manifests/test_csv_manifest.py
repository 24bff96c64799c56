from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from anatomy_ssl.errors import InputError, ManifestError
from anatomy_ssl.manifests import manifest_from_csv

Write = Callable[[Path, str], Path]


def test_relative_paths_resolve_against_the_csv_folder_not_the_cwd(
    tmp_path: Path, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    csv_path = write(
        tmp_path / "study" / "lists" / "manifest.csv",
        f"image,label\n../images/a.nii.gz,../labels/a.nii.gz\n{tmp_path / 'abs' / 'b.nrrd'},\n",
    )
    manifest = manifest_from_csv(csv_path)
    assert manifest[0].image == tmp_path / "study" / "images" / "a.nii.gz"
    assert manifest[0].label == tmp_path / "study" / "labels" / "a.nii.gz"
    assert manifest[1].image == tmp_path / "abs" / "b.nrrd"
    assert manifest.source == str(csv_path)


def test_metadata_columns_kept_as_strings_and_empty_cells_mean_none(
    tmp_path: Path, write: Write
) -> None:
    csv_path = write(
        tmp_path / "m.csv",
        "age,image,split,label,subject_id,survival_days,event\n"
        "63,a.nii.gz,train,a_seg.nii.gz,p1,400.5,1\n"
        "71, b.nii.gz ,,,,,0\n",
    )
    first, second = manifest_from_csv(csv_path)
    assert first.metadata == {"age": "63", "survival_days": "400.5", "event": "1"}
    assert (first.subject_id, first.split) == ("p1", "train")
    assert second.image == tmp_path / "b.nii.gz"  # whitespace around paths is stripped
    assert second.label is None
    assert second.split is None
    assert second.subject_id == "b"  # default: image name without its (double) suffix
    assert second.metadata == {"age": "71", "event": "0"}  # empty cell -> absent key


def test_missing_image_column_names_the_file_and_the_columns(tmp_path: Path, write: Write) -> None:
    csv_path = write(tmp_path / "bad.csv", "path,label\nx.nii.gz,\n")
    with pytest.raises(InputError) as caught:
        manifest_from_csv(csv_path)
    assert caught.value.path == str(csv_path)
    assert "no 'image' column" in caught.value.problem
    assert "'path', 'label'" in caught.value.problem


def test_every_bad_row_is_listed_with_its_line(tmp_path: Path, write: Write) -> None:
    csv_path = write(
        tmp_path / "m.csv",
        "image,label\n"
        "a.nii.gz,\n"
        ",a_seg.nii.gz\n"  # line 3
        "\n"  # blank lines are skipped
        ",,\n"  # all cells empty: skipped
        "c.nii.gz,c_seg.nii.gz,surplus\n"  # line 6
        "  ,x.nii.gz\n",  # line 7
    )
    with pytest.raises(ManifestError) as caught:
        manifest_from_csv(csv_path)
    assert caught.value.problems == [
        "line 3: empty image cell",
        "line 6: 3 cells but 2 columns",
        "line 7: empty image cell",
    ]
    assert caught.value.source == str(csv_path)


def test_excel_bom_short_rows_and_pandas_index_column(tmp_path: Path) -> None:
    csv_path = tmp_path / "excel.csv"
    csv_path.write_bytes(b"\xef\xbb\xbf,image,label,site\n0,a.nii.gz,a_seg.nii.gz,X\n1,b.nii.gz\n")
    first, second = manifest_from_csv(csv_path)
    assert first.image == tmp_path / "a.nii.gz"
    assert first.metadata == {"site": "X"}  # the unnamed index column is dropped
    assert (second.label, second.metadata) == (None, {})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no header"),
        (b"image,image\na,b\n", "repeated column"),
        (b"image\n\xff\xfe broken utf-8\n", "cannot read"),
    ],
)
def test_unreadable_csv_is_an_input_error(tmp_path: Path, content: bytes, message: str) -> None:
    csv_path = tmp_path / "m.csv"
    csv_path.write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        manifest_from_csv(csv_path)
    assert caught.value.path == str(csv_path)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        manifest_from_csv(tmp_path / "nope.csv")


def test_confined_csv_refuses_rows_that_leave_the_root_naming_line_and_path(
    tmp_path: Path, write: Write
) -> None:
    root = tmp_path / "data"
    secret = write(tmp_path / "secret" / "x.nii.gz", "")
    (root / "images").mkdir(parents=True)
    (root / "images" / "link.nii.gz").symlink_to(secret)
    csv_path = write(
        root / "lists" / "m.csv",
        "image,label\n"
        f"../images/a.nii.gz,{root / 'labels' / 'a.nii.gz'}\n"  # relative and absolute: inside
        "../../../../../../../../etc/passwd,\n"  # line 3: `..` out of the root
        "../images/link.nii.gz,\n"  # line 4: a symlink out of the root
        f"../images/b.nii.gz,{tmp_path / 'b_seg.nii.gz'}\n",  # line 5: the label is outside
    )
    assert len(manifest_from_csv(csv_path)) == 4  # not confined: paths may point anywhere
    with pytest.raises(ManifestError) as caught:
        manifest_from_csv(csv_path, confine_to=root)
    assert caught.value.problems == [
        f"line 3: image /etc/passwd is outside the root {root}",
        f"line 4: image {root / 'images' / 'link.nii.gz'} (-> {secret}) is outside the root {root}",
        f"line 5: label {tmp_path / 'b_seg.nii.gz'} is outside the root {root}",
    ]
    with pytest.raises(InputError, match="root folder not found"):
        manifest_from_csv(csv_path, confine_to=tmp_path / "missing")
