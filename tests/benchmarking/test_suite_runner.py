"""The smoke suite end to end (two methods to keep it short), then a resume that redoes nothing."""

from anatomy_ssl.benchmarking.suite_config import load_suite
from anatomy_ssl.benchmarking.suite_runner import run_suite
from anatomy_ssl.evaluation.evaluation_record import read_records


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
    assert (tmp_path / "encoders" / "phantom_ct" / "simclr" / "encoder.safetensors").is_file()
    assert (tmp_path / "runs" / "phantom_xray" / "simclr" / "checkpoints" / "last.ckpt").is_file()
    markdown = result.report.markdown.read_text()
    assert "## Dataset: phantom_ct" in markdown and "| simclr |" in markdown
    assert "http" not in result.report.html.read_text()
    stamps = {p: p.stat().st_mtime_ns for p in result.records.rglob("*.json")}
    again = run_suite(suite, tmp_path, progress=False, echo=False)
    assert {p: p.stat().st_mtime_ns for p in again.records.rglob("*.json")} == stamps
