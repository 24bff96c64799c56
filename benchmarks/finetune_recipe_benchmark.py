"""Few-shot recipe benchmark: what a run of each mode costs, and what the supervised ceiling costs.

Generates CT phantoms (default preset) preprocessed at 6 mm (the recipe's scale), then trains a
scratch encoder with the few-shot recipe (`FewShotSegmentationSettings` defaults: 1000 steps,
32^3 crops, batch 2, lr 1e-2) in every mode at k = 2, and the supervised ceiling (2000 steps on
every training volume), scoring each on the held-out volumes. The reference in the same run is the
fp32 fine-tuning run: every other line is quoted as a ratio of its training time.

Usage:
    python benchmarks/finetune_recipe_benchmark.py                  # CPU, the full recipe
    python benchmarks/finetune_recipe_benchmark.py --device cuda    # one GPU, bf16 runs too
    python benchmarks/finetune_recipe_benchmark.py --quick          # a few steps: checks it runs
Writes a JSON report (default benchmarks/out/finetune_recipe.json) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anatomy_ssl.evaluation.protocol_settings import FewShotSegmentationSettings
from anatomy_ssl.evaluation.segmentation_finetuning import finetune_segmentation
from anatomy_ssl.evaluation.segmentation_scoring import score_volumes
from anatomy_ssl.models import create_encoder
from anatomy_ssl.phantoms import make_ct_phantom_dataset
from anatomy_ssl.phantoms.torso_parameters import Preset
from anatomy_ssl.preprocess import CachedVolume, PreprocessSpec
from train_test_cache import train_test_cache

SPEC = PreprocessSpec(target_spacing_mm=(6.0, 6.0, 6.0), intensity="ct", foreground_crop=True)
NUM_CLASSES = 14  # background + the 13 organs of the CT phantom's level-1 labels


@dataclass(frozen=True)
class Run:
    name: str
    mode: str
    bf16: bool
    k: int | None  # None: every training volume (the ceiling)
    steps: int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--subjects", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="20 steps, 4 small subjects")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/finetune_recipe.json"))
    args = parser.parse_args()
    settings = FewShotSegmentationSettings()
    steps = 20 if args.quick else settings.steps
    subjects = 4 if args.quick else args.subjects
    with tempfile.TemporaryDirectory() as folder:
        train, test = _phantoms(Path(folder), subjects, preset="small" if args.quick else "default")
        runs = [
            Run("finetune fp32 (reference)", "finetune", False, 2, steps),
            Run("frozen", "frozen", False, 2, steps),
            Run("frozen_deep", "frozen_deep", False, 2, steps),
            Run("ceiling (all training volumes)", "finetune", False, None, 2 * steps),
        ]
        if torch.device(args.device).type == "cuda":
            runs.insert(1, Run("finetune bf16", "finetune", True, 2, steps))
        rows = [_measure(run, train, test, settings, args.device) for run in runs]
    reference = rows[0]["train_s"]
    for row in rows:
        row["vs_reference"] = row["train_s"] / reference
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else platform.processor(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "train_subjects": len(train),
        "test_subjects": len(test),
        "runs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    header = ("run", "steps", "train s", "s/step", "score s", "Dice", "ratio")
    print(f"{header[0]:34} " + " ".join(f"{name:>8}" for name in header[1:]))
    for row in rows:
        print(
            f"{row['name']:34} {row['steps']:8d} {row['train_s']:8.1f} "
            f"{row['train_s'] / max(row['steps'], 1):8.3f} {row['score_s']:8.1f} "
            f"{row['dice']:8.3f} {row['vs_reference']:8.2f}"
        )
    print(f"report: {args.out}")


def _phantoms(
    folder: Path, subjects: int, *, preset: Preset
) -> tuple[list[CachedVolume], list[CachedVolume]]:
    make_ct_phantom_dataset(folder / "data", subjects, seed=0, preset=preset, progress=False)
    return train_test_cache(folder, SPEC)


def _measure(
    run: Run,
    train: list[CachedVolume],
    test: list[CachedVolume],
    settings: FewShotSegmentationSettings,
    device: str,
) -> dict[str, Any]:
    torch.manual_seed(0)
    encoder = create_encoder("resunet_small", spatial_dims=3, in_channels=1)
    volumes = train if run.k is None else train[: run.k]
    trained = finetune_segmentation(
        encoder,
        volumes,
        num_classes=NUM_CLASSES,
        mode=run.mode,
        steps=run.steps,
        crop_size_vox=settings.crop_vox,
        batch_size=settings.batch_size,
        lr=settings.lr,
        seed=0,
        device=device,
        bf16=run.bf16,
    )
    started = time.perf_counter()
    dice = score_volumes(
        trained.network,
        test,
        num_classes=NUM_CLASSES,
        window_vox=trained.crop_size_vox,
        device=device,
        bf16=run.bf16,
    )
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    return {
        "name": run.name,
        "mode": run.mode,
        "bf16": run.bf16,
        "k": len(volumes),
        "steps": run.steps,
        "train_s": trained.train_seconds,
        "score_s": time.perf_counter() - started,
        "loss_first20": float(trained.losses[:20].mean()),
        "loss_last20": float(trained.losses[-20:].mean()),
        "dice": float(np.nanmean(np.nanmean(dice, axis=0))),
    }


if __name__ == "__main__":
    main()
