"""The phantom benchmark script must keep working; its numbers live in BENCHMARKS.md."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "phantom_benchmark.py"


def test_quick_phantom_benchmark_reports_every_measurement(tmp_path):
    out = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["preset"] == "small"
    single = report["ct_single_process"]
    assert single["size_vox"] == [48, 48, 80]
    assert single["render_volumes_per_s"] >= single["render_and_write_volumes_per_s"] > 0
    assert report["drr_per_s"] > 0 and report["atlas_mri_per_s"] > 0
    assert report["ct_set_2_workers"]["subjects"] == 4
    assert report["ct_set_2_workers"]["seconds"] > 0
