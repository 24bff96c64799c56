"""Consistency checks of manifest records that collect every problem instead of the first."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from anatomy_ssl.manifests.manifest_record import ManifestRecord


def find_manifest_problems(records: Sequence[ManifestRecord], *, check_files: bool) -> list[str]:
    """Every problem of `records`, one human-readable line each (empty list: consistent).

    Checks: no records at all; (with `check_files`) image or label paths that do not exist; a
    label that is its own image; an image listed more than once (whether under one subject or
    several); a subject whose records carry two different splits. Records without a split do not
    conflict with anything.

    Args:
        records: the manifest's records.
        check_files: also check that every image and label exists on disk (one `stat` each).

    Returns:
        Problem lines that name the offending paths; missing files come first, in record order.
    """
    if not records:
        return ["manifest has no records"]
    problems: list[str] = []
    for record in records:
        if check_files and not record.image.exists():
            problems.append(f"image not found: {record.image} (subject {record.subject_id})")
        if record.label is None:
            continue
        if record.label == record.image:
            problems.append(f"label is the image itself: {record.label}")
        elif check_files and not record.label.exists():
            problems.append(f"label not found: {record.label} (image {record.image})")
    problems.extend(_duplicate_image_problems(records))
    problems.extend(_split_conflict_problems(records))
    return problems


def _duplicate_image_problems(records: Sequence[ManifestRecord]) -> list[str]:
    subjects_of_image: dict[Path, list[str]] = defaultdict(list)
    for record in records:
        subjects_of_image[record.image].append(record.subject_id)
    problems = []
    for image, subjects in sorted(subjects_of_image.items()):
        if len(subjects) < 2:
            continue
        distinct = sorted(set(subjects))
        if len(distinct) == 1:
            problems.append(
                f"image listed {len(subjects)} times for subject {distinct[0]}: {image}"
            )
        else:
            names = ", ".join(distinct)
            problems.append(f"image listed {len(subjects)} times, under subjects {names}: {image}")
    return problems


def _split_conflict_problems(records: Sequence[ManifestRecord]) -> list[str]:
    images_by_subject_split: dict[str, dict[str, list[Path]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for record in records:
        if record.split is not None:
            images_by_subject_split[record.subject_id][record.split].append(record.image)
    problems = []
    for subject, images_by_split in sorted(images_by_subject_split.items()):
        if len(images_by_split) < 2:
            continue
        listing = "; ".join(
            f"{split}: {', '.join(str(image) for image in images)}"
            for split, images in sorted(images_by_split.items())
        )
        problems.append(f"subject {subject} is in {len(images_by_split)} splits ({listing})")
    return problems
