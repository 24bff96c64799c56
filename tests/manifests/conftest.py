"""Fixtures for manifest tests: empty placeholder files in tmp_path (no pixels are ever read)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from anatomy_ssl.manifests import ManifestRecord

#: A DICOM Part 10 header: 128-byte preamble + "DICM", enough for the format sniff.
DICOM_HEADER = b"\0" * 128 + b"DICM"

Touch = Callable[..., list[Path]]
MakeRecord = Callable[..., ManifestRecord]


@pytest.fixture
def dicom_bytes() -> bytes:
    """Bytes that pass the DICOM magic sniff (for extension-less slice files)."""
    return DICOM_HEADER


@pytest.fixture
def touch(tmp_path: Path) -> Touch:
    """`touch(*relative_paths, root=tmp_path, content=b"")` creates files (and their folders)."""

    def make(*relative: str, root: Path | None = None, content: bytes = b"") -> list[Path]:
        base = tmp_path if root is None else root
        made = []
        for name in relative:
            path = base / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            made.append(path)
        return made

    return make


@pytest.fixture
def make_record(tmp_path: Path) -> MakeRecord:
    """`make_record(name, subject=..., split=..., label=..., **metadata)` with paths in tmp_path."""

    def make(
        name: str,
        *,
        subject: str | None = None,
        split: str | None = None,
        label: str | None = None,
        **metadata: str,
    ) -> ManifestRecord:
        return ManifestRecord(
            image=tmp_path / name,
            label=None if label is None else tmp_path / label,
            subject_id=subject if subject is not None else name.split(".")[0],
            split=split,
            metadata=metadata,
        )

    return make


@pytest.fixture
def phantom_root(tmp_path: Path, touch: Touch) -> Path:
    """The phantom's layout: images/case_00k.nii.gz, labels/level{0,1,2}/case_00k.nii.gz, extras."""
    root = tmp_path / "phantom"
    names = [f"case_{k:03d}.nii.gz" for k in range(3)]
    touch(*(f"images/{name}" for name in names), root=root)
    for level in range(3):
        touch(*(f"labels/level{level}/{name}" for name in names), root=root)
    touch("landmarks/case_000.json", "clinical.csv", "hierarchy.json", root=root)
    return root


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def write() -> Callable[[Path, str], Path]:
    """`write(path, text)` writes a UTF-8 text file, creating its folder."""
    return write_text
