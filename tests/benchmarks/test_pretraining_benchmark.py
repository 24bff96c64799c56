"""The pretraining throughput benchmark must keep working; its numbers live in BENCHMARKS.md."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "pretraining_benchmark.py"
METHODS = ["simclr", "moco", "dino", "mae", "eden", "eden_v1", "sam", "alice", "drasclr"]


def _finite_positive(value):
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_quick_cpu_suite_reports_every_method(tmp_path):
    out = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--suite",
            "cpu",
            "--quick",
            "--out",
            str(out),
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["suite"]["name"] == "cpu"
    # every method with the suite's encoder, then drasclr with the location-conditioned one
    assert [(row["encoder"], row["method"]) for row in report["rows"]] == [
        *(("test_resunet", method) for method in METHODS),
        ("test_drasclr", "drasclr"),
    ]
    for row in report["rows"]:
        run = row["pretrain"]
        assert run["steps"] == report["suite"]["steps"]
        assert run["timed_steps"] == report["suite"]["steps"] - 1 - report["suite"]["warmup_steps"]
        for value in (
            run["samples_per_s"],
            run["s_per_step"],
            run["data_wait_fraction"],
            row["peak_rss_mb"],
            row["compute_alone"]["samples_per_s"],
            row["fraction_of_compute_alone"],
        ):
            assert _finite_positive(value), row
        assert run["data_wait_fraction"] < 1
        assert row["peak_rss_mb"] >= row["rss_at_start_mb"] > 0
        assert _finite_positive(row["compute_alone"]["after_over_before"])
    plain_rows, conditioned = report["rows"][:-1], report["rows"][-1]
    assert all(_finite_positive(row["relative_to_simclr"]) for row in plain_rows)
    assert report["rows"][0]["relative_to_simclr"] == 1.0
    drasclr = [row for row in report["rows"] if row["method"] == "drasclr"]
    assert [row["encoder"] for row in drasclr] == ["test_resunet", "test_drasclr"]
    for row in drasclr:  # vs moco with the plain encoder
        assert _finite_positive(row["relative_to_moco"]), row
    assert "relative_to_simclr" not in conditioned  # no simclr run with that encoder
    frame = report["frame"]  # drasclr's frame, built once before it trains
    assert frame["framed"] == frame["subjects"] == report["suite"]["subjects"]
    assert frame["rejected"] == 0
    assert frame["locations"] >= 3  # an anchor and its 2 neighbours
    assert _finite_positive(frame["seconds_per_volume"])
    for matcher in ("registration", "embedding"):  # alice's pairs, mined before it trains
        assert report["mining"][matcher]["pairs"] > 0
        assert _finite_positive(report["mining"][matcher]["pairs_per_s"])
    assert list(tmp_path.iterdir()) == [out]  # scratch data removed
    for method in METHODS:
        assert method in result.stdout  # the printed table


def test_gpu_suite_without_cuda_fails_clearly(tmp_path):
    out = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--suite", "gpu", "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},  # no GPU, even on a machine with one
    )
    assert result.returncode != 0
    assert "--suite gpu needs a CUDA GPU" in result.stderr
    assert not out.exists()
