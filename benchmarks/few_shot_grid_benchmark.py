"""Few-shot grid benchmark: one grid of runs trained one after another or in worker processes.

Generates phantom radiographs at 6 mm (the `cpu` suite's scale) and times
`run_few_shot_segmentation` on the same grid (k = 1, 2 x seeds x the fine-tuning and frozen
modes, a scratch `resunet_small`) three ways:
- the reference: one process with torch's default thread count (what the harness did before
  it had workers, and what a user of a plain training loop gets);
- one process with one thread;
- `workers` processes with an equal share of the threads each.
Every line is quoted as a ratio of the reference's wall time. The runs' Dice must agree between
the two single-threaded schedules (the same arithmetic, scheduled differently); a different
thread count changes the order of float reductions, so the reference's runs drift apart a
little over hundreds of steps (reported too).

Usage:
    python benchmarks/few_shot_grid_benchmark.py                # 200 steps per run
    python benchmarks/few_shot_grid_benchmark.py --quick        # a few steps: checks it runs
Writes a JSON report (default benchmarks/out/few_shot_grid.json) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anatomy_ssl.evaluation.few_shot_segmentation import run_few_shot_segmentation
from anatomy_ssl.models import create_encoder
from anatomy_ssl.phantoms import make_xray_phantom_dataset
from anatomy_ssl.preprocess import CachedVolume, PreprocessSpec
from train_test_cache import train_test_cache

SPEC = PreprocessSpec(
    spatial_dims=2, target_spacing_mm=(6.0, 6.0), intensity="mri", foreground_crop=False
)  # the suites' radiograph preprocessing at the cpu suite's spacing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=12)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="5 steps, 6 subjects, 1 seed")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/few_shot_grid.json"))
    args = parser.parse_args()
    if args.quick:
        args.subjects, args.steps, args.seeds = 6, 5, 1
    default_threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        train, test = _radiographs(Path(tmp), args.subjects)
        torch.manual_seed(0)
        encoder = create_encoder("resunet_small", spatial_dims=2, in_channels=1)
        grid = {
            "k_values": [1, 2],
            "seeds": list(range(args.seeds)),
            "modes": ["finetune", "frozen"],
            "steps": args.steps,
            "crop_size_vox": 32,
            "progress": False,
        }
        setups = [
            (f"1 process, {default_threads} threads (reference)", 1, default_threads),
            ("1 process, 1 thread", 1, 1),
            (
                f"{args.workers} processes, {max(default_threads // args.workers, 1)} thread(s)",
                args.workers,
                default_threads,
            ),
        ]
        lines: list[dict[str, Any]] = []
        dice: list[np.ndarray] = []
        for name, workers, threads in setups:
            torch.set_num_threads(threads)
            started = time.perf_counter()
            records = run_few_shot_segmentation(encoder, train, test, workers=workers, **grid)
            seconds = time.perf_counter() - started
            torch.set_num_threads(default_threads)
            dice.append(np.array([r.mean_dice for r in records]))
            lines.append(
                {"setup": name, "workers": workers, "runs": len(records), "wall_s": seconds}
            )
    reference = lines[0]["wall_s"]
    for line in lines:
        line["vs_reference"] = round(reference / line["wall_s"], 2)
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "subjects": {"train": len(train), "test": len(test)},
        "grid": {k: v for k, v in grid.items() if k != "progress"},
        "same_threads_dice_difference": float(np.abs(dice[2] - dice[1]).max()),
        "other_threads_dice_difference": float(np.abs(dice[1] - dice[0]).max()),
        "setups": lines,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"{'setup':40s} {'runs':>5s} {'wall s':>8s} {'speed-up':>9s}")
    for line in lines:
        print(
            f"{line['setup']:40s} {line['runs']:5d} {line['wall_s']:8.1f} "
            f"{line['vs_reference']:8.2f}x"
        )
    print(
        f"largest Dice difference: {report['same_threads_dice_difference']:.2e} between the "
        f"single-threaded schedules, {report['other_threads_dice_difference']:.2e} against "
        "the reference's thread count"
    )


def _radiographs(folder: Path, subjects: int) -> tuple[list[CachedVolume], list[CachedVolume]]:
    make_xray_phantom_dataset(folder / "data", subjects, seed=0, progress=False)
    return train_test_cache(folder, SPEC)


if __name__ == "__main__":
    main()
