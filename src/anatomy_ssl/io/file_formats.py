"""Which files and folders anatomy-ssl can read, decided from names and a few magic bytes."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path


class FileFormat(str, Enum):
    """Image formats the readers understand."""

    NIFTI = "nifti"
    NRRD = "nrrd"
    METAIMAGE = "metaimage"  # .mha / .mhd (+ .raw / .zraw)
    DICOM_FILE = "dicom_file"
    DICOM_SERIES = "dicom_series"  # a folder of DICOM slices
    IMAGE_2D = "image_2d"  # PNG / JPEG


_SUFFIX_FORMATS: dict[str, FileFormat] = {
    ".nii": FileFormat.NIFTI,
    ".nii.gz": FileFormat.NIFTI,
    ".nrrd": FileFormat.NRRD,
    ".nhdr": FileFormat.NRRD,
    ".mha": FileFormat.METAIMAGE,
    ".mhd": FileFormat.METAIMAGE,
    ".dcm": FileFormat.DICOM_FILE,
    ".dicom": FileFormat.DICOM_FILE,
    ".png": FileFormat.IMAGE_2D,
    ".jpg": FileFormat.IMAGE_2D,
    ".jpeg": FileFormat.IMAGE_2D,
}

#: File suffixes the readers accept (a DICOM series is a folder instead).
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_SUFFIX_FORMATS)

#: DICOM Part 10 files carry "DICM" after a 128-byte preamble.
_DICOM_MAGIC_OFFSET = 128
_DICOM_MAGIC = b"DICM"


def full_suffix(path: str | Path) -> str:
    """Lower-case suffix, treating `.nii.gz` as one suffix (`scan.nii.gz` -> `.nii.gz`)."""
    name = Path(path).name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return Path(name).suffix


def strip_suffix(path: str | Path) -> str:
    """File name without its (full) suffix: `case_01.nii.gz` -> `case_01`."""
    name = Path(path).name
    suffix = full_suffix(name)
    return name[: len(name) - len(suffix)] if suffix else name


def is_utf8_path(path: str | Path) -> bool:
    """False if the path holds bytes that are not UTF-8, else True.

    On Linux a name is just bytes: one written on a Latin-1 system (`b"caf\\xe9.nii.gz"`) reaches
    Python as `"caf\\udce9.nii.gz"` (a surrogate escape). SimpleITK cannot open such a path (it
    raises, or aborts the process) and a UTF-8 manifest cannot name it, so such files are refused.
    """
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_path(path: str | Path) -> str:
    """`path` for messages: as it is when UTF-8, else its bytes' repr (`b'/d/caf\\xe9.nii'`)."""
    return str(path) if is_utf8_path(path) else repr(os.fsencode(path))


def has_dicom_magic(path: str | Path) -> bool:
    """True if the file starts with a DICOM Part 10 preamble (cheap: reads 132 bytes)."""
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(_DICOM_MAGIC_OFFSET + len(_DICOM_MAGIC))
    except OSError:
        return False
    return head[_DICOM_MAGIC_OFFSET:] == _DICOM_MAGIC


def is_dicom_file(path: str | Path) -> bool:
    """A `.dcm`/`.dicom` file, or an extension-less file with the DICOM magic bytes."""
    path = Path(path)
    if not path.is_file():
        return False
    suffix = full_suffix(path)
    if suffix in (".dcm", ".dicom"):
        return True
    return suffix == "" and has_dicom_magic(path)


def detect_format(path: str | Path) -> FileFormat | None:
    """The format of a file or folder, or None if anatomy-ssl cannot read it.

    A folder is a DICOM series folder if it directly contains at least one DICOM file.
    Only names and (for extension-less files) 132 bytes are read.
    """
    path = Path(path)
    if path.is_dir():
        if any(is_dicom_file(child) for child in path.iterdir()):
            return FileFormat.DICOM_SERIES
        return None
    known = _SUFFIX_FORMATS.get(full_suffix(path))
    if known is not None:
        return known
    if full_suffix(path) == "" and has_dicom_magic(path):
        return FileFormat.DICOM_FILE
    return None
