"""How paths are written in manifest files: relative to the manifest's folder where possible."""

from __future__ import annotations

import os
from pathlib import Path


def absolute_path(path: str | Path) -> Path:
    """`path` made absolute (against the current directory) with `.` / `..` collapsed lexically.

    Unlike `Path.resolve`, symlinks are kept, so a path a user typed stays recognizable in messages.
    """
    return Path(os.path.normpath(Path(path).absolute()))


def resolve_manifest_path(text: str, base_dir: Path) -> Path:
    """The absolute path a manifest cell names; relative cells are relative to `base_dir`.

    Args:
        text: the path as written in the manifest (whitespace around it is ignored).
        base_dir: the folder of the manifest file.

    Returns:
        An absolute, lexically normalized path (`.` and `..` collapsed, symlinks kept).
    """
    return absolute_path(absolute_path(base_dir) / text.strip())


def format_manifest_path(path: Path, base_dir: Path) -> str:
    """`path` as a manifest cell: relative (POSIX separators) inside `base_dir`, else absolute."""
    try:
        return path.relative_to(absolute_path(base_dir)).as_posix()
    except ValueError:
        return str(path)
