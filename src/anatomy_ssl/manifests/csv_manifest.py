"""Reads a manifest from a CSV file: one image per row, plus label, subject, split and metadata."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

from anatomy_ssl.errors import InputError, ManifestError
from anatomy_ssl.io.file_formats import strip_suffix
from anatomy_ssl.manifests.manifest import Manifest
from anatomy_ssl.manifests.manifest_paths import absolute_path, resolve_manifest_path
from anatomy_ssl.manifests.manifest_record import RESERVED_COLUMNS, ManifestRecord
from anatomy_ssl.manifests.manifest_root import confinement_root, paths_outside_root


def manifest_from_csv(path: str | Path, *, confine_to: str | Path | None = None) -> Manifest:
    """Read a manifest CSV (comma separated, UTF-8, optional BOM, one header row).

    Columns: `image` (required); optional `label`, `subject_id` (default: the image's file name
    without suffix, e.g. `case_01.nii.gz` -> `case_01`) and `split`; every other column becomes
    metadata (columns with an empty header, such as a pandas index, are ignored). Paths may be
    absolute or relative (to the CSV file's folder) and may point anywhere, unless `confine_to`
    is given. Surrounding whitespace is stripped from the image, label, subject_id and split
    cells; empty `label` / `split` cells mean None; empty metadata cells are left out of the
    record's metadata (metadata values are kept verbatim otherwise).
    Rows whose cells are all empty are skipped. Files are not checked for existence (see
    `Manifest.validate`).

    Args:
        path: the CSV file.
        confine_to: a folder every image and label must resolve inside (`..` and symlinks
            followed), e.g. for manifests from elsewhere; None (default) allows any path.

    Returns:
        The manifest, rows in file order, `source` = the CSV path.

    Raises:
        InputError: the file cannot be read, has no header, repeats a column name, or has no
            `image` column (the message lists the columns it found); `confine_to` is not a
            folder.
        ManifestError: rows with an empty image cell, more cells than the header, or (with
            `confine_to`) a path outside it, all listed with their line numbers.
    """
    path = absolute_path(path)
    allowed_root = None if confine_to is None else confinement_root(confine_to)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header, rows = _read_rows(handle, path)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(path, f"cannot read CSV: {error}") from error
    base_dir = path.parent
    column = {name: i for i, name in enumerate(header) if name}
    metadata_columns = [(i, name) for name, i in column.items() if name not in RESERVED_COLUMNS]
    records: list[ManifestRecord] = []
    problems: list[str] = []
    for line_number, cells in rows:
        if len(cells) > len(header):
            problems.append(f"line {line_number}: {len(cells)} cells but {len(header)} columns")
            continue
        cells = cells + [""] * (len(header) - len(cells))
        image_text = _cell(cells, column, "image")
        if not image_text:
            problems.append(f"line {line_number}: empty image cell")
            continue
        image = resolve_manifest_path(image_text, base_dir)
        label_text = _cell(cells, column, "label")
        record = ManifestRecord(
            image=image,
            label=resolve_manifest_path(label_text, base_dir) if label_text else None,
            subject_id=_cell(cells, column, "subject_id") or strip_suffix(image),
            split=_cell(cells, column, "split") or None,
            metadata={name: cells[i] for i, name in metadata_columns if cells[i] != ""},
        )
        if allowed_root is not None:
            problems.extend(paths_outside_root(record, allowed_root, f"line {line_number}"))
        records.append(record)
    if problems:
        raise ManifestError(path, problems)
    return Manifest(path, records)


def _read_rows(handle: TextIO, path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The stripped header and the non-blank rows with their (1-based) line numbers."""
    reader = csv.reader(handle)
    first = next(reader, None)
    if first is None:
        raise InputError(path, "empty CSV: no header row")
    header = [name.strip() for name in first]
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise InputError(path, f"repeated column name(s): {', '.join(repeated)}")
    if "image" not in header:
        found = ", ".join(repr(name) for name in header if name) or "none"
        raise InputError(path, f"no 'image' column; columns found: {found}")
    rows = [(reader.line_num, cells) for cells in reader if any(cell.strip() for cell in cells)]
    return header, rows


def _cell(cells: list[str], column: dict[str, int], name: str) -> str:
    """The stripped cell of column `name`, or "" when the CSV has no such column."""
    return cells[column[name]].strip() if name in column else ""
