"""Render a `ReportContent` as GitHub-flavoured Markdown, images linked relatively into plots/."""

from __future__ import annotations

import re
from pathlib import Path

from anatomy_ssl.reporting.metric_direction import direction_arrow
from anatomy_ssl.reporting.metric_display import metric_label
from anatomy_ssl.reporting.report_content import ProtocolSection, ReportContent, ReportFigure
from anatomy_ssl.reporting.summary_table import SummaryTable

# `<` only where it could open an HTML tag and `_` only at a word edge (GitHub never reads an
# intra-word `atlas_mri` as emphasis); `#` and `>` only matter at a line start, which every
# escaped text here follows
_SPECIAL = re.compile(r"([\\`*\[\]|]|<(?=[A-Za-z/!?])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def md_escape(text: str) -> str:
    """`text` with Markdown's special characters backslash-escaped."""
    return _SPECIAL.sub(r"\\\1", text)


def render_markdown(content: ReportContent, report_dir: Path) -> str:
    """The report as Markdown; image links are relative to `report_dir` (where it is saved)."""
    lines = [f"# {md_escape(content.title)}", "", _overview(content), ""]
    if content.command:
        lines += ["Produced by:", "", "```", content.command, "```", ""]
    if content.shared_legend:
        lines += ["**How to read the tables.**", ""]
        for line in content.shared_legend:
            lines += [f"> {md_escape(line)}", ">"]
        lines[-1] = ""
    for dataset in content.datasets:
        lines += [f"## Dataset: {md_escape(dataset)}", ""]
        for section in content.sections:
            if section.dataset == dataset:
                lines += _section(section, content.section_notes(section), report_dir)
    if content.loss_figure is not None:
        lines += ["## Pretraining", "", *_figure(content.loss_figure, report_dir)]
    return "\n".join(lines).rstrip() + "\n"


def render_table(table: SummaryTable) -> list[str]:
    """The table as Markdown lines (header, alignment row, one row per method)."""
    header = ["Method", "Seeds"] + [
        f"{metric_label(m)} {direction_arrow(m)}" for m in table.metrics
    ]
    lines = [
        "| " + " | ".join(md_escape(h) for h in header) + " |",
        "|:--|--:|" + "--:|" * len(table.metrics),
    ]
    for row in table.rows:
        cells = [md_escape(row.method), str(len(row.seeds))]
        for metric in table.metrics:
            cell = row.cells[metric]
            text = cell.value_text()
            if cell.is_best:
                text = f"**{text}**"
            marks = cell.markers()
            cells.append(f"{text} {marks}" if marks else text)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _overview(content: ReportContent) -> str:
    protocols = list(dict.fromkeys(s.title for s in content.sections))  # benchmark order
    return (
        f"Generated {content.generated} by anatomy-ssl {md_escape(content.version)} from "
        f"{content.record_count} evaluation records. "
        f"Datasets: {', '.join(md_escape(d) for d in content.datasets)}. "
        f"Methods: {', '.join(md_escape(m) for m in content.methods)}. "
        f"Protocols: {', '.join(md_escape(p) for p in protocols)}."
    )


def _section(section: ProtocolSection, notes: list[str], report_dir: Path) -> list[str]:
    lines = [f"### {md_escape(section.title)}", "", *render_table(section.table), ""]
    for line in notes:
        lines += [f"> {md_escape(line)}", ">"]
    lines[-1] = ""
    for figure in section.figures:
        lines += _figure(figure, report_dir)
    if section.overlays:
        lines += ["#### Segmentation overlays", ""]
        for figure in section.overlays:
            lines += _figure(figure, report_dir)
    if section.settings:
        lines += ["<details><summary>Settings</summary>", ""]
        lines += [f"- {md_escape(who)}: `{text}`" for who, text in section.settings]
        lines += ["", "</details>", ""]
    return lines


def _figure(figure: ReportFigure, report_dir: Path) -> list[str]:
    link = figure.path.relative_to(report_dir).as_posix()
    return [f"![{md_escape(figure.alt)}]({link})", "", f"*{md_escape(figure.caption)}*", ""]
