"""Segmentation overlays that the evaluation wrote, copied into the report's `plots/` folder.

A record may name PNGs in `details["overlay_png"]` (one path or a list). A relative path is
looked up beside the record file, then in the records folder, then in the working directory.
One record per method is shown (its lowest seed with a readable PNG), so a report stays short
however many seeds ran.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.reporting.method_order import ordered_methods
from anatomy_ssl.reporting.png_figure import is_png
from anatomy_ssl.reporting.report_content import ReportFigure, slug

OVERLAY_PNG = "overlay_png"

log = logging.getLogger(__name__)


def overlay_sources(record: EvaluationRecord, records_dir: Path) -> list[Path]:
    """The existing PNG files `record` names in `details["overlay_png"]`."""
    raw = record.details.get(OVERLAY_PNG)
    names = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    found = []
    for name in names:
        if not isinstance(name, str) or not name:
            continue
        path = _resolve(Path(name), records_dir / record.relative_path().parent, records_dir)
        if path is None:
            log.warning(
                "%s: overlay %s not found or not a PNG; skipped",
                records_dir / record.relative_path(),
                name,
            )
        else:
            found.append(path)
    return found


def collect_overlays(
    records: Sequence[EvaluationRecord], records_dir: Path, plots_dir: Path
) -> list[ReportFigure]:
    """Copy each method's overlays into `plots_dir`; the figures to show, in report order."""
    chosen: dict[str, tuple[EvaluationRecord, list[Path]]] = {}
    for record in sorted(records, key=lambda r: r.seed):
        if record.method not in chosen and (sources := overlay_sources(record, records_dir)):
            chosen[record.method] = (record, sources)
    figures = []
    for method in ordered_methods(chosen):
        record, sources = chosen[method]
        for index, source in enumerate(sources):
            suffix = f"-{index}" if len(sources) > 1 else ""
            name = "-".join(
                slug(part) for part in (record.dataset, record.protocol, "overlay", method)
            )
            target = plots_dir / f"{name}-seed{record.seed}{suffix}.png"
            plots_dir.mkdir(parents=True, exist_ok=True)
            if source.resolve() != target.resolve():
                shutil.copyfile(source, target)
            figures.append(
                ReportFigure(
                    path=target,
                    alt=f"segmentation overlay, {method}",
                    caption=f"{method}, seed {record.seed}",
                )
            )
    return figures


def _resolve(name: Path, record_folder: Path, records_dir: Path) -> Path | None:
    candidates = [name] if name.is_absolute() else [record_folder / name, records_dir / name, name]
    return next((path for path in candidates if path.is_file() and is_png(path)), None)
