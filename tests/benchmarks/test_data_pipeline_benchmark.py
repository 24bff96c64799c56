"""The benchmark script must keep working; its numbers are recorded in BENCHMARKS.md, not here."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "data_pipeline_benchmark.py"
SRC = Path(__file__).parents[2] / "src"

MONAI_SETUPS = [
    "MONAI CacheDataset copy_cache=True",
    "MONAI CacheDataset copy_cache=False",
    "MONAI PersistentDataset",
]


def test_quick_benchmark_runs_and_reports_every_measurement(tmp_path):
    out = tmp_path / "report.json"
    command = [sys.executable, str(SCRIPT), "--quick", "--out", str(out), "--workdir"]
    # the same tree as its own baseline: exercises the before/after path
    command += [str(tmp_path), "--baseline-src", str(SRC)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert [row["workers"] for row in report["preprocess"]] == [1, 2]
    assert all(row["volumes_per_s"] > 0 for row in report["preprocess"])

    sampling = report["sampling"]
    ours = ["anatomy-ssl cache", "anatomy-ssl cache (baseline)"]
    assert list(sampling["setups"]) == ours + MONAI_SETUPS
    for name, setup in sampling["setups"].items():
        assert len(setup["turns"]) == sampling["rounds"] == 2
        assert setup["crops_per_s"] > 0
        assert setup["peak_rss_sampling_mb"] > 0 and setup["rss_after_build_mb"] > 0
        assert ("items_crops_per_s" in setup) == name.startswith("MONAI")
    assert sampling["setups"]["MONAI CacheDataset copy_cache=False"]["held_in_ram_mb"] > 0
    assert sampling["setups"]["MONAI PersistentDataset"]["on_disk_mb"] > 0
    assert set(sampling["ratios"]) == {
        f"anatomy-ssl cache / {name}" for name in ours[1:] + MONAI_SETUPS
    }
    assert all(ratio > 0 for ratio in sampling["ratios"].values())
    assert len(sampling["ratios_uncollated"]) == len(MONAI_SETUPS)

    batch = report["batch_path"]
    for name in ("current", "baseline"):
        assert batch[name]["augmentation_ms_per_batch"] > 0
        assert batch[name]["part_reader_ms_per_batch"] > 0
    steps = {"read_views", "augmentation", "part_reader", "part_reader_native"}
    assert set(batch["speedup"]) == steps

    big = report["big_cache"]
    assert big["cache_gb"] > 0.01
    for name in ("current", "baseline"):
        assert big[name]["peak_rss_sampling_mb"] >= big[name]["rss_after_imports_mb"] > 0
        assert len(big[name]["turns"]) == 2 and big[name]["crops_per_s"] > 0
    assert big["speedup"] > 0
    assert list(tmp_path.iterdir()) == [out]  # scratch data removed
