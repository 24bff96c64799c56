"""Data-pipeline benchmark: preprocessing throughput and cached crop sampling vs MONAI.

Measures, in one run on this machine:
1. Preprocessing throughput (volumes/s, source MB/s) of synthetic CT-like volumes
   (default 512x512x300, 0.7x0.7x1.0 mm, int16 NIfTI) to 1.5 mm isotropic, CT window, body crop.
2. Random-crop sampling (crops/s) at 64^3 and 96^3 from the anatomy-ssl cache versus the
   equivalent MONAI pipeline (LoadImaged -> EnsureChannelFirstd -> Orientationd -> Spacingd ->
   ScaleIntensityRanged -> RandSpatialCropSamplesd) on the same source files; each side's peak
   resident memory is measured in its own child process.
3. Peak resident memory while sampling random 96^3 crops from a cache larger than `--big-cache-gb`.

Usage:
    python benchmarks/data_pipeline_benchmark.py                 # full size (several minutes)
    python benchmarks/data_pipeline_benchmark.py --quick         # tiny sizes: checks it runs
Writes a JSON report (default benchmarks/out/data_pipeline.json) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from anatomy_ssl.io import Volume, write_nifti
from anatomy_ssl.manifests import ManifestRecord
from anatomy_ssl.phantoms import make_ct_like_volume
from anatomy_ssl.preprocess import (
    PreprocessSpec,
    VolumeCache,
    preprocess_dataset,
    random_crop_starts,
)
from anatomy_ssl.preprocess.cache_entry import write_entry

SPEC = PreprocessSpec(target_spacing_mm=(1.5, 1.5, 1.5), intensity="ct", foreground_crop=True)


def _peak_rss_mb() -> float:
    """Peak resident set of this process's address space (Linux VmHWM).

    Not `ru_maxrss`: Linux carries that across fork + exec, so a spawned child would report its
    parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6  # KiB -> MB
    raise RuntimeError("VmHWM not found in /proc/self/status (Linux only)")


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def _in_child(function: Any, *args: Any) -> Any:
    """Run `function(*args)` in a fresh process (so its peak memory is its own) and return it."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)


def write_sources(folder: Path, count: int, size: tuple[int, int, int]) -> list[Path]:
    paths = []
    for index in range(count):
        generated = make_ct_like_volume(size, (0.7, 0.7, 1.0), seed=index)
        path = folder / f"ct_{index:02d}.nii.gz"
        write_nifti(Volume(generated.hu[None], generated.affine), path)
        paths.append(path)
    return paths


def bench_preprocessing(sources: list[Path], cache: Path, workers: int) -> dict[str, float]:
    records = [
        ManifestRecord(image=p, label=None, subject_id=p.name, split=None, metadata={})
        for p in sources
    ]
    shutil.rmtree(cache, ignore_errors=True)
    summary = preprocess_dataset(records, SPEC, cache, workers=workers, progress=False)
    assert summary.written == len(sources), summary.rejects
    return {
        "workers": workers,
        "volumes": len(sources),
        "seconds": summary.seconds,
        "volumes_per_s": len(sources) / summary.seconds,
        "source_mb_per_s": summary.source_megabytes / summary.seconds,
    }


def sample_cache_crops(cache: str, crop: int, count: int, seed: int) -> dict[str, float]:
    """Child process: `count` random crops (+ no label) spread over all cache entries."""
    entries = VolumeCache(cache).entries()
    rng = np.random.default_rng(seed)
    size = (crop, crop, crop)
    rss_before = _rss_mb()
    started = time.perf_counter()
    checksum = 0.0
    for index in range(count):
        entry = entries[index % len(entries)]
        batch = entry.crops(random_crop_starts(entry.size_vox, size, 1, rng), size)
        checksum += float(batch.image[0, 0, 0, 0, 0])
    seconds = time.perf_counter() - started
    return {
        "crops_per_s": count / seconds,
        "seconds": seconds,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
    }


def sample_monai_crops(
    sources: list[str], crop: int, count: int, per_load: int
) -> dict[str, float]:
    """Child process: the MONAI per-sample pipeline, `per_load` crops per loaded volume."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    from monai import transforms as mt

    pipeline = mt.Compose(
        [
            mt.LoadImaged(keys="image"),
            mt.EnsureChannelFirstd(keys="image"),
            mt.Orientationd(keys="image", axcodes="RAS"),
            mt.Spacingd(keys="image", pixdim=SPEC.target_spacing_mm, mode="bilinear"),
            mt.ScaleIntensityRanged(
                keys="image", a_min=-1000, a_max=1000, b_min=0.0, b_max=1.0, clip=True
            ),
            mt.RandSpatialCropSamplesd(
                keys="image", roi_size=(crop, crop, crop), num_samples=per_load, random_size=False
            ),
        ]
    )
    pipeline.set_random_state(0)
    rss_before = _rss_mb()
    started = time.perf_counter()
    made = 0
    index = 0
    while made < count:
        samples = pipeline({"image": sources[index % len(sources)]})
        made += len(samples)
        index += 1
    seconds = time.perf_counter() - started
    return {
        "crops_per_s": made / seconds,
        "seconds": seconds,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
    }


