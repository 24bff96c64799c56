"""Resolve `--data` (phantom, manifest or cache) into the cache entries pretraining reads."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anatomy_ssl.configs.pretrain_schema import DataConfig
from anatomy_ssl.data import FrameSampleTable, PairTable, load_frame, load_mined_pairs, pair_table
from anatomy_ssl.errors import ConfigError, InputError
from anatomy_ssl.manifests import load_manifest
from anatomy_ssl.phantoms.ct_phantom import make_ct_phantom_dataset
from anatomy_ssl.preprocess import PreprocessSpec, VolumeCache, preprocess_dataset

DATA_RECORD = "data.json"
#: How long ranks > 0 wait for rank 0 to finish preparing the data (seconds).
PREPARATION_TIMEOUT_S = 6 * 3600


@dataclass(frozen=True)
class PretrainingData:
    """The cached volumes a run pretrains on.

    Attributes:
        entry_folders: cache entry folders, sorted by subject.
        spec: the preprocessing they were made with (goes into exported cards).
        spatial_dims: 2 or 3.
        in_channels: image channels.
    """

    entry_folders: tuple[Path, ...]
    spec: PreprocessSpec
    spatial_dims: int
    in_channels: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_folders": [str(folder) for folder in self.entry_folders],
            "spec": self.spec.to_dict(),
            "spec_hash": self.spec.hash,
            "spatial_dims": self.spatial_dims,
            "in_channels": self.in_channels,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PretrainingData:
        return cls(
            entry_folders=tuple(Path(folder) for folder in values["entry_folders"]),
            spec=PreprocessSpec.from_dict(values["spec"]),
            spatial_dims=int(values["spatial_dims"]),
            in_channels=int(values["in_channels"]),
        )


def global_rank_from_environment() -> int:
    """This process's global rank under torchrun / SLURM / Lightning's launcher (0 if none)."""
    for name in ("RANK", "SLURM_PROCID"):
        if name in os.environ:
            return int(os.environ[name])
    return int(os.environ.get("LOCAL_RANK", 0))


def prepare_pretraining_data(
    config: DataConfig, run_dir: Path, *, seed: int, progress: bool = True
) -> PretrainingData:
    """Rank 0 generates / preprocesses what is missing and writes `<run_dir>/data.json`; other
    ranks wait for that file, so a multi-process launch prepares the data once."""
    record = run_dir / DATA_RECORD
    if global_rank_from_environment() > 0:
        return _wait_for_record(record)
    data = _prepare(config, run_dir, seed=seed, progress=progress)
    temporary = record.with_name(f".{record.name}.tmp")
    temporary.write_text(json.dumps(data.to_dict(), indent=2))
    temporary.replace(record)
    return data


def _prepare(config: DataConfig, run_dir: Path, *, seed: int, progress: bool) -> PretrainingData:
    source = config.source
    cache_root = Path(config.cache_dir) if config.cache_dir else run_dir.parent / "cache"
    if source == "phantom":
        phantom = run_dir.parent / "phantom"
        manifest_path = phantom / "manifest.csv"
        if not (
            manifest_path.is_file() and len(load_manifest(manifest_path)) == config.phantom_subjects
        ):
            make_ct_phantom_dataset(
                phantom,
                config.phantom_subjects,
                seed=seed,
                preset=config.phantom_preset,
                workers=max(config.workers, 1),
                progress=progress,
            )
        return _from_manifest(manifest_path, config, cache_root, progress)
    path = Path(source)
    if not path.exists():
        raise InputError(path, "data source not found (expected a manifest, a cache or 'phantom')")
    if path.is_dir() and VolumeCache(path).spec_hashes():
        return _from_cache(VolumeCache(path), None, config.split)
    return _from_manifest(path, config, cache_root, progress)


def _from_manifest(
    path: Path, config: DataConfig, cache_root: Path, progress: bool
) -> PretrainingData:
    spec = PreprocessSpec.from_dict(config.preprocess, source="data.preprocess")
    manifest = load_manifest(path)
    preprocess_dataset(
        manifest, spec, cache_root, workers=max(config.workers, 1), progress=progress
    )
    return _from_cache(VolumeCache(cache_root), spec.hash, config.split)


def _from_cache(cache: VolumeCache, spec_hash: str | None, split: str) -> PretrainingData:
    spec_hash = cache.resolve_spec_hash(spec_hash)
    everything = cache.entries(spec_hash)
    entries = everything if split == "all" else [e for e in everything if e.split == split]
    if not entries:
        splits = sorted({str(entry.split) for entry in everything})
        raise ConfigError(
            f"{cache.root}: no cached volumes in split {split!r} (splits present: "
            f"{', '.join(splits) or 'none'}); set data.split=all to use every volume"
        )
    first = entries[0]
    return PretrainingData(
        entry_folders=tuple(entry.folder for entry in entries),
        spec=cache.spec(spec_hash),
        spatial_dims=first.spatial_dims,
        in_channels=int(first.load_image().shape[0]),
    )


def mined_pair_table(folder: Path, data: PretrainingData) -> PairTable:
    """The pairs mined into `folder` (`<cache>/<spec_hash>/mined/<matcher id>`, as printed by
    `anatomy-ssl mine`) between this run's volumes.

    Raises:
        InputError: not a mined-pairs folder, stale files (the cache changed since mining), or
            no pair between two of the run's volumes.
    """
    folder = Path(folder)
    if folder.parent.name != "mined" or not folder.is_dir():
        raise InputError(
            folder, "not a mined-pairs folder (<cache>/<spec_hash>/mined/<matcher id>)"
        )
    cache_root, spec_hash = folder.parents[2], folder.parents[1].name
    pairs = load_mined_pairs(cache_root, spec_hash, folder.name)
    try:
        return pair_table(pairs, [Path(entry).name for entry in data.entry_folders])
    except ValueError as error:
        raise InputError(folder, str(error)) from error


def frame_sample_table(
    folder: Path, data: PretrainingData, *, neighbours: int, crop_size_vox: int
) -> FrameSampleTable:
    """The (subject, location) patches of the anatomical frame in `folder`
    (`<cache>/<spec_hash>/frame/<frame id>`, as printed by `anatomy-ssl frame`) among this run's
    volumes, each with its `neighbours` nearest usable locations.

    Raises:
        InputError: not a frame folder of this run's cache, stale subject files, no framed
            subject among the run's volumes, too few locations, or a frame patch size other
            than the run's crop size.
    """
    folder = Path(folder)
    if folder.parent.name != "frame" or not folder.is_dir():
        raise InputError(folder, "not an anatomical frame folder (<cache>/<spec_hash>/frame/<id>)")
    if folder.parents[1].name != data.spec.hash:
        raise InputError(
            folder,
            f"framed on preprocessing {folder.parents[1].name}, the run's volumes are "
            f"{data.spec.hash}: frame this run's cache",
        )
    frame = load_frame(folder.parents[2], folder)
    patch = tuple(int(side) for side in frame.locations.patch_vox)
    if patch != (crop_size_vox,) * data.spatial_dims:
        raise InputError(
            folder,
            f"the frame's patches are {patch} voxels, the run's crops {crop_size_vox}: build the "
            f"frame with --patch {crop_size_vox} or set data.crop_size_vox={patch[0]}",
        )
    try:
        return FrameSampleTable.from_frame(
            frame, [Path(entry).name for entry in data.entry_folders], neighbours=neighbours
        )
    except ValueError as error:
        raise InputError(folder, str(error)) from error


def _wait_for_record(record: Path) -> PretrainingData:
    deadline = time.monotonic() + PREPARATION_TIMEOUT_S
    while not record.is_file():
        if time.monotonic() > deadline:
            raise InputError(record, "rank 0 did not finish preparing the data in time")
        time.sleep(2.0)
    return PretrainingData.from_dict(json.loads(record.read_text()))
