"""Builds a manifest by scanning a folder of images, matching label maps from a labels folder."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from anatomy_ssl.errors import ConfigError, InputError, ManifestError
from anatomy_ssl.io.file_formats import detect_format
from anatomy_ssl.manifests.image_folder_scan import entry_stem, scan_image_entries
from anatomy_ssl.manifests.manifest import Manifest
from anatomy_ssl.manifests.manifest_paths import absolute_path
from anatomy_ssl.manifests.manifest_record import ManifestRecord
from anatomy_ssl.manifests.manifest_root import confinement_root, paths_outside_root

DEFAULT_PATTERN = "**/*"

#: (folder relative to the scanned root, stem): how an image finds its label map.
_MatchKey = tuple[Path, str]


def manifest_from_folder(
    root: str | Path,
    *,
    pattern: str = DEFAULT_PATTERN,
    labels_dir: str | Path | None = None,
    label_set: str | None = None,
    spatial_dims: int = 3,
    confine_to: str | Path | None = None,
) -> Manifest:
    """Scan `root` recursively for images (no pixels are read) and match their label maps.

    Every file whose `detect_format` is not None is an image; in 3D (`spatial_dims=3`) a folder
    whose DICOM files form a series (at least two, or one that is the folder's only image) is one
    image and its DICOM files are not listed, while other volume files beside them are images of
    their own (see `scan_image_entries`); in 2D every DICOM file is its own image (one radiograph
    per file). Hidden paths (".*") are skipped. Images whose path is not UTF-8 are not records:
    they are the manifest's `rejects`, one line each naming the file.
    Wrong dimensionality is not checked here (no pixels are read); the reader rejects it later.
    The subject id is the file name without suffix (`case_01.nii.gz` -> `case_01`), or the folder
    name of a DICOM series; all records have `split=None`.

    Labels: an image at `<scan root>/<rel folder>/<stem>.<ext>` gets the label map at
    `<labels folder>/<rel folder>/<stem>.<any supported ext>` (or a DICOM series folder named
    `<stem>`); images without one get `label=None`.

    Layouts:
        * Phantom / Decathlon-like: when `root/images` exists and neither `pattern` nor
          `labels_dir` is given, `root/images` is scanned and `root/labels` is the labels folder:
          used as is when it directly holds label maps, or its only subfolder when it holds
          exactly one label set; with several label sets (`labels/level0`, `labels/level1`, ...)
          `label_set` picks one (default: no labels).
        * Otherwise `root` is scanned with `pattern`; `labels_dir` (a labels folder inside `root`
          is excluded from the image scan), and `label_set`, if given, picks its subfolder.

    Args:
        root: the folder to scan.
        pattern: `Path.glob` pattern of the files (relative to the scanned folder); giving the
            default value explicitly counts as not giving it.
        labels_dir: folder of label maps mirroring the image tree (relative: to the current
            directory).
        label_set: name of the label-set subfolder of the labels folder to use.
        spatial_dims: 3 for volumes (DICOM folders are series), 2 for radiographs (DICOM files
            are images).
        confine_to: a folder every image and label must resolve inside (symlinks followed);
            None (default) allows any path.

    Returns:
        The manifest, records sorted by image path.

    Raises:
        InputError: `root`, `labels_dir`, the chosen label set or `confine_to` is not a folder.
        ConfigError: `spatial_dims` is not 2 or 3, or `label_set` is given with no labels folder.
        ManifestError: label maps with no image (orphans), several label maps for one image,
            several files with the same name (same subject id), or (with `confine_to`) paths
            that resolve outside it, all listed with their paths.
    """
    root = absolute_path(root)
    allowed_root = None if confine_to is None else confinement_root(confine_to)
    if not root.is_dir():
        raise InputError(root, "not a folder (expected a folder of images)")
    if spatial_dims not in (2, 3):
        raise ConfigError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
    phantom_layout = pattern == DEFAULT_PATTERN and labels_dir is None
    phantom_layout = phantom_layout and (root / "images").is_dir()
    scan_root = root / "images" if phantom_layout else root
    labels_root = _labels_folder(root, labels_dir, label_set, phantom_layout=phantom_layout)
    group_series = spatial_dims == 3
    image_scan = scan_image_entries(
        scan_root, pattern, group_dicom_series=group_series, exclude=labels_root
    )
    rejects = list(image_scan.rejects)
    labels: dict[_MatchKey, list[Path]] = defaultdict(list)
    if labels_root is not None:
        label_scan = scan_image_entries(labels_root, group_dicom_series=group_series)
        rejects.extend(label_scan.rejects)
        for label in label_scan.entries:
            labels[_match_key(label, labels_root)].append(label)

    problems: list[str] = []
    matched: set[_MatchKey] = set()
    records = []
    for image in image_scan.entries:
        key = _match_key(image, scan_root)
        candidates = labels.get(key, [])
        matched.add(key)
        if len(candidates) > 1:
            listing = ", ".join(str(label) for label in candidates)
            problems.append(f"several label maps for image {image}: {listing}")
        match = candidates[0] if len(candidates) == 1 else None
        records.append(ManifestRecord(image=image, label=match, subject_id=entry_stem(image)))
    for key, orphans in sorted(labels.items()):
        if key not in matched and not _image_exists(scan_root / key[0], key[1]):
            problems.extend(f"label map without an image: {orphan}" for orphan in orphans)
    problems.extend(_duplicate_subject_problems(records))
    if allowed_root is not None:
        for record in records:
            problems.extend(paths_outside_root(record, allowed_root, "folder scan"))
    if problems:
        raise ManifestError(root, problems)
    return Manifest(root, records, rejects)


def _duplicate_subject_problems(records: list[ManifestRecord]) -> list[str]:
    """A folder scan names subjects after files, so two files with one name are an ambiguity."""
    images_of: dict[str, list[Path]] = defaultdict(list)
    for record in records:
        images_of[record.subject_id].append(record.image)
    return [
        f"duplicate subject id {subject!r} from {len(images)} files "
        f"({', '.join(str(image) for image in images)}); rename them, or list them in a CSV "
        "with a subject_id column (several volumes of one subject are allowed there)"
        for subject, images in sorted(images_of.items())
        if len(images) > 1
    ]


def _match_key(entry: Path, base: Path) -> _MatchKey:
    return entry.relative_to(base).parent, entry_stem(entry)


def _image_exists(folder: Path, stem: str) -> bool:
    """True if `folder` holds an image named `stem` (a file the pattern left out, say)."""
    if not folder.is_dir():
        return False
    return any(
        entry_stem(child) == stem and detect_format(child) is not None for child in folder.iterdir()
    )


def _labels_folder(
    root: Path, labels_dir: str | Path | None, label_set: str | None, *, phantom_layout: bool
) -> Path | None:
    """The folder whose tree mirrors the images with label maps, or None for no labels."""
    if labels_dir is not None:
        base = absolute_path(labels_dir)
        if not base.is_dir():
            raise InputError(base, "labels folder not found")
        return base if label_set is None else _label_set_folder(base, label_set)
    if not phantom_layout:
        if label_set is not None:
            raise ConfigError(
                f"label_set={label_set!r} needs labels_dir, or a root with images/ and labels/"
            )
        return None
    base = root / "labels"
    if label_set is not None:
        return _label_set_folder(base, label_set)
    if not base.is_dir():
        return None
    children = [child for child in sorted(base.iterdir()) if not child.name.startswith(".")]
    if any(detect_format(child) is not None for child in children):
        return base  # label maps directly in labels/
    label_sets = [child for child in children if child.is_dir()]
    return label_sets[0] if len(label_sets) == 1 else None


def _label_set_folder(base: Path, label_set: str) -> Path:
    folder = base / label_set
    if not folder.is_dir():
        available = (
            sorted(c.name for c in base.iterdir() if c.is_dir() and not c.name.startswith("."))
            if base.is_dir()
            else []
        )
        listing = ", ".join(available) or "none"
        raise InputError(folder, f"label set {label_set!r} not found; label sets: {listing}")
    return folder
