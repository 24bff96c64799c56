"""Finds the images in a folder tree: readable files, with each DICOM series folder counted once."""

from __future__ import annotations

from pathlib import Path

from anatomy_ssl.io.file_formats import FileFormat, detect_format, strip_suffix


def entry_stem(entry: Path) -> str:
    """The name an image entry is matched by: a file's name without suffix, a folder's name."""
    return entry.name if entry.is_dir() else strip_suffix(entry)


def scan_image_entries(
    scan_root: Path,
    pattern: str = "**/*",
    *,
    group_dicom_series: bool = True,
    exclude: Path | None = None,
) -> list[Path]:
    """Every image under `scan_root` matched by `pattern`, sorted.

    An image is a file whose `detect_format` is not None. With `group_dicom_series`, a folder
    that directly contains DICOM files is one entry (the series) and none of the files directly
    inside it is listed (a stray preview PNG beside the slices included); its subfolders are
    scanned as usual. Without it (2D data: one radiograph per DICOM file) every DICOM file is its
    own entry. Paths with a component starting with "." (hidden files and folders, macOS `._*`
    resource forks) are skipped.

    Args:
        scan_root: the folder to scan (absolute).
        pattern: a `Path.glob` pattern relative to `scan_root`.
        group_dicom_series: count a DICOM series folder as one entry.
        exclude: a folder whose contents are never images (e.g. a labels folder inside the root).

    Returns:
        Absolute paths of image files and DICOM series folders, sorted.
    """
    series_cache: dict[Path, bool] = {}

    def is_series(folder: Path) -> bool:
        if folder not in series_cache:
            series_cache[folder] = detect_format(folder) is FileFormat.DICOM_SERIES
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
            continue
        entries.add(match)
    return sorted(entries)
