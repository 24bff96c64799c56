"""Data-pipeline benchmark: preprocessing, random crops against MONAI's caching datasets, the
batch path of pretraining, and memory on a cache larger than RAM would like.

Measures, in one run on this machine, on the same synthetic CT-like volumes (int16 NIfTI at
0.7x0.7x1.0 mm, resampled to 1.5 mm isotropic, CT window, body crop):

1. Preprocessing throughput (volumes/s, source MB/s) with 1 and 2 workers.
2. Random crops (crops/s, memory), `--per-item` crops of `--crop`^3 per read, from:
   - the anatomy-ssl cache (`CachedVolume.crops`: one contiguous `(N, C, *crop)` batch per read);
   - MONAI `CacheDataset` (copy_cache on and off) and `PersistentDataset`, with the same
     preprocessing as deterministic transforms and `RandSpatialCropSamplesd(num_samples=N)`,
     timed as returned (MONAI's crops are views into the cached volume: no voxel is copied)
     and collated into the same contiguous batch by `list_data_collate` (what
     `monai.data.DataLoader` does);
   - with `--baseline-src DIR`, the anatomy-ssl code in DIR (e.g. `git archive <commit> src`).
   Each setup lives in its own process, built once; then the setups take turns (ABAB...) for
   `--rounds` rounds after a warm-up turn, so a background load falls on all of them alike.
   Ratios are the median over rounds of ours / theirs within a round. Memory per setup: the
   resident set after imports, after building (what the setup holds: CacheDataset keeps every
   volume in RAM) and its peak while sampling. Every process runs torch with one thread, as a
   DataLoader worker does.
3. The batch path of pretraining, per batch of `--batch` samples (current code and, with
   `--baseline-src`, the baseline, alternating): `read_views` of two `--batch-crop`^3 crops per
   sample, `apply_augmentation` of both views (default AugmentationSpec), and Eden's
   `read_resampled_boxes` (random part boxes at level 1, resized to the crop size; and boxes of
   the crop size centred on them, as the native scale reads them).
4. Crops/s and peak resident memory while sampling one random crop per read from a cache larger
   than `--big-cache-gb` (entries of 512x512x300 float32), current and baseline alternating.

Usage:
    python benchmarks/data_pipeline_benchmark.py                      # a few minutes, 2 cores
    python benchmarks/data_pipeline_benchmark.py --size 512 512 300   # the issue's volumes
    git archive <commit> src | tar -x -C /tmp/base
    python benchmarks/data_pipeline_benchmark.py --baseline-src /tmp/base/src   # before/after
    python benchmarks/data_pipeline_benchmark.py --quick              # tiny sizes: checks it runs
Writes a JSON report (default benchmarks/out/data_pipeline.json) and prints a table.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from process_memory import reset_peak_rss

SOURCE_SPACING_MM = (0.7, 0.7, 1.0)
TARGET_SPACING_MM = (1.5, 1.5, 1.5)
WORKER_FLAG = "--worker"
#: Steps of the batch path timed per batch (`_BatchPath`).
BATCH_STEPS = ("read_views", "augmentation", "part_reader", "part_reader_native")


# ---------------------------------------------------------------------------------------------
# Memory of this process (Linux)


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / 1e6  # KiB -> MB
    raise RuntimeError(f"{field} not found in /proc/self/status (Linux only)")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _peak_rss_mb() -> float:
    """Peak resident set of this process (VmHWM; not `ru_maxrss`, which Linux carries across
    fork + exec, so a spawned child would report its parent's peak)."""
    return _status_mb("VmHWM")


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


# ---------------------------------------------------------------------------------------------
# Worker processes: one per setup, driven by JSON lines on stdin/stdout


class _Setup:
    """A sampling setup inside a worker: `build()` once, then `run(count)` per turn."""

    def build(self) -> dict[str, Any]:
        raise NotImplementedError

    def run(self, count: int) -> dict[str, Any]:
        raise NotImplementedError


class _CacheCrops(_Setup):
    """anatomy-ssl: `per_item` random crops per `CachedVolume.crops` call, entries in turn."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def build(self) -> dict[str, Any]:
        from anatomy_ssl.preprocess import VolumeCache

        self.entries = VolumeCache(self.config["cache"]).entries()
        self.size = (self.config["crop"],) * 3
        self.rng = np.random.default_rng(self.config["seed"])
        self.made = 0
        return {"held_in_ram_mb": 0.0, "on_disk_mb": _folder_mb(Path(self.config["cache"]))}

    def run(self, count: int) -> dict[str, Any]:
        from anatomy_ssl.preprocess import random_crop_starts

        per_item = self.config["per_item"]
        checksum = 0.0
        started = time.perf_counter()
        made = 0
        while made < count:
            entry = self.entries[self.made // per_item % len(self.entries)]
            starts = random_crop_starts(entry.size_vox, self.size, per_item, self.rng)
            batch = entry.crops(starts, self.size, with_label=False)  # (N, C, *crop)
            checksum += float(batch.image[-1, 0, 0, 0, 0])
            made += per_item
            self.made += per_item
        seconds = time.perf_counter() - started
        return {"crops": made, "seconds": seconds, "crops_per_s": made / seconds}


def _monai_pipeline(crop: int, per_item: int) -> Any:
    """The preprocessing of `preprocess_spec()` as MONAI transforms, then the random crops."""
    import torch
    from monai import transforms as mt

    deterministic = [
        mt.LoadImaged(keys="image"),
        mt.EnsureChannelFirstd(keys="image"),
        mt.Orientationd(keys="image", axcodes="RAS"),
        mt.Spacingd(keys="image", pixdim=TARGET_SPACING_MM, mode="bilinear"),
        mt.ScaleIntensityRanged(
            keys="image", a_min=-1000, a_max=1000, b_min=0.0, b_max=1.0, clip=True
        ),
        mt.CropForegroundd(keys="image", source_key="image"),  # body crop: voxels above air
        mt.EnsureTyped(keys="image", dtype=torch.float32),
    ]
    crops = mt.RandSpatialCropSamplesd(
        keys="image", roi_size=(crop,) * 3, num_samples=per_item, random_size=False
    )
    pipeline = mt.Compose([*deterministic, crops])
    pipeline.set_random_state(0)
    return pipeline


class _MonaiCrops(_Setup):
    """MONAI CacheDataset (copy_cache on/off) or PersistentDataset + RandSpatialCropSamplesd."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def build(self) -> dict[str, Any]:
        import warnings

        warnings.filterwarnings("ignore")
        from monai.data import CacheDataset, PersistentDataset

        data = [{"image": path} for path in self.config["sources"]]
        pipeline = _monai_pipeline(self.config["crop"], self.config["per_item"])
        kind = self.config["kind"]
        if kind == "monai_cache":
            self.dataset: Any = CacheDataset(
                data, pipeline, copy_cache=self.config["copy_cache"], progress=False
            )
            images = [item["image"] for item in self.dataset._cache]
            held = sum(image.numel() * image.element_size() for image in images) / 1e6
            return {"held_in_ram_mb": held, "on_disk_mb": 0.0}
        cache_dir = Path(self.config["persistent_dir"])
        self.dataset = PersistentDataset(data, pipeline, cache_dir=cache_dir)
        started = time.perf_counter()
        for index in range(len(data)):  # the first epoch writes the cache; time later epochs
            self.dataset[index]
        return {
            "held_in_ram_mb": 0.0,
            "on_disk_mb": _folder_mb(cache_dir),
            "first_epoch_s": time.perf_counter() - started,
        }

    def run(self, count: int) -> dict[str, Any]:
        from monai.data import list_data_collate

        items_seconds = collate_seconds = 0.0
        made = 0
        index = getattr(self, "index", 0)
        while made < count:
            started = time.perf_counter()
            samples = self.dataset[index % len(self.dataset)]  # N dicts of crop views
            middle = time.perf_counter()
            batch = list_data_collate(samples)["image"]  # (N, C, *crop), as monai's DataLoader
            collate_seconds += time.perf_counter() - middle
            items_seconds += middle - started
            made += len(samples)
            index += 1
            del batch
        self.index = index
        seconds = items_seconds + collate_seconds
        return {
            "crops": made,
            "seconds": seconds,
            "crops_per_s": made / seconds,
            "items_crops_per_s": made / items_seconds,
        }


class _BatchPath(_Setup):
    """Pretraining's batch path: read_views + apply_augmentation, and Eden's part reader."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def build(self) -> dict[str, Any]:
        import torch

        from anatomy_ssl.anatomy import body_bounding_box
        from anatomy_ssl.preprocess import VolumeCache

        self.entries = VolumeCache(self.config["cache"]).entries()
        self.sizes = np.array([entry.size_vox for entry in self.entries])
        boxes = [body_bounding_box(entry) for entry in self.entries]
        self.body_start = np.stack([start for start, _ in boxes])
        self.body_stop = np.stack([stop for _, stop in boxes])
        self.rng = np.random.default_rng(self.config["seed"])
        return {"held_in_ram_mb": 0.0, "torch_threads": torch.get_num_threads()}

    def run(self, count: int) -> dict[str, Any]:
        from anatomy_ssl.anatomy import sample_part_boxes
        from anatomy_ssl.data import ViewGroup, read_views, sample_view_specs
        from anatomy_ssl.data.part_view_reader import read_resampled_boxes
        from anatomy_ssl.transforms import (
            AugmentationSpec,
            apply_augmentation,
            sample_augmentation,
        )

        crop, batch = (self.config["crop"],) * 3, self.config["batch"]
        groups = [ViewGroup(2, crop)]
        seconds = dict.fromkeys(BATCH_STEPS, 0.0)
        for _ in range(count):
            specs = sample_view_specs(self.sizes, groups, batch, self.rng)
            params = [sample_augmentation(AugmentationSpec(), batch, 3, self.rng) for _ in specs]
            parts = sample_part_boxes(self.body_start, self.body_stop, batch, 1, self.rng)
            started = time.perf_counter()
            views = read_views(self.entries, specs)
            read = time.perf_counter()
            augmented = [apply_augmentation(v, p) for v, p in zip(views, params, strict=True)]
            augmenting = time.perf_counter()
            boxes = read_resampled_boxes(
                self.entries, parts.entry_index, parts.start_vox, parts.size_vox, crop
            )
            resized = time.perf_counter()
            # native scale: a box of the view size centred on each part, nothing resampled
            box = np.broadcast_to(crop, parts.size_vox.shape)
            start = parts.start_vox + (parts.size_vox - box) // 2
            native = read_resampled_boxes(self.entries, parts.entry_index, start, box, crop)
            done = time.perf_counter()
            seconds["read_views"] += read - started
            seconds["augmentation"] += augmenting - read
            seconds["part_reader"] += resized - augmenting
            seconds["part_reader_native"] += done - resized
            del views, augmented, boxes, native
        return {
            "batches": count,
            **{f"{name}_ms_per_batch": 1e3 * s / count for name, s in seconds.items()},
        }


def _worker_main(config: dict[str, Any]) -> None:
    """Serve one setup: report the build, then answer `{"count": n}` lines until EOF."""
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the protocol
    # import what the setup uses first, so that the RSS after imports counts the libraries
    modules = ["anatomy_ssl.preprocess", "anatomy_ssl.data", "anatomy_ssl.transforms"]
    if config["kind"].startswith("monai"):
        modules += ["monai.data", "monai.transforms"]
    for module in modules:
        importlib.import_module(module)
    import torch

    import anatomy_ssl

    torch.set_num_threads(1)  # as in a DataLoader worker, where all of these run in training

    setups = {"cache": _CacheCrops, "monai_cache": _MonaiCrops, "monai_persistent": _MonaiCrops}
    setups["batch"] = _BatchPath
    setup = setups[config["kind"]](config)
    rss_imports = _rss_mb()
    started = time.perf_counter()
    built = setup.build()
    reply = {
        **built,
        "build_s": time.perf_counter() - started,
        "anatomy_ssl": str(Path(anatomy_ssl.__file__).parent),
        "rss_after_imports_mb": rss_imports,
        "rss_after_build_mb": _rss_mb(),
        "peak_rss_build_mb": _peak_rss_mb(),
    }
    reply["peak_reset"] = reset_peak_rss()  # the sampling peak starts from the built setup
    protocol.write(json.dumps(reply) + "\n")
    protocol.flush()
    for line in sys.stdin:
        result = setup.run(json.loads(line)["count"])
        result["peak_rss_sampling_mb"] = _peak_rss_mb()
        protocol.write(json.dumps(result) + "\n")
        protocol.flush()


class Worker:
    """A setup in its own Python process (`src` first on its path when given)."""

    def __init__(self, name: str, config: dict[str, Any], src: Path | None = None) -> None:
        self.name = name
        env = dict(os.environ)
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, __file__, WORKER_FLAG, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.build = self._reply()

    def _reply(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name!r} died (exit {self.process.wait()})")
        return dict(json.loads(line))

    def run(self, count: int) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"count": count}) + "\n")
        self.process.stdin.flush()
        return self._reply()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def alternate(workers: list[Worker], count: int, rounds: int) -> dict[str, list[dict[str, Any]]]:
    """`rounds` turns of `count` each, the workers one after another (ABAB...), after one
    untimed warm-up turn each."""
    for worker in workers:
        worker.run(max(1, count // 4))
    turns: dict[str, list[dict[str, Any]]] = {w.name: [] for w in workers}
    for _ in range(rounds):
        for worker in workers:
            turns[worker.name].append(worker.run(count))
    return turns


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def _setup_summary(worker: Worker, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One setup's build facts, median crops/s and peak memory over its turns."""
    return {
        **worker.build,
        "crops_per_s": _median(rows, "crops_per_s"),
        "peak_rss_sampling_mb": max(row["peak_rss_sampling_mb"] for row in rows),
        "turns": rows,
    }


# ---------------------------------------------------------------------------------------------
# Data


def preprocess_spec() -> Any:
    from anatomy_ssl.preprocess import PreprocessSpec

    return PreprocessSpec(target_spacing_mm=TARGET_SPACING_MM, intensity="ct", foreground_crop=True)


def write_sources(folder: Path, count: int, size: tuple[int, int, int]) -> list[Path]:
    from anatomy_ssl.io import Volume, write_nifti
    from anatomy_ssl.phantoms import make_ct_like_volume

    paths = []
    for index in range(count):
        generated = make_ct_like_volume(size, SOURCE_SPACING_MM, seed=index)
        path = folder / f"ct_{index:02d}.nii.gz"
        write_nifti(Volume(generated.hu[None], generated.affine), path)
        paths.append(path)
    return paths


def bench_preprocessing(sources: list[Path], cache: Path, workers: int) -> dict[str, float]:
    from anatomy_ssl.manifests import ManifestRecord
    from anatomy_ssl.preprocess import preprocess_dataset

    records = [
        ManifestRecord(image=p, label=None, subject_id=p.name, split=None, metadata={})
        for p in sources
    ]
    shutil.rmtree(cache, ignore_errors=True)
    summary = preprocess_dataset(records, preprocess_spec(), cache, workers=workers, progress=False)
    assert summary.written == len(sources), summary.rejects
    return {
        "workers": workers,
        "volumes": len(sources),
        "seconds": summary.seconds,
        "volumes_per_s": len(sources) / summary.seconds,
        "source_mb_per_s": summary.source_megabytes / summary.seconds,
    }


def write_big_cache(folder: Path, gigabytes: float, size: tuple[int, int, int]) -> float:
    """Cache entries of random float32 data until the cache exceeds `gigabytes`; returns GB."""
    from anatomy_ssl.preprocess import PreprocessSpec
    from anatomy_ssl.preprocess.cache_entry import write_entry

    rng = np.random.default_rng(0)
    per_entry = 4 * int(np.prod(size))
    count = int(np.ceil(gigabytes * 1e9 / per_entry)) + 1
    block = rng.random(size, dtype=np.float32)[None]
    for index in range(count):
        key = f"big{index:04d}"
        meta = {
            "key": key,
            "subject_id": key,
            "split": "train",
            "affine": np.eye(4).tolist(),
            "spacing_mm": [1.0, 1.0, 1.0],
            "size_vox": list(size),
            "background_value": 0.0,
        }
        write_entry(
            folder / "spec0" / "entries" / key,
            folder / ".staging",
            image=block,
            label=None,
            meta=meta,
        )
    (folder / "spec0" / "spec.json").write_text(json.dumps(PreprocessSpec().to_dict()))
    return count * per_entry / 1e9


# ---------------------------------------------------------------------------------------------
# Sections


def bench_sampling(
    args: argparse.Namespace, work: Path, sources: list[Path], cache: Path
) -> dict[str, Any]:
    common = {"crop": args.crop, "per_item": args.per_item, "seed": 0}
    names: list[tuple[str, dict[str, Any], Path | None]] = [
        ("anatomy-ssl cache", {"kind": "cache", "cache": str(cache), **common}, None)
    ]
    if args.baseline_src is not None:
        config = {"kind": "cache", "cache": str(cache), **common}
        names.append(("anatomy-ssl cache (baseline)", config, args.baseline_src))
    monai = {"sources": [str(p) for p in sources], **common}
    names += [
        (
            "MONAI CacheDataset copy_cache=True",
            {"kind": "monai_cache", "copy_cache": True, **monai},
            None,
        ),
        (
            "MONAI CacheDataset copy_cache=False",
            {"kind": "monai_cache", "copy_cache": False, **monai},
            None,
        ),
        (
            "MONAI PersistentDataset",
            {"kind": "monai_persistent", "persistent_dir": str(work / "persistent"), **monai},
            None,
        ),
    ]
    workers = []
    try:
        for name, config, src in names:
            print(f"building {name} ...", flush=True)
            workers.append(Worker(name, config, src))
        turns = alternate(workers, args.crops, args.rounds)
    finally:
        for worker in workers:
            worker.close()
    setups: dict[str, Any] = {}
    for worker in workers:
        rows = turns[worker.name]
        setups[worker.name] = _setup_summary(worker, rows)
        if "items_crops_per_s" in rows[0]:
            setups[worker.name]["items_crops_per_s"] = _median(rows, "items_crops_per_s")
    ours = turns["anatomy-ssl cache"]
    ratios = {
        f"anatomy-ssl cache / {name}": statistics.median(
            a["crops_per_s"] / b["crops_per_s"] for a, b in zip(ours, rows, strict=True)
        )
        for name, rows in turns.items()
        if name != "anatomy-ssl cache"
    }
    ratios_uncollated = {  # against MONAI's crops as returned: views, no voxel copied
        f"anatomy-ssl cache / {name} (uncollated)": statistics.median(
            a["crops_per_s"] / b["items_crops_per_s"] for a, b in zip(ours, rows, strict=True)
        )
        for name, rows in turns.items()
        if "items_crops_per_s" in rows[0]
    }
    return {
        "crop": args.crop,
        "per_item": args.per_item,
        "crops_per_turn": args.crops,
        "rounds": args.rounds,
        "setups": setups,
        "ratios": ratios,
        "ratios_uncollated": ratios_uncollated,
    }


def bench_batch_path(args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    config = {
        "kind": "batch",
        "cache": str(cache),
        "crop": args.batch_crop,
        "batch": args.batch,
        "seed": 1,
    }
    names: list[tuple[str, Path | None]] = [("current", None)]
    if args.baseline_src is not None:
        names.append(("baseline", args.baseline_src))
    workers = []
    try:
        for name, src in names:
            workers.append(Worker(name, config, src))
        turns = alternate(workers, args.batches, args.rounds)
    finally:
        for worker in workers:
            worker.close()
    parts = BATCH_STEPS
    report: dict[str, Any] = {
        "batch": args.batch,
        "crop": args.batch_crop,
        "batches_per_turn": args.batches,
    }
    for worker in workers:
        rows = turns[worker.name]
        report[worker.name] = {
            **worker.build,
            **{f"{p}_ms_per_batch": _median(rows, f"{p}_ms_per_batch") for p in parts},
            "turns": rows,
        }
    if "baseline" in turns:
        report["speedup"] = {
            p: statistics.median(
                b[f"{p}_ms_per_batch"] / a[f"{p}_ms_per_batch"]
                for a, b in zip(turns["current"], turns["baseline"], strict=True)
            )
            for p in parts
        }
    return report


def bench_big_cache(args: argparse.Namespace, cache: Path, crops: int) -> dict[str, Any]:
    config = {"kind": "cache", "cache": str(cache), "crop": args.crop, "per_item": 1, "seed": 1}
    names: list[tuple[str, Path | None]] = [("current", None)]
    if args.baseline_src is not None:
        names.append(("baseline", args.baseline_src))
    workers = []
    try:
        for name, src in names:  # a process each: the peak of each is its own
            workers.append(Worker(name, config, src))
        turns = alternate(workers, crops, args.rounds)
    finally:
        for worker in workers:
            worker.close()
    report: dict[str, Any] = {"crop": args.crop, "crops_per_turn": crops}
    for worker in workers:
        report[worker.name] = _setup_summary(worker, turns[worker.name])
    if "baseline" in turns:
        report["speedup"] = statistics.median(
            a["crops_per_s"] / b["crops_per_s"]
            for a, b in zip(turns["current"], turns["baseline"], strict=True)
        )
    return report


def _print_summary(report: dict[str, Any]) -> None:
    for row in report["preprocess"]:
        print(
            f"preprocess workers={row['workers']}: {row['volumes_per_s']:.3f} volumes/s, "
            f"{row['source_mb_per_s']:.1f} MB/s"
        )
    sampling = report["sampling"]
    print(f"random {sampling['crop']}^3 crops, {sampling['per_item']} per read:")
    for name, row in sampling["setups"].items():
        items = row.get("items_crops_per_s")
        print(
            f"  {name:38s} {row['crops_per_s']:8.1f} crops/s"
            + (f" ({items:.0f} uncollated)" if items else "")
            + f"  RSS built {row['rss_after_build_mb']:.0f} MB, peak sampling "
            f"{row['peak_rss_sampling_mb']:.0f} MB, in RAM {row['held_in_ram_mb']:.0f} MB"
        )
    for name, ratio in {**sampling["ratios"], **sampling["ratios_uncollated"]}.items():
        print(f"  {name}: {ratio:.2f}x")
    batch = report["batch_path"]
    for name in ("current", "baseline"):
        if name in batch:
            row = batch[name]
            print(
                f"batch path ({name}, {batch['batch']} x {batch['crop']}^3): read_views "
                f"{row['read_views_ms_per_batch']:.1f} ms, augmentation "
                f"{row['augmentation_ms_per_batch']:.1f} ms, part reader "
                f"{row['part_reader_ms_per_batch']:.1f} ms (native scale "
                f"{row['part_reader_native_ms_per_batch']:.1f} ms) per batch"
            )
    if "speedup" in batch:
        print("  speed-up: " + ", ".join(f"{k} {v:.2f}x" for k, v in batch["speedup"].items()))
    big = report["big_cache"]
    for name in ("current", "baseline"):
        if name in big:
            row = big[name]
            print(
                f"big cache {big['cache_gb']:.2f} GB ({name}): {row['crops_per_s']:.1f} crops/s, "
                f"peak RSS {row['peak_rss_sampling_mb']:.0f} MB "
                f"(after build {row['rss_after_build_mb']:.0f} MB)"
            )
    if "speedup" in big:
        print(f"  speed-up: {big['speedup']:.2f}x")


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that it runs")
    parser.add_argument("--volumes", type=int, default=4)
    parser.add_argument(
        "--size", type=int, nargs=3, default=(320, 320, 200), help="source volume voxels"
    )
    parser.add_argument("--crop", type=int, default=96, help="crop side, voxels")
    parser.add_argument("--per-item", type=int, default=8, help="crops per read / per item")
    parser.add_argument("--crops", type=int, default=400, help="crops per setup per turn")
    parser.add_argument("--rounds", type=int, default=5, help="alternating turns per setup")
    parser.add_argument("--batch", type=int, default=8, help="batch size of the batch path")
    parser.add_argument("--batch-crop", type=int, default=64, help="crop side of the batch path")
    parser.add_argument("--batches", type=int, default=4, help="batches per turn")
    parser.add_argument("--big-cache-gb", type=float, default=4.2)
    parser.add_argument(
        "--baseline-src", type=Path, default=None, help="another anatomy_ssl source tree to time"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: tmp)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/data_pipeline.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.volumes, args.size, args.crop, args.per_item = 2, (48, 48, 32), 12, 4
        args.batch_crop = 12
        args.crops, args.rounds, args.batch, args.batches, args.big_cache_gb = 8, 2, 2, 1, 0.01
    args.size = tuple(args.size)
    if args.baseline_src is not None:
        args.baseline_src = args.baseline_src.resolve()
        if not (args.baseline_src / "anatomy_ssl").is_dir():
            parser.error(f"--baseline-src {args.baseline_src} holds no anatomy_ssl package")
    return args


def main() -> None:
    args = _parse()
    big_size = (64, 64, 64) if args.quick else (512, 512, 300)
    work = Path(tempfile.mkdtemp(prefix="anatomy-ssl-bench-", dir=args.workdir))
    import monai
    import torch

    from anatomy_ssl.preprocess import VolumeCache

    report: dict[str, Any] = {
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {multiprocessing.cpu_count()} cores",
        "load_average_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "versions": {
            "numpy": np.__version__,
            "torch": torch.__version__,
            "monai": monai.__version__,
        },
        "command": " ".join(sys.argv),
        "source_size_vox": list(args.size),
        "spec": preprocess_spec().to_dict(),
    }
    try:
        print(f"writing {args.volumes} synthetic CT volumes {args.size} ...", flush=True)
        sources = write_sources(work / "sources", args.volumes, args.size)
        report["source_mb_each"] = sources[0].stat().st_size / 1e6
        report["preprocess"] = [
            bench_preprocessing(sources, work / f"cache-w{w}", w) for w in (1, 2)
        ]
        cache = work / "cache-w2"
        report["cache_entry_size_vox"] = [entry.size_vox for entry in VolumeCache(cache).entries()]
        report["sampling"] = bench_sampling(args, work, sources, cache)
        print("batch path ...", flush=True)
        report["batch_path"] = bench_batch_path(args, cache)
        print(f"writing a >{args.big_cache_gb} GB cache ...", flush=True)
        shutil.rmtree(work / "sources")
        shutil.rmtree(work / "persistent", ignore_errors=True)
        big_cache = work / "big-cache"
        written_gb = write_big_cache(big_cache, args.big_cache_gb, big_size)
        big_crops = args.crops * 2
        report["big_cache"] = {
            "cache_gb": written_gb,
            **bench_big_cache(args, big_cache, big_crops),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["load_average_end"] = list(os.getloadavg())
    _print_summary(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"report: {args.out}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == WORKER_FLAG:
        _worker_main(json.loads(sys.argv[2]))
    else:
        main()
