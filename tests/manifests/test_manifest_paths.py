from __future__ import annotations

from pathlib import Path

import pytest

from anatomy_ssl.manifests.manifest_paths import (
    absolute_path,
    format_manifest_path,
    resolve_manifest_path,
)


def test_relative_cells_resolve_against_the_manifest_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the current directory must not matter
    base = tmp_path / "data" / "lists"
    assert resolve_manifest_path(" ../img/a.nii.gz ", base) == tmp_path / "data" / "img/a.nii.gz"
    assert resolve_manifest_path("/elsewhere/b.nrrd", base) == Path("/elsewhere/b.nrrd")


def test_absolute_path_keeps_symlinks_but_collapses_dots(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert absolute_path(tmp_path / "link" / "x" / "..") == tmp_path / "link"


def test_paths_are_written_relative_inside_and_absolute_outside(tmp_path: Path) -> None:
    base = tmp_path / "m"
    assert format_manifest_path(base / "sub" / "a.nii.gz", base) == "sub/a.nii.gz"
    outside = tmp_path / "other" / "a.nii.gz"
    assert format_manifest_path(outside, base) == str(outside)
