"""The benchmark script must keep working; its numbers are recorded in BENCHMARKS.md, not here."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "pruner_benchmark.py"


def test_quick_benchmark_runs_and_reports_loss_and_step_timings(tmp_path):
    out = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert [row["queue_size"] for row in report["loss"]] == [64, 256]
    for row in report["loss"]:
        assert row["loop_over_vectorized"] == row["per_sample_loop_s"] / row["vectorized_s"]
    step = report["step"]
    assert step["pruner_on_step_s"] > 0 and step["pruner_off_step_s"] > 0
    assert step["overhead"] == step["pruner_on_step_s"] / step["pruner_off_step_s"] - 1