def write_big_cache(folder: Path, gigabytes: float, size: tuple[int, int, int]) -> float:
    """Cache entries of random float32 data until the cache exceeds `gigabytes`; returns GB."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that it runs")
    parser.add_argument("--volumes", type=int, default=4)
    parser.add_argument("--crops", type=int, default=200, help="crops per sampling measurement")
    parser.add_argument("--monai-samples-per-load", type=int, default=4)
    parser.add_argument("--big-cache-gb", type=float, default=4.2)
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: tmp)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/data_pipeline.json"))
    args = parser.parse_args()

    size = (64, 64, 48) if args.quick else (512, 512, 300)
    big_size = (64, 64, 64) if args.quick else (512, 512, 300)
    big_gb = 0.01 if args.quick else args.big_cache_gb
    crop_sizes = (16, 24) if args.quick else (64, 96)
    crops = 8 if args.quick else args.crops
    volumes = 2 if args.quick else args.volumes

    work = Path(tempfile.mkdtemp(prefix="anatomy-ssl-bench-", dir=args.workdir))
    report: dict[str, Any] = {
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {multiprocessing.cpu_count()} cores",
        "python": platform.python_version(),
        "source_size_vox": list(size),
        "spec": SPEC.to_dict(),
    }
    try:
        print(f"writing {volumes} synthetic CT volumes {size} ...", flush=True)
        sources = write_sources(work / "sources", volumes, size)
        report["source_mb_each"] = sources[0].stat().st_size / 1e6
        report["preprocess"] = [
            bench_preprocessing(sources, work / f"cache-w{w}", w) for w in (1, 2)
        ]
        for row in report["preprocess"]:
            print(
                f"preprocess workers={row['workers']}: {row['volumes_per_s']:.3f} volumes/s, "
                f"{row['source_mb_per_s']:.1f} MB/s",
                flush=True,
            )
        report["sampling"] = []
        for crop in crop_sizes:
            ours = _in_child(sample_cache_crops, str(work / "cache-w2"), crop, crops, 0)
            monai_count = max(args.monai_samples_per_load, crops // 10)
            theirs = _in_child(
                sample_monai_crops,
                [str(p) for p in sources],
                crop,
                monai_count,
                args.monai_samples_per_load,
            )
            row = {
                "crop": crop,
                "cache": ours,
                "monai": theirs,
                "speedup": ours["crops_per_s"] / theirs["crops_per_s"],
            }
            report["sampling"].append(row)
            print(
                f"crops {crop}^3: cache {ours['crops_per_s']:.1f}/s "
                f"(peak {ours['peak_rss_mb']:.0f} MB) "
                f"vs MONAI {theirs['crops_per_s']:.2f}/s (peak {theirs['peak_rss_mb']:.0f} MB): "
                f"{row['speedup']:.0f}x",
                flush=True,
            )
        print(f"writing a >{big_gb} GB cache ...", flush=True)
        shutil.rmtree(work / "sources")
        written_gb = write_big_cache(work / "big-cache", big_gb, big_size)
        big = _in_child(sample_cache_crops, str(work / "big-cache"), crop_sizes[-1], crops * 5, 1)
        report["big_cache"] = {
            "cache_gb": written_gb,
            "crop": crop_sizes[-1],
            "crops": crops * 5,
            **big,
        }
        print(
            f"big cache {written_gb:.2f} GB: {big['crops_per_s']:.1f} crops/s, "
            f"peak RSS {big['peak_rss_mb']:.0f} MB (before sampling {big['rss_before_mb']:.0f} MB)",
            flush=True,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"report: {args.out}")


if __name__ == "__main__":
    main()
