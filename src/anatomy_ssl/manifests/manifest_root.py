"""Confines a manifest to one folder: every image and label must resolve inside it (`--root`)."""

from __future__ import annotations

from pathlib import Path

from anatomy_ssl.errors import InputError
from anatomy_ssl.manifests.manifest_paths import absolute_path
from anatomy_ssl.manifests.manifest_record import ManifestRecord


def confinement_root(root: str | Path) -> Path:
    """The folder a confined manifest must stay in, resolved (symlinks followed, absolute).

    Raises:
        InputError: `root` is not an existing folder.
    """
    folder = absolute_path(root)
    if not folder.is_dir():
        raise InputError(folder, "root folder not found (the manifest is confined to it)")
    return folder.resolve()


def paths_outside_root(record: ManifestRecord, root: Path, where: str) -> list[str]:
    """One problem line for each path of `record` (image, label) that resolves outside `root`.

    `..` and symlinks are resolved first, so neither `../../etc/passwd` nor a link inside the
    root that points out of it passes; the root itself counts as inside.

    Args:
        record: the manifest row.
        root: the folder from `confinement_root`.
        where: the row as its reader names it ("line 3", "training[0]", "folder scan").

    Returns:
        E.g. "line 3: image /etc/passwd is outside the root /data"; a symlink's target is added
        ("image /data/x.nii.gz (-> /srv/x.nii.gz) is outside ..."). Empty when all are inside.
    """
    problems = []
    for role, path in (("image", record.image), ("label", record.label)):
        if path is None:
            continue
        resolved = path.resolve()
        if not resolved.is_relative_to(root):
            target = "" if resolved == path else f" (-> {resolved})"
            problems.append(f"{where}: {role} {path}{target} is outside the root {root}")
    return problems
