"""The conditional-convolution benchmark must keep working; its numbers live in BENCHMARKS.md."""

import json
import math
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "conditional_convolution_benchmark.py"


def test_quick_run_times_the_batched_layer_against_a_loop(tmp_path):
    out = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert len(report["timings"]) == 2
    for row in report["timings"]:
        for key in ("batched_ms", "per_sample_loop_ms", "plain_ms", "speedup_batched_over_loop"):
            assert math.isfinite(row[key]) and row[key] > 0, row
        assert row["name"] in result.stdout
