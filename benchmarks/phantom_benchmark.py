"""Phantom generation benchmark.

Measures, on this machine:
1. CT phantom generation speed at the default size (96x96x128) in one process (volumes/s per
   core), rendering only and rendering + writing the files.
2. Wall time to write a 100-subject CT phantom set with 2 worker processes.
3. Radiograph (DRR) and atlas-MRI subject generation speed in one process.

Usage:
    python benchmarks/phantom_benchmark.py            # full (about 2 minutes on 2 cores)
    python benchmarks/phantom_benchmark.py --quick    # small sizes: checks it runs
Writes a JSON report (default benchmarks/out/phantom.json) and prints a table.
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

from anatomy_ssl.phantoms import (
    make_ct_phantom_dataset,
    make_ct_phantom_subject,
    project_radiograph,
)
from anatomy_ssl.phantoms.atlas_mri_dataset import make_atlas_subject
from anatomy_ssl.phantoms.phantom_dataset_writer import write_subject


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: check that it runs")
    parser.add_argument("--subjects", type=int, default=100, help="size of the parallel set")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/phantom.json"))
    args = parser.parse_args()
    preset = "small" if args.quick else "default"
    single = 2 if args.quick else 10
    parallel_n = 4 if args.quick else args.subjects
    work = Path(tempfile.mkdtemp(prefix="anatomy-ssl-phantom-bench-"))
    report: dict[str, Any] = {
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {multiprocessing.cpu_count()} cores",
        "preset": preset,
    }
    try:
        make_ct_phantom_subject(0, preset=preset)  # warm-up (imports, caches)
        started = time.perf_counter()
        subjects = [make_ct_phantom_subject(k, preset=preset) for k in range(single)]
        render = time.perf_counter() - started
        started = time.perf_counter()
        for subject in subjects:
            write_subject(subject, work / "single", image_dtype="int16")
        write = time.perf_counter() - started
        report["ct_single_process"] = {
            "subjects": single,
            "size_vox": list(subjects[0].image.shape),
            "render_volumes_per_s": _rate(single, render),
            "render_and_write_volumes_per_s": _rate(single, render + write),
        }
        started = time.perf_counter()
        for subject in subjects:
            project_radiograph(subject, pixel_spacing_mm=3.0)
        report["drr_per_s"] = _rate(single, time.perf_counter() - started)
        make_atlas_subject(0, preset=preset)  # warm-up: template load
        started = time.perf_counter()
        for k in range(single):
            make_atlas_subject(k, preset=preset)
        report["atlas_mri_per_s"] = _rate(single, time.perf_counter() - started)
        started = time.perf_counter()
        make_ct_phantom_dataset(work / "set", parallel_n, preset=preset, workers=2, progress=False)
        report["ct_set_2_workers"] = {
            "subjects": parallel_n,
            "seconds": time.perf_counter() - started,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    single_row = report["ct_single_process"]
    print(
        f"CT phantom {single_row['size_vox']}: {single_row['render_volumes_per_s']:.2f} volumes/s "
        f"per core (render), {single_row['render_and_write_volumes_per_s']:.2f} with writing"
    )
    print(f"DRR projection: {report['drr_per_s']:.1f} radiographs/s")
    print(f"atlas MRI subject: {report['atlas_mri_per_s']:.2f} subjects/s")
    set_row = report["ct_set_2_workers"]
    print(f"{set_row['subjects']}-subject CT set, 2 workers: {set_row['seconds']:.1f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"report: {args.out}")


if __name__ == "__main__":
    main()
