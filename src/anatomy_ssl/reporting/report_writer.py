"""Write a benchmark report: records (+ pretraining runs) -> Markdown, HTML and PNG plots.

Layout of `out_dir`::

    report.md      GitHub-flavoured Markdown, images linked as plots/<name>.png
    report.html    one self-contained page (inline CSS, images as data URIs)
    plots/         every PNG the report shows

A plot whose inputs are missing (no few-shot metrics, no `samples["error_mm"]`, no
`details["embedding_map"]`, no run folders) is simply left out.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from anatomy_ssl import __version__
from anatomy_ssl.errors import InputError
from anatomy_ssl.evaluation.bootstrap_interval import DEFAULT_RESAMPLES
from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord, read_records
from anatomy_ssl.reporting.correspondence_error_plot import plot_correspondence_errors
from anatomy_ssl.reporting.embedding_map_plot import plot_embedding_maps
from anatomy_ssl.reporting.headline_metrics import protocol_title
from anatomy_ssl.reporting.html_report import render_html
from anatomy_ssl.reporting.label_efficiency_plot import plot_label_efficiency
from anatomy_ssl.reporting.loss_curve_plot import loss_caption, plot_loss_curves
from anatomy_ssl.reporting.loss_history import read_loss_histories
from anatomy_ssl.reporting.markdown_report import render_markdown
from anatomy_ssl.reporting.method_order import method_colors, ordered_methods
from anatomy_ssl.reporting.report_content import (
    ProtocolSection,
    ReportContent,
    ReportFigure,
    shared_legend_lines,
    slug,
)
from anatomy_ssl.reporting.segmentation_overlays import collect_overlays
from anatomy_ssl.reporting.summary_table import SummaryTable, build_summary_tables

MARKDOWN_FILE = "report.md"
HTML_FILE = "report.html"
PLOTS_FOLDER = "plots"
DEFAULT_TITLE = "anatomy-ssl benchmark report"


@dataclass(frozen=True)
class ReportPaths:
    """What `write_report` wrote.

    Attributes:
        markdown: the Markdown report.
        html: the self-contained HTML report.
        plots: every PNG under `plots/` that the report shows, in report order.
    """

    markdown: Path
    html: Path
    plots: list[Path]


def write_report(
    records_dir: str | Path,
    out_dir: str | Path,
    *,
    runs_dir: str | Path | None = None,
    title: str = DEFAULT_TITLE,
    command: str | None = None,
    confidence: float = 0.95,
    num_resamples: int = DEFAULT_RESAMPLES,
) -> ReportPaths:
    """Build the Markdown and HTML reports of every evaluation record below `records_dir`.

    Args:
        records_dir: folder of records (`<dataset>/<method>/<protocol>-seed<k>.json`).
        out_dir: where `report.md`, `report.html` and `plots/` go (created when missing).
        runs_dir: a pretraining run folder, or a folder of them, for loss curves.
        title: the report's title.
        command: the command that produced the results, quoted in the report.
        confidence: coverage of the bootstrap intervals.
        num_resamples: bootstrap resamples per interval and comparison.

    Returns:
        The paths written.

    Raises:
        InputError: `records_dir` is not a folder or holds no record, or a record is malformed.
    """
    records_path = Path(records_dir)
    if not records_path.is_dir():
        raise InputError(records_path, "records folder does not exist")
    records = read_records(records_path)
    if not records:
        raise InputError(
            records_path,
            "no evaluation records found (expected <dataset>/<method>/<protocol>-seed<k>.json); "
            "run `anatomy-ssl evaluate` or `anatomy-ssl benchmark` first",
        )
    out = Path(out_dir)
    plots_dir = out / PLOTS_FOLDER
    plots_dir.mkdir(parents=True, exist_ok=True)
    methods = ordered_methods(r.method for r in records)
    colors = method_colors(methods)

    groups: dict[tuple[str, str], list[EvaluationRecord]] = defaultdict(list)
    for record in records:
        groups[(record.dataset, record.protocol)].append(record)
    sections = []
    for table in build_summary_tables(records, confidence=confidence, num_resamples=num_resamples):
        group = groups[(table.dataset, table.protocol)]
        sections.append(
            ProtocolSection(
                dataset=table.dataset,
                protocol=table.protocol,
                title=protocol_title(table.protocol),
                table=table,
                figures=tuple(_protocol_figures(table, group, plots_dir, colors, confidence)),
                overlays=tuple(collect_overlays(group, records_path, plots_dir)),
                settings=_settings(group),
            )
        )
    loss_figure = None
    if runs_dir is not None:
        histories = read_loss_histories(Path(runs_dir))
        loss_path = plot_loss_curves(histories, plots_dir / "pretraining-loss.png", colors=colors)
        if loss_path is not None:
            loss_figure = ReportFigure(
                loss_path, "pretraining loss curves", loss_caption(histories)
            )

    content = ReportContent(
        title=title,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        command=command,
        record_count=len(records),
        datasets=tuple(sorted({r.dataset for r in records})),
        methods=tuple(methods),
        sections=tuple(sections),
        loss_figure=loss_figure,
        shared_legend=shared_legend_lines(sections),
    )
    markdown = _write_text(out / MARKDOWN_FILE, render_markdown(content, out))
    html = _write_text(out / HTML_FILE, render_html(content))
    plots = [f.path for s in sections for f in (*s.figures, *s.overlays)]
    if loss_figure is not None:
        plots.append(loss_figure.path)
    return ReportPaths(markdown=markdown, html=html, plots=plots)


def _protocol_figures(
    table: SummaryTable,
    records: Sequence[EvaluationRecord],
    plots_dir: Path,
    colors: dict[str, str],
    confidence: float,
) -> list[ReportFigure]:
    stem = f"{slug(table.dataset)}-{slug(table.protocol)}"
    where = f"{table.dataset}, {protocol_title(table.protocol).lower()}"
    figures = []
    path = plot_label_efficiency(
        records,
        plots_dir / f"{stem}-label-efficiency.png",
        title=f"Label efficiency — {table.dataset}",
        colors=colors,
        confidence=confidence,
    )
    if path is not None:
        figures.append(
            ReportFigure(
                path,
                f"label-efficiency curves, {where}",
                f"Dice against the number of labeled training volumes k; bands: "
                f"{confidence:.0%} bootstrap interval.",
            )
        )
    path = plot_correspondence_errors(
        records,
        plots_dir / f"{stem}-correspondence-errors.png",
        title=f"Correspondence error — {table.dataset}",
        colors=colors,
    )
    if path is not None:
        figures.append(
            ReportFigure(
                path,
                f"correspondence error distributions, {where}",
                "Fraction of landmarks matched within a given error (empirical CDF, pooled "
                "over seeds); higher and further left is better.",
            )
        )
    path = plot_embedding_maps(
        records,
        plots_dir / f"{stem}-embedding-map.png",
        title=f"Landmark-patch embeddings — {table.dataset}",
    )
    if path is not None:
        figures.append(
            ReportFigure(
                path,
                f"embedding maps of landmark patches, {where}",
                "2D map of landmark-patch embeddings, one panel per method, coloured by "
                "landmark; separate clusters mean landmarks are told apart across subjects.",
            )
        )
    return figures


def _settings(records: Sequence[EvaluationRecord]) -> tuple[tuple[str, str], ...]:
    """The protocol settings: one line when every method used the same, else one per method."""
    by_text: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if record.settings:
            text = _settings_text(record.settings)
            if record.method not in by_text[text]:
                by_text[text].append(record.method)
    if len(by_text) == 1:
        return (("all methods", next(iter(by_text))),)
    return tuple(
        (", ".join(ordered_methods(methods)), text)
        for text, methods in sorted(by_text.items(), key=lambda item: sorted(item[1]))
    )


def _settings_text(settings: dict[str, Any]) -> str:
    """`key=value; ...` without the seed list: the table's Seeds column counts the seeds, and a
    grid grown by more seeds keeps its earlier records."""
    parts = [
        f"{key}={json.dumps(value, sort_keys=True, separators=(',', ':'))}"
        for key, value in sorted(settings.items())
        if key != "seeds"
    ]
    return "; ".join(parts).replace("`", "'")


def _write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(text, encoding="utf-8")
    staging.replace(path)
    return path
