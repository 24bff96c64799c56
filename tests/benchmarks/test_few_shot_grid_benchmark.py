"""The few-shot grid benchmark script must keep working; its numbers live in BENCHMARKS.md."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "few_shot_grid_benchmark.py"


def test_quick_grid_benchmark_times_three_schedules_of_one_grid(tmp_path):
    out = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    setups = report["setups"]
    assert [setup["workers"] for setup in setups] == [1, 1, 2]
    assert setups[0]["vs_reference"] == 1.0
    assert all(setup["runs"] == 4 and setup["wall_s"] > 0 for setup in setups)
    assert report["same_threads_dice_difference"] < 1e-6  # one grid, however it is scheduled
