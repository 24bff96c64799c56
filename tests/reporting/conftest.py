"""Synthetic evaluation records and pretraining run folders shared by the reporting tests."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord, write_record

# method -> quality offset: eden clearly best, mae the best generic baseline, scratch the floor
QUALITY = {"scratch": 0.0, "simclr": 0.08, "mae": 0.12, "eden": 0.25}
LANDMARKS = ("carina", "liver_dome", "left_kidney", "right_kidney", "sacrum")


def few_shot_record(
    method: str, seed: int, quality: float, rng: np.random.Generator
) -> EvaluationRecord:
    metrics, samples = {}, {}
    for mode, cap in (("finetune", 0.9), ("frozen", 0.75)):
        for k, factor in (("1", 0.55), ("2", 0.65), ("5", 0.8), ("10", 0.9), ("all", 1.0)):
            per_volume = np.clip(cap * factor * (0.6 + quality) + rng.normal(0, 0.02, 8), 0, 1)
            name = f"{mode}_k{k}_dice"
            metrics[name] = float(per_volume.mean())
            samples[name] = per_volume.tolist()
    return EvaluationRecord(
        method,
        "phantom",
        "few_shot_segmentation",
        seed,
        metrics,
        samples,
        settings={"k": [1, 2, 5, 10, "all"], "epochs": 20},
        encoder={"name": "test_resunet"},
    )


def correspondence_record(
    method: str, seed: int, quality: float, rng: np.random.Generator
) -> EvaluationRecord:
    errors = rng.gamma(2.0, 6.0 * (1.2 - 2 * quality), size=40)  # (40,) mm
    metrics = {
        "median_error_mm": float(np.median(errors)),
        "mean_error_mm": float(errors.mean()),
        "within_10mm": float(np.mean(errors <= 10)),
    }
    return EvaluationRecord(
        method, "phantom", "correspondence", seed, metrics, {"error_mm": errors.tolist()}
    )


def locality_record(
    method: str, seed: int, quality: float, rng: np.random.Generator
) -> EvaluationRecord:
    centers = rng.normal(0, 4, (len(LANDMARKS), 2))
    labels = [LANDMARKS[i % len(LANDMARKS)] for i in range(60)]
    spread = 3.0 - 8 * quality
    xy = np.asarray([centers[LANDMARKS.index(lab)] for lab in labels]) + rng.normal(
        0, spread, (60, 2)
    )
    metrics = {"knn_accuracy": 0.5 + quality + rng.normal(0, 0.01), "silhouette": 0.1 + quality}
    return EvaluationRecord(
        method,
        "phantom",
        "locality",
        seed,
        metrics,
        details={"embedding_map": {"xy": xy.tolist(), "labels": labels}},
    )


def write_overlay(path: Path) -> Path:
    figure = Figure(figsize=(2, 2))
    axis = figure.subplots()
    axis.imshow(np.random.default_rng(0).random((16, 16)), cmap="gray")
    axis.axis("off")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def write_benchmark(
    records_dir: Path, seeds: tuple[int, ...] = (0, 1, 2)
) -> list[EvaluationRecord]:
    """A small full benchmark: 4 methods x 3 seeds x 3 protocols (+ an overlay for eden)."""
    rng = np.random.default_rng(0)
    records = []
    for method, quality in QUALITY.items():
        for seed in seeds:
            for make in (few_shot_record, correspondence_record, locality_record):
                records.append(make(method, seed, quality, rng))
    overlay = write_overlay(records_dir / "phantom" / "eden" / "overlays" / "case0.png")
    records = [
        EvaluationRecord(
            **{**r.__dict__, "details": {**r.details, "overlay_png": "overlays/case0.png"}}
        )
        if r.method == "eden" and r.protocol == "few_shot_segmentation"
        else r
        for r in records
    ]
    assert overlay.is_file()
    for record in records:
        write_record(record, records_dir)
    return records


def write_metrics_csv(path: Path, rows: list[dict[str, float | int | str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = ["collapse/effective_rank", "epoch", "step", "train/loss", "train/lr"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({"epoch": 0, "collapse/effective_rank": 2.5, "train/lr": 1e-3, **row})


def write_run(run_dir: Path, method: str, steps: range, *, scale: float = 1.0) -> Path:
    rows: list[dict[str, float | int | str]] = [
        {"step": s, "train/loss": scale * (1.0 + 4.0 / (1 + s / 10))} for s in steps
    ]
    write_metrics_csv(run_dir / "logs" / "csv" / "metrics.csv", rows)
    (run_dir / "summary.json").write_text(json.dumps({"method": method, "steps": len(steps)}))
    return run_dir


@pytest.fixture
def benchmark_dir(tmp_path: Path) -> Path:
    write_benchmark(tmp_path / "records")
    return tmp_path / "records"


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    for method, scale in (("simclr", 1.0), ("eden", 0.2)):
        write_run(tmp_path / "runs" / method, method, range(0, 120), scale=scale)
    return tmp_path / "runs"


@pytest.fixture
def benchmark_writer() -> Callable[..., list[EvaluationRecord]]:
    return write_benchmark


@pytest.fixture
def overlay_writer() -> Callable[[Path], Path]:
    return write_overlay
