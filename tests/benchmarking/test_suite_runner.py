"""The smoke suite end to end (two methods to keep it short), then a resume that redoes nothing."""

import pytest

from anatomy_ssl.benchmarking.suite_config import load_suite
from anatomy_ssl.benchmarking.suite_runner import run_suite
from anatomy_ssl.evaluation.control_methods import CEILING, FLOOR
from anatomy_ssl.evaluation.evaluation_record import read_records
from anatomy_ssl.export import read_card


@pytest.mark.timeout(900)  # the whole pipeline twice: 2-4 min idle, more on a shared machine
def test_smoke_suite_runs_end_to_end_and_resumes(tmp_path):
    suite = load_suite("smoke", {"methods": ["scratch", "simclr"]})
    result = run_suite(suite, tmp_path, progress=False, echo=False)
    records = read_records(result.records)
    cells = {(r.dataset, r.method, r.protocol) for r in records}
    expected_ct = {
        "few_shot_segmentation",
        "correspondence",
        "locality",
        "compositionality",
        "patient_prediction",
    }
    for method in ("scratch", "simclr"):
        assert {p for d, m, p in cells if d == "phantom_ct" and m == method} == expected_ct
        assert {p for d, m, p in cells if d == "phantom_xray" and m == method} == {
            "few_shot_segmentation",
            "correspondence",
            "locality",
        }
    # the controls: the floor in the few-shot table, the ceiling in every table of the dataset
    assert {p for d, m, p in cells if d == "phantom_ct" and m == FLOOR} == {"few_shot_segmentation"}
    assert {p for d, m, p in cells if d == "phantom_ct" and m == CEILING} == expected_ct
    ceiling = read_card(tmp_path / "encoders" / "phantom_ct" / CEILING)
    assert ceiling["method"] == CEILING and ceiling["step"] == 4
    floor = [r for r in records if r.method == FLOOR and r.dataset == "phantom_xray"]
    assert floor and all(0.0 <= r.metrics["finetune_k1_dice"] <= 1.0 for r in floor)
    assert (tmp_path / "encoders" / "phantom_ct" / "simclr" / "encoder.safetensors").is_file()
    assert (tmp_path / "runs" / "phantom_xray" / "simclr" / "checkpoints" / "last.ckpt").is_file()
    markdown = result.report.markdown.read_text()
    assert "## Dataset: phantom_ct" in markdown and "| simclr |" in markdown
    assert f"| {FLOOR} |" in markdown and f"| {CEILING} |" in markdown
    assert "Instrument check" in markdown
    assert "http" not in result.report.html.read_text()
    stamps = {p: p.stat().st_mtime_ns for p in result.records.rglob("*.json")}
    again = run_suite(suite, tmp_path, progress=False, echo=False)
    assert {p: p.stat().st_mtime_ns for p in again.records.rglob("*.json")} == stamps
