"""Render a `ReportContent` as one self-contained HTML page.

Images are embedded as base64 `data:` URIs and the style sheet is inline, so the file can be
mailed or archived alone and names no external resource. All text goes through `html.escape`.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from anatomy_ssl.reporting.metric_direction import direction_arrow
from anatomy_ssl.reporting.metric_display import metric_label
from anatomy_ssl.reporting.report_content import (
    ProtocolSection,
    ReportContent,
    ReportFigure,
    slug,
)
from anatomy_ssl.reporting.summary_table import SummaryTable

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       max-width: 1200px; margin: 2em auto; padding: 0 1.5em; line-height: 1.45; }
h1 { border-bottom: 1px solid #d0d7de; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 2em; }
nav { font-size: .95em; }
.overview { color: #57606a; }
table { border-collapse: collapse; margin: 1em 0 .4em; font-size: .93em; }
th, td { border: 1px solid #d0d7de; padding: .35em .7em; }
th { background: #f6f8fa; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafbfc; }
.marks { color: #0969da; margin-left: .25em; }
.legend { font-size: .85em; color: #57606a; margin: 0 0 1.2em; max-width: 70em; }
.legend p { margin: .2em 0; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { font-size: .88em; color: #57606a; }
.overlays { display: flex; flex-wrap: wrap; gap: 1em; }
.overlays figure { margin: 0; max-width: 360px; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; font-size: .85em; }
details { margin: .6em 0 1.4em; }
"""


def render_html(content: ReportContent) -> str:
    """The whole report as one HTML document (PNG files are read and embedded)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(content.title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(content.title)}</h1>",
        f'<p class="overview">{_overview(content)}</p>',
    ]
    if content.command:
        parts.append(f"<p>Produced by:</p><pre>{escape(content.command)}</pre>")
    parts.append(_contents(content))
    if content.shared_legend:
        parts.append(
            '<div class="legend"><p><strong>How to read the tables.</strong></p>'
            + "".join(f"<p>{escape(line)}</p>" for line in content.shared_legend)
            + "</div>"
        )
    for dataset in content.datasets:
        parts.append(f'<h2 id="{_anchor(dataset)}">Dataset: {escape(dataset)}</h2>')
        parts += [
            _section(s, content.section_notes(s)) for s in content.sections if s.dataset == dataset
        ]
    if content.loss_figure is not None:
        parts += ['<h2 id="pretraining">Pretraining</h2>', _figure(content.loss_figure)]
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def render_table(table: SummaryTable) -> str:
    """The table as an HTML `<table>` element."""
    header = "".join(
        f"<th>{escape(metric_label(m))} {direction_arrow(m)}</th>" for m in table.metrics
    )
    rows = []
    for row in table.rows:
        cells = [f"<td>{escape(row.method)}</td>", f'<td class="num">{len(row.seeds)}</td>']
        for metric in table.metrics:
            cell = row.cells[metric]
            text = escape(cell.value_text())
            if cell.is_best:
                text = f"<strong>{text}</strong>"
            if marks := cell.markers():
                text += f'<span class="marks">{escape(marks)}</span>'
            cells.append(f'<td class="num">{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<table>\n<thead><tr><th>Method</th><th>Seeds</th>{header}</tr></thead>\n"
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def png_data_uri(path: Path) -> str:
    """`data:image/png;base64,...` of the PNG file at `path`."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _overview(content: ReportContent) -> str:
    protocols = list(dict.fromkeys(s.title for s in content.sections))  # benchmark order
    return escape(
        f"Generated {content.generated} by anatomy-ssl {content.version} from "
        f"{content.record_count} evaluation records. "
        f"Datasets: {', '.join(content.datasets)}. Methods: {', '.join(content.methods)}. "
        f"Protocols: {', '.join(protocols)}."
    )


def _contents(content: ReportContent) -> str:
    items = []
    for dataset in content.datasets:
        inner = "".join(
            f'<li><a href="#{_anchor(s.dataset, s.protocol)}">{escape(s.title)}</a></li>'
            for s in content.sections
            if s.dataset == dataset
        )
        items.append(
            f'<li><a href="#{_anchor(dataset)}">{escape(dataset)}</a><ul>{inner}</ul></li>'
        )
    if content.loss_figure is not None:
        items.append('<li><a href="#pretraining">Pretraining</a></li>')
    return "<nav><ul>" + "".join(items) + "</ul></nav>"


def _section(section: ProtocolSection, notes: list[str]) -> str:
    parts = [
        f'<h3 id="{_anchor(section.dataset, section.protocol)}">{escape(section.title)}</h3>',
        render_table(section.table),
        '<div class="legend">' + "".join(f"<p>{escape(line)}</p>" for line in notes) + "</div>",
    ]
    parts += [_figure(f) for f in section.figures]
    if section.overlays:
        parts.append("<h4>Segmentation overlays</h4>")
        parts.append(
            '<div class="overlays">' + "".join(_figure(f) for f in section.overlays) + "</div>"
        )
    if section.settings:
        listing = "\n".join(f"{who}: {text}" for who, text in section.settings)
        parts.append(f"<details><summary>Settings</summary><pre>{escape(listing)}</pre></details>")
    return "\n".join(parts)


def _figure(figure: ReportFigure) -> str:
    return (
        f'<figure><img src="{png_data_uri(figure.path)}" alt="{escape(figure.alt)}">'
        f"<figcaption>{escape(figure.caption)}</figcaption></figure>"
    )


def _anchor(*parts: str) -> str:
    return "sec-" + "--".join(slug(p) for p in parts)
