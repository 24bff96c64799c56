"""Read a pretraining run's training loss from its CSV logs, resumed pieces joined.

A run folder holds `logs/csv/metrics.csv` (one row per logged step of the whole run; a resumed
run appends to it) and `summary.json` (with the `method`). Runs made by earlier versions renamed
the previous log to `metrics-until-step-<k>.csv` on resume, so their history can lie in several
files, and a resumed piece repeats the steps between the last checkpoint and the interruption.
Pieces are read oldest first (ordered by their first step, `metrics.csv` last) and a later
piece's value of a step replaces an earlier one."""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anatomy_ssl.reporting.method_order import method_sort_key

LOSS_COLUMNS: tuple[str, ...] = ("train/loss", "train/loss_step")
CSV_FOLDER = Path("logs") / "csv"
SUMMARY_FILE = "summary.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LossHistory:
    """The loss of one run.

    Attributes:
        label: what to call the run in a legend (its method, plus the folder when needed).
        method: the method from `summary.json` (None when unknown).
        run_dir: the run folder.
        steps: `(n,)` optimizer steps, increasing.
        loss: `(n,)` training loss at those steps.
    """

    label: str
    method: str | None
    run_dir: Path
    steps: np.ndarray
    loss: np.ndarray


def find_runs(runs_dir: Path) -> list[Path]:
    """Run folders at or below `runs_dir` (those with `logs/csv/metrics*.csv`), sorted."""
    if not runs_dir.is_dir():
        return []
    candidates = {runs_dir} | {p.parent.parent.parent for p in runs_dir.rglob("metrics*.csv")}
    return sorted(run for run in candidates if _csv_pieces(run))


def read_loss_history(run_dir: Path) -> LossHistory | None:
    """The loss curve of one run; None when its logs hold no loss value."""
    values: dict[int, float] = {}
    for piece in _ordered_pieces(_csv_pieces(run_dir)):
        values.update(piece)
    if not values:
        return None
    steps = np.asarray(sorted(values), dtype=np.int64)  # (n,)
    loss = np.asarray([values[int(s)] for s in steps], dtype=np.float64)  # (n,)
    method = _summary_method(run_dir)
    return LossHistory(method or run_dir.name, method, run_dir, steps, loss)


def read_loss_histories(runs_dir: Path) -> list[LossHistory]:
    """Every run's loss below `runs_dir` in report order of their methods, labelled by method
    (the folder name is added when two runs share a method)."""
    histories = [h for run in find_runs(runs_dir) if (h := read_loss_history(run)) is not None]
    histories.sort(key=lambda h: (method_sort_key(h.method or h.label), h.label, str(h.run_dir)))
    labels = [h.label for h in histories]
    return [
        LossHistory(
            f"{h.label} ({_relative_name(h.run_dir, runs_dir)})"
            if labels.count(h.label) > 1
            else h.label,
            h.method,
            h.run_dir,
            h.steps,
            h.loss,
        )
        for h in histories
    ]


def _csv_pieces(run_dir: Path) -> list[Path]:
    folder = run_dir / CSV_FOLDER
    return sorted(folder.glob("metrics*.csv")) if folder.is_dir() else []


def _ordered_pieces(paths: Iterable[Path]) -> list[dict[int, float]]:
    """Each piece as step -> loss, oldest piece first."""
    pieces = []
    for path in paths:
        piece = _read_piece(path)
        if piece:
            # the live `metrics.csv` is newest; a resumed piece starts after the earlier ones
            pieces.append((path.name == "metrics.csv", min(piece), piece))
    return [piece for *_, piece in sorted(pieces, key=lambda p: (p[0], p[1]))]


def _read_piece(path: Path) -> dict[int, float]:
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            fields = reader.fieldnames or []
            column = next((c for c in LOSS_COLUMNS if c in fields), None)
            if "step" not in fields or column is None:
                return {}
            values: dict[int, float] = {}
            for row in reader:
                step, loss = row.get("step") or "", row.get(column) or ""
                if not step or not loss:
                    continue
                value = float(loss)
                if math.isfinite(value):
                    values[int(float(step))] = value
            return values
    except (OSError, ValueError, csv.Error) as error:
        log.warning("%s: unreadable metrics log (%s); skipped", path, error)
        return {}


def _summary_method(run_dir: Path) -> str | None:
    path = run_dir / SUMMARY_FILE
    try:
        method = json.loads(path.read_text()).get("method")
    except (OSError, ValueError, AttributeError):
        return None
    return str(method) if method else None


def _relative_name(run_dir: Path, runs_dir: Path) -> str:
    try:
        name = run_dir.relative_to(runs_dir).as_posix()
    except ValueError:
        name = run_dir.name
    return name if name not in ("", ".") else run_dir.name
