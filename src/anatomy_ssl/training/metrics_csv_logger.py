"""A run's `logs/csv/metrics.csv`: every logged step of the run in one file, resumes included."""

from __future__ import annotations

import csv
from argparse import Namespace
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

METRICS_FILE = "metrics.csv"


class MetricsCsvLogger(Logger):
    """Writes each logged step as a row of `<folder>/metrics.csv`: a `step` column, then one
    column per metric name (sorted), empty where that step did not log the metric. Rows are
    written as they are logged, so a killed run keeps every row up to the kill.

    A run resumed from a checkpoint at `start_step` continues the file: the rows of the steps
    before `start_step` are kept, those from `start_step` on (logged after that checkpoint by
    an interrupted run, and now trained again) are replaced by the new ones. Lightning's
    CSVLogger would instead warn that previous logs are deleted and, depending on its version,
    overwrite them. Hyperparameters are not logged here: the run's config.yaml holds them.
    """

    def __init__(self, folder: Path, *, start_step: int = 0) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.start_step = start_step
        self._columns: list[str] | None = None  # the header on disk, once this run wrote

    @property
    def path(self) -> Path:
        return self.folder / METRICS_FILE

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def version(self) -> str:
        return ""

    @property
    def save_dir(self) -> str:
        return str(self.folder)

    @rank_zero_only
    def log_hyperparams(
        self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any
    ) -> None:
        """Nothing to do: the run folder's config.yaml is the record of the settings."""

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        row: dict[str, Any] = {"step": step, **metrics}
        if self._columns is not None and row.keys() <= set(self._columns):
            with self.path.open("a", newline="") as handle:
                csv.DictWriter(handle, self._columns).writerow(row)
            return
        header, rows = _read_rows(self.path)
        if self._columns is None:  # this run's first row: drop the steps it trains again
            rows = [r for r in rows if not r.get("step") or float(r["step"]) < self.start_step]
        names = set(header) | row.keys()
        self._columns = ["step", *sorted(names - {"step"})]
        self._rewrite([*rows, row])

    def _rewrite(self, rows: list[dict[str, Any]]) -> None:
        """Replace the file atomically, so the earlier runs' rows survive a crash mid-write."""
        assert self._columns is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(f".{METRICS_FILE}.tmp")
        with staging.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, self._columns)
            writer.writeheader()
            writer.writerows(rows)
        staging.replace(self.path)


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a metrics file; nothing when there is none."""
    if not path.is_file():
        return [], []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows
