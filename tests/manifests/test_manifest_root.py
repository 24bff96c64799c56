from __future__ import annotations

from pathlib import Path

import pytest

from anatomy_ssl.errors import InputError
from anatomy_ssl.manifests import ManifestRecord
from anatomy_ssl.manifests.manifest_root import confinement_root, paths_outside_root


def test_the_root_is_resolved_and_must_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert confinement_root(tmp_path / "link") == (tmp_path / "real").resolve()
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="root folder not found"):
        confinement_root(tmp_path / "file")


def test_paths_are_judged_after_resolving_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "in.nii.gz").write_text("")
    (root / "inner_link.nii.gz").symlink_to(root / "sub" / "in.nii.gz")
    (root / "outer_link").symlink_to(tmp_path)
    inside = ManifestRecord(root / "inner_link.nii.gz", root / "sub", "a")  # the root's subtree
    assert paths_outside_root(inside, confinement_root(root), "line 2") == []
    assert paths_outside_root(ManifestRecord(root, None, "a"), root, "x") == []  # root itself
    escaping = ManifestRecord(root / "outer_link" / "x.nii.gz", tmp_path / "rootless", "b")
    assert paths_outside_root(escaping, confinement_root(root), "line 3") == [
        f"line 3: image {root / 'outer_link' / 'x.nii.gz'} (-> {tmp_path / 'x.nii.gz'}) is "
        f"outside the root {root}",
        f"line 3: label {tmp_path / 'rootless'} is outside the root {root}",  # a name prefix
    ]
