"""Reads a MONAI / Medical Segmentation Decathlon style `dataset.json` datalist as a manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from anatomy_ssl.errors import InputError, ManifestError
from anatomy_ssl.io.file_formats import strip_suffix
from anatomy_ssl.manifests.manifest import Manifest
from anatomy_ssl.manifests.manifest_paths import absolute_path, resolve_manifest_path
from anatomy_ssl.manifests.manifest_record import RESERVED_COLUMNS, ManifestRecord
from anatomy_ssl.manifests.manifest_root import confinement_root, paths_outside_root

#: Datalist keys read, and the split each one becomes.
DECATHLON_SPLITS: dict[str, str] = {"training": "train", "validation": "val", "test": "test"}


def manifest_from_decathlon_json(
    path: str | Path, *, confine_to: str | Path | None = None
) -> Manifest:
    """Read `{"training": [...], "validation": [...], "test": [...]}` as a manifest.

    Items are `{"image": ..., "label": ...}` objects or plain image path strings (the Decathlon's
    test list). Key -> split: "training" -> "train", "validation" -> "val", "test" -> "test"; other
    top-level keys (name, description, labels, numTraining, ...) are ignored. Paths may be
    absolute or relative (to the JSON file's folder) and may point anywhere, unless
    `confine_to` is given. An item's `subject_id` key, if present, names its subject
    (default: image file name without suffix); a `split` key is ignored (the list decides).
    Other item keys become metadata: strings as they are, other values JSON-encoded (`1` -> "1",
    `true` -> "true"), nulls left out. Files are not checked for existence (see
    `Manifest.validate`).

    Args:
        path: the JSON datalist.
        confine_to: a folder every image and label must resolve inside (`..` and symlinks
            followed); None (default) allows any path.

    Returns:
        The manifest: training, then validation, then test items, each list in file order.

    Raises:
        InputError: unreadable or malformed JSON, a top level that is not an object, none of
            the three lists present, or `confine_to` is not a folder.
        ManifestError: malformed items (not a list, no image, image not a string, a path that is
            not UTF-8, ...) or (with `confine_to`) paths outside it, all listed.
    """
    path = absolute_path(path)
    allowed_root = None if confine_to is None else confinement_root(confine_to)
    try:
        with path.open(encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(path, f"cannot read JSON datalist: {error}") from error
    if not isinstance(document, dict):
        raise InputError(path, f"top level must be a JSON object, got {type(document).__name__}")
    if not any(key in document for key in DECATHLON_SPLITS):
        found = ", ".join(repr(key) for key in document) or "none"
        raise InputError(path, f"no 'training', 'validation' or 'test' list; keys found: {found}")
    records: list[ManifestRecord] = []
    problems: list[str] = []
    for key, split in DECATHLON_SPLITS.items():
        items = document.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            problems.append(f"{key!r} must be a list, got {type(items).__name__}")
            continue
        for index, item in enumerate(items):
            where = f"{key}[{index}]"
            record = _record_from_item(item, split, path.parent, where, problems)
            if record is None:
                continue
            if allowed_root is not None:
                problems.extend(paths_outside_root(record, allowed_root, where))
            records.append(record)
    if problems:
        raise ManifestError(path, problems)
    return Manifest(path, records)


def _record_from_item(
    item: Any, split: str, base_dir: Path, where: str, problems: list[str]
) -> ManifestRecord | None:
    """The record of one datalist item, or None after appending its problems to `problems`."""
    if isinstance(item, str):
        item = {"image": item}
    if not isinstance(item, dict):
        problems.append(f"{where}: item must be an object or a path string, got {item!r}")
        return None
    image, label, subject_id = item.get("image"), item.get("label"), item.get("subject_id")
    bad = [
        f"{where}: {name} must be a non-empty string, got {value!r}"
        for name, value, required in (
            ("image", image, True),
            ("label", label, False),
            ("subject_id", subject_id, False),
        )
        if (required or value is not None) and not (isinstance(value, str) and value.strip())
    ]
    if bad or not isinstance(image, str):
        problems.extend(bad)
        return None
    image_path = resolve_manifest_path(image, base_dir)
    metadata = {
        str(name): value if isinstance(value, str) else json.dumps(value)
        for name, value in item.items()
        if name not in RESERVED_COLUMNS and value is not None
    }
    subject = subject_id.strip() if isinstance(subject_id, str) else strip_suffix(image_path)
    try:
        return ManifestRecord(
            image=image_path,
            label=resolve_manifest_path(label, base_dir) if isinstance(label, str) else None,
            subject_id=subject,
            split=split,
            metadata=metadata,
        )
    except ValueError as error:  # a path that is not UTF-8 ("\udce9" escapes in the JSON)
        problems.append(f"{where}: {error}")
        return None
