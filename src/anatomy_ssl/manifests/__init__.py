"""Manifests: which images (and label maps, subjects, splits, metadata) a job works on.

A manifest is a list of paths plus metadata; no pixels are read here. Sources: a folder scan
(`manifest_from_folder`), a CSV (`manifest_from_csv`), a Decathlon / MONAI JSON datalist
(`manifest_from_decathlon_json`), or `load_manifest` for any of them. Splits are per subject
(`assign_subject_splits`).
"""

from anatomy_ssl.manifests.csv_manifest import manifest_from_csv
from anatomy_ssl.manifests.decathlon_manifest import DECATHLON_SPLITS, manifest_from_decathlon_json
from anatomy_ssl.manifests.folder_manifest import manifest_from_folder
from anatomy_ssl.manifests.manifest import Manifest
from anatomy_ssl.manifests.manifest_loader import load_manifest
from anatomy_ssl.manifests.manifest_record import RESERVED_COLUMNS, ManifestRecord
from anatomy_ssl.manifests.subject_splits import (
    DEFAULT_FRACTIONS,
    assign_subject_splits,
    split_counts,
    split_sizes,
)

__all__ = [
    "DECATHLON_SPLITS",
    "DEFAULT_FRACTIONS",
    "RESERVED_COLUMNS",
    "Manifest",
    "ManifestRecord",
    "assign_subject_splits",
    "load_manifest",
    "manifest_from_csv",
    "manifest_from_decathlon_json",
    "manifest_from_folder",
    "split_counts",
    "split_sizes",
]
