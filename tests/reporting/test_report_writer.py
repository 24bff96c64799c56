import re

import pytest
from PIL import Image

from anatomy_ssl.errors import InputError
from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord, write_record
from anatomy_ssl.reporting import ReportPaths, write_report
from anatomy_ssl.reporting.png_figure import is_png


def test_full_report_writes_markdown_html_and_every_plot(tmp_path, benchmark_dir, runs_dir):
    out = tmp_path / "report"
    paths = write_report(benchmark_dir, out, runs_dir=runs_dir, title="Phantom benchmark")
    assert isinstance(paths, ReportPaths)
    assert paths.markdown == out / "report.md" and paths.html == out / "report.html"
    names = sorted(p.name for p in paths.plots)
    assert names == [
        "phantom-correspondence-correspondence-errors.png",
        "phantom-few_shot_segmentation-label-efficiency.png",
        "phantom-few_shot_segmentation-overlay-eden-seed0.png",
        "phantom-locality-embedding-map.png",
        "pretraining-loss.png",
    ]
    for plot in paths.plots:
        assert plot.parent == out / "plots" and is_png(plot)
        with Image.open(plot) as image:
            image.verify()

    markdown = paths.markdown.read_text()
    assert markdown.startswith("# Phantom benchmark\n")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert sorted(links) == sorted(f"plots/{p.name}" for p in paths.plots)
    assert all((out / link).is_file() for link in links)
    for heading in (
        "### Few-shot segmentation",
        "### Anatomical correspondence (zero-shot)",
        "### Locality (zero-shot)",
        "## Pretraining",
    ):
        assert heading in markdown
    # eden is best and significantly better than scratch and mae on per-volume few-shot Dice
    eden_row = next(line for line in markdown.splitlines() if line.startswith("| eden |"))
    assert "**" in eden_row and "▲△" in eden_row
    # what every table shares is said once, before the tables; each table gets its verdict
    assert markdown.count("Mean ± half-width") == 1
    assert markdown.index("How to read the tables") < markdown.index("### Few-shot segmentation")
    assert "> Verdict: fine-tune k=1 Dice: the best pretrained encoder, eden, is significantly" in (
        markdown
    )
    # 120 logged steps: every panel has its moving average, and the caption says so
    assert "solid: moving average)" in markdown

    html = paths.html.read_text()
    # ":" is not a base64 character, so no URL can hide in the embedded images either
    assert "http:" not in html
    assert "https:" not in html
    assert "<link" not in html and "<script" not in html and "url(" not in html
    sources = re.findall(r'src="([^"]*)"', html)
    assert len(sources) == len(paths.plots)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<style>" in html
    assert html.count("Mean ± half-width") == 1 and "Verdict: " in html


def test_plots_without_inputs_are_skipped(tmp_path):
    record = EvaluationRecord("eden", "d", "patient_prediction", 0, {"severity_auc": 0.8})
    write_record(record, tmp_path / "records")
    paths = write_report(tmp_path / "records", tmp_path / "out", runs_dir=tmp_path / "no-runs")
    assert paths.plots == []
    assert "severity AUC ↑" in paths.markdown.read_text()
    assert "<img" not in paths.html.read_text()


def test_empty_or_missing_records_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no evaluation records found"):
        write_report(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(InputError, match="does not exist"):
        write_report(tmp_path / "missing", tmp_path / "out")
    assert not (tmp_path / "out").exists()
