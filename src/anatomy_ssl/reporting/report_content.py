"""What a report says, independent of how it is written (Markdown or HTML).

The writer gathers tables and plots into a `ReportContent`; `markdown_report` and `html_report`
render the same content, so both reports always agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from anatomy_ssl.reporting.pretraining_verdict import pretraining_verdicts
from anatomy_ssl.reporting.summary_table import SummaryTable


@dataclass(frozen=True)
class ReportFigure:
    """A PNG under the report's `plots/` folder.

    Attributes:
        path: the PNG file.
        alt: short alternative text.
        caption: one or two sentences on how to read it.
    """

    path: Path
    alt: str
    caption: str


@dataclass(frozen=True)
class ProtocolSection:
    """One (dataset, protocol): its table, plots, segmentation overlays and settings.

    Attributes:
        dataset: dataset name.
        protocol: protocol name.
        title: section heading.
        table: the summary table.
        figures: plots of this protocol.
        overlays: segmentation overlays written by the evaluation.
        settings: (who, "key=value; ...") lines: the protocol arguments, shared or per method.
    """

    dataset: str
    protocol: str
    title: str
    table: SummaryTable
    figures: tuple[ReportFigure, ...] = ()
    overlays: tuple[ReportFigure, ...] = ()
    settings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ReportContent:
    """The whole report.

    Attributes:
        title: report title.
        generated: "YYYY-MM-DD HH:MM UTC" the report was written.
        version: anatomy-ssl version.
        command: the command that produced the results, when given.
        record_count: number of records read.
        datasets: dataset names, A-Z.
        methods: method names in report order.
        sections: one per (dataset, protocol).
        loss_figure: the pretraining loss curves, when run folders were given and had logs.
        shared_legend: legend lines every table shares, written once before the tables.
    """

    title: str
    generated: str
    version: str
    command: str | None
    record_count: int
    datasets: tuple[str, ...]
    methods: tuple[str, ...]
    sections: tuple[ProtocolSection, ...]
    loss_figure: ReportFigure | None = None
    shared_legend: tuple[str, ...] = ()

    def section_notes(self, section: ProtocolSection) -> list[str]:
        """What is written under a section's table: its verdict lines first, then the legend
        lines that are not in `shared_legend`."""
        verdicts = [f"Verdict: {line}" for line in pretraining_verdicts(section.table)]
        own = [line for line in section.table.legend() if line not in self.shared_legend]
        return verdicts + own


def shared_legend_lines(sections: Sequence[ProtocolSection]) -> tuple[str, ...]:
    """The legend lines that every one of two or more sections' tables has (in order)."""
    if len(sections) < 2:
        return ()
    legends = [section.table.legend() for section in sections]
    return tuple(line for line in legends[0] if all(line in other for other in legends[1:]))


def slug(text: str) -> str:
    """A file-name- and anchor-safe form of `text` (letters, digits, `.`, `_`, `-`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"
