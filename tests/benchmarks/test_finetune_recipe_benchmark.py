"""The few-shot recipe benchmark script must keep working; its numbers live in BENCHMARKS.md."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "finetune_recipe_benchmark.py"


def test_quick_recipe_benchmark_times_every_mode_and_the_ceiling(tmp_path):
    out = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    runs = {run["name"]: run for run in report["runs"]}
    assert [run["mode"] for run in report["runs"]] == [
        "finetune",
        "frozen",
        "frozen_deep",
        "finetune",
    ]
    assert runs["finetune fp32 (reference)"]["vs_reference"] == 1.0
    ceiling = runs["ceiling (all training volumes)"]
    assert ceiling["steps"] == 40 and ceiling["k"] == report["train_subjects"]
    assert all(run["train_s"] > 0 and 0.0 <= run["dice"] <= 1.0 for run in report["runs"])
