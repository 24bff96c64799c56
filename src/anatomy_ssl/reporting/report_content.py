"""What a report says, independent of how it is written (Markdown or HTML).

The writer gathers tables and plots into a `ReportContent`; `markdown_report` and `html_report`
render the same content, so both reports always agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

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


def slug(text: str) -> str:
    """A file-name- and anchor-safe form of `text` (letters, digits, `.`, `_`, `-`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"
