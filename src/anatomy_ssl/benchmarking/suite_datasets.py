"""Make (or find) each suite dataset on disk, with the suite's fixed subject-level splits."""

from __future__ import annotations

from pathlib import Path

from anatomy_ssl.benchmarking.suite_config import SuiteConfig, SuiteDataset
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.manifests import assign_subject_splits, load_manifest
from anatomy_ssl.phantoms import make_atlas_dataset, make_ct_phantom_dataset
from anatomy_ssl.phantoms.torso_parameters import Preset
from anatomy_ssl.phantoms.xray_phantom import make_xray_phantom_dataset
from anatomy_ssl.preprocess import PreprocessSpec

MANIFEST_FILE = "manifest.csv"
#: Written last: a dataset folder with this file is complete (an interrupted one is regenerated).
DONE_FILE = ".suite-dataset-done"

DEFAULT_PREPROCESS = {
    "phantom_ct": {"target_spacing_mm": 3.0, "intensity": "ct", "foreground_crop": True},
    "phantom_xray": {
        "spatial_dims": 2,
        "target_spacing_mm": 3.0,
        "intensity": "mri",
        "foreground_crop": False,
    },
    "atlas_mri": {"target_spacing_mm": 3.0, "intensity": "mri", "foreground_crop": True},
    "folder": {},
}


def dataset_spec(dataset: SuiteDataset) -> PreprocessSpec:
    """The dataset's PreprocessSpec: the kind's defaults updated by the suite's keys."""
    values = {**DEFAULT_PREPROCESS[dataset.kind], **dataset.preprocess}
    return PreprocessSpec.from_dict(values, source=f"suite dataset {dataset.name!r} preprocess")


def prepare_dataset(
    dataset: SuiteDataset, suite: SuiteConfig, data_root: Path, *, progress: bool = True
) -> Path:
    """The dataset's manifest: built-in kinds are generated into `<data_root>/<name>`, and their
    `manifest.csv` (returned) is re-split by the suite's fractions and seed; a `folder` dataset
    is used where it is (its `manifest.csv` when it has one). Idempotent."""
    if dataset.kind == "folder":
        path = Path(str(dataset.path))
        if not path.exists():
            raise ConfigError(f"suite dataset {dataset.name!r}: {path} not found")
        return path / MANIFEST_FILE if (path / MANIFEST_FILE).is_file() else path
    out = data_root / dataset.name
    if (out / DONE_FILE).is_file():
        return out / MANIFEST_FILE
    workers, seed = suite.workers, suite.seed
    if dataset.kind == "phantom_ct":
        make_ct_phantom_dataset(
            out,
            dataset.subjects,
            seed=seed,
            preset=_preset(dataset),
            workers=workers,
            progress=progress,
        )
    elif dataset.kind == "phantom_xray":
        make_xray_phantom_dataset(
            out,
            dataset.subjects,
            seed=seed,
            preset=_preset(dataset),
            workers=workers,
            progress=progress,
        )
    else:
        make_atlas_dataset(
            out,
            dataset.subjects,
            seed=seed,
            preset=dataset.preset,
            workers=workers,
            progress=progress,
        )
    manifest = assign_subject_splits(
        load_manifest(out / MANIFEST_FILE),
        fractions=dataset.splits,
        seed=seed,
        keep_existing=False,
    )
    manifest.to_csv(out / MANIFEST_FILE)
    (out / DONE_FILE).write_text("complete\n")
    return out / MANIFEST_FILE


def _preset(dataset: SuiteDataset) -> Preset:
    if dataset.preset not in ("small", "default", "hard"):
        raise ConfigError(f"suite dataset {dataset.name!r}: unknown preset {dataset.preset!r}")
    return dataset.preset  # type: ignore[return-value]
