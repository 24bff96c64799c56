"""One manifest row: an image (file or DICOM series folder), its label map, subject and metadata."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from anatomy_ssl.io.file_formats import is_utf8_path, printable_path

#: Column names with a fixed meaning in manifest CSVs; metadata keys may not reuse them.
RESERVED_COLUMNS: tuple[str, ...] = ("image", "label", "subject_id", "split")


def _normalized_absolute(path: str | Path, role: str) -> Path:
    """`path` with `.` / `..` collapsed (lexically, symlinks untouched); it must be absolute and
    UTF-8 (see `is_utf8_path`)."""
    path = Path(path)
    if not is_utf8_path(path):
        raise ValueError(f"{role} path is not UTF-8: {printable_path(path)}; rename the file")
    if not path.is_absolute():
        raise ValueError(f"{role} path must be absolute, got {str(path)!r}")
    return Path(os.path.normpath(path))


@dataclass(frozen=True)
class ManifestRecord:
    """One image of a manifest and what is known about it; no pixels are read.

    Attributes:
        image: absolute path of the image file, or of a DICOM series folder.
        label: absolute path of its label map, or None when unlabeled.
        subject_id: the subject (patient) the image belongs to; splits are made per subject, so
            several images of one subject always land in the same split.
        split: split name ("train", "val", "test", ...) or None when not assigned yet.
        metadata: any extra (e.g. clinical) columns, as strings; a missing value is an absent key.
            Keys may not be one of `RESERVED_COLUMNS`.

    Paths are normalized lexically (`a/./b/../c` -> `a/c`) on construction, so equal files
    compare equal; relative paths are a `ValueError` (readers resolve them first), and so are
    paths that are not UTF-8 (SimpleITK cannot open them, no manifest CSV can hold them).
    """

    image: Path
    label: Path | None
    subject_id: str
    split: str | None = None
    metadata: dict[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", _normalized_absolute(self.image, "image"))
        if self.label is not None:
            object.__setattr__(self, "label", _normalized_absolute(self.label, "label"))
        if not isinstance(self.subject_id, str) or not self.subject_id:
            raise ValueError(f"subject_id must be a non-empty string, got {self.subject_id!r}")
        if self.split is not None and (not isinstance(self.split, str) or not self.split):
            raise ValueError(f"split must be None or a non-empty string, got {self.split!r}")
        metadata = dict(self.metadata)  # a private copy: later edits by the caller do not leak in
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"metadata must map str to str, got {key!r}: {value!r}")
            if key in RESERVED_COLUMNS:
                raise ValueError(f"metadata key {key!r} is reserved for the manifest column")
        object.__setattr__(self, "metadata", metadata)
