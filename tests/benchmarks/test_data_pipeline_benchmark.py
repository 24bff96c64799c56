"""The benchmark script must keep working; its numbers are recorded in BENCHMARKS.md, not here."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "data_pipeline_benchmark.py"


def test_quick_benchmark_runs_and_reports_every_measurement(tmp_path):
    out = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out), "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert [row["workers"] for row in report["preprocess"]] == [1, 2]
    assert all(row["volumes_per_s"] > 0 for row in report["preprocess"])
    assert [row["crop"] for row in report["sampling"]] == [16, 24]
    for row in report["sampling"]:
        assert row["speedup"] == row["cache"]["crops_per_s"] / row["monai"]["crops_per_s"]
    assert report["big_cache"]["peak_rss_mb"] >= report["big_cache"]["rss_before_mb"] > 0
    assert list(tmp_path.iterdir()) == [out]  # scratch data removed
