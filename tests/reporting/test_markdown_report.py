import re
from pathlib import Path

from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.reporting.markdown_report import md_escape, render_markdown, render_table
from anatomy_ssl.reporting.report_content import ProtocolSection, ReportContent, ReportFigure
from anatomy_ssl.reporting.summary_table import build_summary_table


def _table():
    records = [
        EvaluationRecord("scratch", "d", "correspondence", 0, {"median_error_mm": 9.04}),
        EvaluationRecord("a|b", "d", "correspondence", 0, {"median_error_mm": 4.0}),
    ]
    return build_summary_table(records)


def test_table_has_header_alignment_and_bold_best_with_escaped_names():
    lines = render_table(_table())
    assert lines[0] == "| Method | Seeds | median error (mm) ↓ |"
    assert lines[1] == "|:--|--:|--:|"
    assert lines[2] == "| scratch | 1 | 9.0 |"
    assert lines[3] == "| a\\|b | 1 | **4.0** |"


def test_report_links_images_relatively_and_quotes_the_legend(tmp_path):
    figure = ReportFigure(tmp_path / "plots" / "x.png", "alt text", "a caption")
    section = ProtocolSection(
        "d",
        "correspondence",
        "Anatomical correspondence",
        _table(),
        figures=(figure,),
        settings=(("all methods", "radius_mm=10"),),
    )
    content = ReportContent(
        "My *report*",
        "2024-01-01 00:00 UTC",
        "0.1.0",
        "anatomy-ssl benchmark x",
        2,
        ("d",),
        ("scratch", "a|b"),
        (section,),
    )
    text = render_markdown(content, tmp_path)
    assert text.startswith("# My \\*report\\*\n")
    assert "![alt text](plots/x.png)" in text and "*a caption*" in text
    assert "## Dataset: d" in text and "### Anatomical correspondence" in text
    assert re.search(r"^> Mean ± half-width", text, re.MULTILINE)
    assert "```\nanatomy-ssl benchmark x\n```" in text
    assert "- all methods: `radius_mm=10`" in text
    assert str(Path(tmp_path)) not in text  # no absolute paths


def test_md_escape_keeps_comparisons_readable():
    assert md_escape("p < 0.05") == "p < 0.05"
    assert md_escape("<b>_x_|") == "\\<b>\\_x\\_\\|"
    assert md_escape("atlas_mri") == "atlas_mri"  # intra-word: never emphasis on GitHub
