"""Finds the images in a folder tree: readable files, with each DICOM series folder counted once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from anatomy_ssl.io.file_formats import (
    FileFormat,
    detect_format,
    is_utf8_path,
    printable_path,
    strip_suffix,
)


@dataclass(frozen=True)
class ImageFolderScan:
    """What a folder scan found.

    Attributes:
        entries: absolute paths of image files and DICOM series folders, sorted.
        rejects: images refused by name, one printable line each that names the file, sorted:
            a path that is not UTF-8 (see `is_utf8_path`) cannot be read or written to a
            manifest, so it is reported here instead of becoming an entry.
    """

    entries: tuple[Path, ...]
    rejects: tuple[str, ...]


def entry_stem(entry: Path) -> str:
    """The name an image entry is matched by: a file's name without suffix, a folder's name."""
    return entry.name if entry.is_dir() else strip_suffix(entry)


def is_dicom_series_folder(folder: Path) -> bool:
    """True if the DICOM files directly inside `folder` form one series entry.

    They do when there are at least two of them, or one that is the folder's only image. A lone
    DICOM file beside other images (a stray `.dcm` among NIfTI files) is an image of its own, so
    it cannot turn its neighbours into a series. Hidden files are ignored; only names and (for
    extension-less files) 132 bytes are read.
    """
    dicom_files = 0
    other_images = False
    for child in folder.iterdir():
        if child.name.startswith(".") or not child.is_file():
            continue
        file_format = detect_format(child)
        if file_format is FileFormat.DICOM_FILE:
            dicom_files += 1
            if dicom_files == 2:
                return True
        elif file_format is not None:
            other_images = True
    return dicom_files == 1 and not other_images


def scan_image_entries(
    scan_root: Path,
    pattern: str = "**/*",
    *,
    group_dicom_series: bool = True,
    exclude: Path | None = None,
) -> ImageFolderScan:
    """Every image under `scan_root` matched by `pattern`, sorted, and those refused by name.

    An image is a file whose `detect_format` is not None. With `group_dicom_series`, a folder
    whose DICOM files form a series (`is_dicom_series_folder`) is one entry and its DICOM files
    are not listed; the other volume files beside them (NIfTI, NRRD, MetaImage) are entries of
    their own, while 2D images there (a preview PNG beside the slices) are left out; subfolders
    are scanned as usual. Without it (2D data: one radiograph per DICOM file) every DICOM file is
    its own entry. Paths with a component starting with "." (hidden files and folders, macOS
    `._*` resource forks) are skipped. An image whose path is not UTF-8, or a series folder
    holding such a DICOM file, is a reject instead of an entry.

    Args:
        scan_root: the folder to scan (absolute).
        pattern: a `Path.glob` pattern relative to `scan_root`.
        group_dicom_series: count a DICOM series folder as one entry.
        exclude: a folder whose contents are never images (e.g. a labels folder inside the root).

    Returns:
        The entries (image files and DICOM series folders) and the rejects.
    """
    series_cache: dict[Path, bool] = {}

    def is_series(folder: Path) -> bool:
        if folder not in series_cache:
            series_cache[folder] = is_dicom_series_folder(folder)
        return series_cache[folder]

    entries: set[Path] = set()
    for match in scan_root.glob(pattern):
        relative = match.relative_to(scan_root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if exclude is not None and (match == exclude or exclude in match.parents):
            continue
        if match.is_dir():
            if group_dicom_series and is_series(match):
                entries.add(match)
            continue
        if not match.is_file():
            continue  # broken links, sockets, ...
        file_format = detect_format(match)
        if file_format is None:
            continue
        if group_dicom_series and is_series(match.parent):
            if file_format is FileFormat.DICOM_FILE:
                entries.add(match.parent)
            elif file_format is not FileFormat.IMAGE_2D:
                entries.add(match)
            continue
        entries.add(match)
    rejects = {entry: _name_problem(entry) for entry in entries}
    return ImageFolderScan(
        entries=tuple(sorted(entry for entry, problem in rejects.items() if problem is None)),
        rejects=tuple(problem for _, problem in sorted(rejects.items()) if problem is not None),
    )


def _name_problem(entry: Path) -> str | None:
    """Why an entry cannot be used because of a name that is not UTF-8, or None."""
    if not is_utf8_path(entry):
        return (
            f"{printable_path(entry)}: name is not UTF-8, so it can be neither read nor listed "
            "in a manifest; rename it"
        )
    if not entry.is_dir():
        return None
    non_utf8 = sorted(
        printable_path(child.name)
        for child in entry.iterdir()
        if not is_utf8_path(child.name) and detect_format(child) is FileFormat.DICOM_FILE
    )
    if not non_utf8:
        return None
    return (
        f"{entry}: DICOM file name(s) not UTF-8, so the series cannot be read: "
        f"{', '.join(non_utf8)}; rename them"
    )
