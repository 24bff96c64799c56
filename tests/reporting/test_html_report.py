import base64

from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.reporting.html_report import png_data_uri, render_html, render_table
from anatomy_ssl.reporting.png_figure import PNG_SIGNATURE
from anatomy_ssl.reporting.report_content import ProtocolSection, ReportContent, ReportFigure
from anatomy_ssl.reporting.summary_table import build_summary_table


def _table():
    records = [
        EvaluationRecord("<scratch>", "d", "locality", 0, {"knn_accuracy": 0.5}),
        EvaluationRecord("eden", "d", "locality", 0, {"knn_accuracy": 0.9}),
    ]
    return build_summary_table(records)


def test_table_escapes_names_and_bolds_the_best():
    html = render_table(_table())
    assert "<td>&lt;scratch&gt;</td>" in html
    assert '<td class="num"><strong>0.900</strong></td>' in html
    assert "kNN accuracy ↑" in html


def test_page_embeds_images_and_escapes_text(tmp_path, overlay_writer):
    png = overlay_writer(tmp_path / "plots" / "x.png")
    section = ProtocolSection(
        "d", "locality", "Locality", _table(), figures=(ReportFigure(png, 'a "map"', "c & d"),)
    )
    content = ReportContent(
        "T <1>", "2024-01-01 00:00 UTC", "0.1.0", None, 2, ("d",), ("eden",), (section,)
    )
    html = render_html(content)
    assert "<title>T &lt;1&gt;</title>" in html
    uri = png_data_uri(png)
    assert f'<img src="{uri}" alt="a &quot;map&quot;">' in html
    assert base64.b64decode(uri.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    assert "<figcaption>c &amp; d</figcaption>" in html
    assert 'href="#sec-d--locality"' in html and 'id="sec-d--locality"' in html
