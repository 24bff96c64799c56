"""Clinical targets (severity, subtype, survival) parsed from a clinical table and aligned to the
rows of an embedding table.

The table is `clinical.csv` as the phantoms write it (one row per subject, a `subject_id` column,
every value text), read by path, or the same content already in memory as `subject -> column ->
value`. Every problem is reported with the subject, the column and the offending value; when the
table came from a file the error is an `InputError` naming that file.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anatomy_ssl.errors import InputError

SUBJECT_COLUMN = "subject_id"
TASKS = ("severity", "subtype", "survival")
_SHOWN = 5  # offending subjects listed in one message

ClinicalTable = Mapping[str, Mapping[str, object]]


@dataclass(frozen=True)
class ClinicalColumns:
    """Which column of the clinical table holds which target.

    Attributes:
        severity: continuous disease severity.
        subtype: categorical disease subtype (any text; every distinct value is a class).
        time: survival or follow-up time (years; any unit works, only the order matters).
        event: 1 = death (event) observed at `time`, 0 = censored at `time`.
        risk: the true linear predictor of the hazard, when the data are simulated (optional).
    """

    severity: str = "severity"
    subtype: str = "subtype"
    time: str = "survival_years"
    event: str = "event"
    risk: str = "risk_score"


@dataclass(frozen=True)
class ClinicalTargets:
    """Targets aligned to the rows of an embedding table; `None` where a task was not asked for
    (or, for `risk_score`, where the table has no such column).

    Attributes:
        subject_ids: `(N,)` subject of each row.
        severity: `(N,)` float64 severity.
        subtype: `(N,)` str subtype label.
        survival_time: `(N,)` float64 time to event or censoring (>= 0).
        event: `(N,)` bool, True where the event was observed.
        risk_score: `(N,)` float64 true risk score (the ceiling of any survival model).
    """

    subject_ids: tuple[str, ...]
    severity: np.ndarray | None = None
    subtype: np.ndarray | None = None
    survival_time: np.ndarray | None = None
    event: np.ndarray | None = None
    risk_score: np.ndarray | None = None


def read_clinical_table(path: str | Path) -> dict[str, dict[str, str]]:
    """Read a clinical CSV (header row, one row per subject, a `subject_id` column).

    Args:
        path: the CSV file.

    Returns:
        `subject -> column -> text`, in file order.

    Raises:
        InputError: the file is missing or empty, has no `subject_id` column, a row has too many
            or too few values, or a subject appears twice.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "clinical table not found")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise InputError(path, "clinical table is empty (no header row)")
        if SUBJECT_COLUMN not in reader.fieldnames:
            raise InputError(path, f"clinical table has no {SUBJECT_COLUMN!r} column")
        table: dict[str, dict[str, str]] = {}
        for row in reader:
            line = reader.line_num
            if None in row or any(value is None for value in row.values()):
                raise InputError(path, f"line {line}: the number of values differs from the header")
            subject = row[SUBJECT_COLUMN].strip()
            if not subject:
                raise InputError(path, f"line {line}: empty {SUBJECT_COLUMN}")
            if subject in table:
                raise InputError(path, f"line {line}: subject {subject!r} appears more than once")
            table[subject] = row
    return table


def clinical_targets(
    subject_ids: Sequence[str],
    clinical: ClinicalTable | str | Path,
    *,
    tasks: Collection[str] = TASKS,
    columns: ClinicalColumns = ClinicalColumns(),
) -> ClinicalTargets:
    """Typed targets for the subjects of an embedding table, in its row order.

    Args:
        subject_ids: `(N,)` subject of each embedding row; each subject once.
        clinical: the clinical table (`subject -> column -> value`) or the path of its CSV.
        tasks: any of "severity" (the severity column), "subtype" (the subtype column) and
            "survival" (time and event columns, plus the true risk score when present).
        columns: the column names.

    Returns:
        The targets asked for; the others are None.

    Raises:
        ValueError: an unknown task, a duplicated subject id, a subject missing from the table,
            a missing column or value, a non-numeric or non-finite number, a negative time or an
            event that is not 0/1 (an `InputError` naming the file when read from a path).
    """
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown clinical task(s) {unknown}; choose from {list(TASKS)}")
    ids = tuple(str(subject) for subject in subject_ids)
    _check_unique(ids)
    source: Path | None = None
    if isinstance(clinical, (str, Path)):
        source = Path(clinical)
        table: ClinicalTable = read_clinical_table(source)
    else:
        table = clinical
    missing = [subject for subject in ids if subject not in table]
    if missing:
        raise _problem(
            source,
            f"{len(missing)} subject(s) missing from the clinical table: {_listing(missing)}",
        )
    rows = [table[subject] for subject in ids]
    targets: dict[str, np.ndarray | None] = {}
    if "severity" in tasks:
        targets["severity"] = _numeric(rows, ids, columns.severity, source)
    if "subtype" in tasks:
        targets["subtype"] = np.asarray(_texts(rows, ids, columns.subtype, source), dtype=str)
    if "survival" in tasks:
        time = _numeric(rows, ids, columns.time, source)
        negative = [subject for subject, t in zip(ids, time, strict=True) if t < 0]
        if negative:
            raise _problem(
                source, f"column {columns.time!r}: negative time for {_listing(negative)}"
            )
        targets["survival_time"] = time
        targets["event"] = _events(rows, ids, columns.event, source)
        has_risk = any(columns.risk in row for row in rows)
        targets["risk_score"] = _numeric(rows, ids, columns.risk, source) if has_risk else None
    return ClinicalTargets(subject_ids=ids, **targets)


def binarize(values: np.ndarray, threshold: float | None = None) -> tuple[np.ndarray, float]:
    """Split a continuous target into "above the threshold" vs "at or below it".

    The default threshold is the median of `values`: it is a definition of the label, the same
    for every fold, and never looks at embeddings.

    Args:
        values: `(N,)` finite target.
        threshold: the cut; None for the median.

    Returns:
        `(N,)` bool labels (True = above) and the threshold used.

    Raises:
        ValueError: every value falls on one side of the threshold.
    """
    cut = float(np.median(values)) if threshold is None else float(threshold)
    above = np.asarray(values) > cut
    if above.all() or not above.any():
        raise ValueError(
            f"threshold {cut:g} puts all {len(above)} subjects on one side; "
            "a binary probe needs subjects on both sides"
        )
    return above, cut


def _check_unique(ids: tuple[str, ...]) -> None:
    unique, counts = np.unique(np.asarray(ids, dtype=str), return_counts=True)
    repeated = unique[counts > 1].tolist()
    if repeated:
        raise ValueError(
            f"subject ids must be unique (one embedding row per subject); repeated: "
            f"{_listing(repeated)}"
        )


def _texts(
    rows: list[Mapping[str, object]], ids: tuple[str, ...], column: str, source: Path | None
) -> list[str]:
    """The column's values as stripped text; a missing column or an empty value is an error."""
    absent = [subject for subject, row in zip(ids, rows, strict=True) if column not in row]
    if absent:
        raise _problem(source, f"no column {column!r} for {_listing(absent)}")
    values = ["" if row[column] is None else str(row[column]).strip() for row in rows]
    empty = [subject for subject, value in zip(ids, values, strict=True) if not value]
    if empty:
        raise _problem(source, f"column {column!r}: missing value for {_listing(empty)}")
    return values


def _numeric(
    rows: list[Mapping[str, object]], ids: tuple[str, ...], column: str, source: Path | None
) -> np.ndarray:
    """`(N,)` float64 column; non-numeric and non-finite values are errors."""
    numbers: list[float] = []
    bad: list[str] = []
    for subject, text in zip(ids, _texts(rows, ids, column, source), strict=True):
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            bad.append(f"{subject} ({text!r})")
        numbers.append(number)
    if bad:
        raise _problem(source, f"column {column!r}: not a finite number for {_listing(bad)}")
    return np.asarray(numbers, dtype=np.float64)


def _events(
    rows: list[Mapping[str, object]], ids: tuple[str, ...], column: str, source: Path | None
) -> np.ndarray:
    """`(N,)` bool event indicator from 0/1 values (1 = event observed)."""
    texts = _texts(rows, ids, column, source)
    flags = {"0": False, "1": True, "0.0": False, "1.0": True, "false": False, "true": True}
    bad = [f"{s} ({t!r})" for s, t in zip(ids, texts, strict=True) if t.lower() not in flags]
    if bad:
        raise _problem(source, f"column {column!r}: event must be 0 or 1 for {_listing(bad)}")
    return np.asarray([flags[text.lower()] for text in texts], dtype=bool)


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(str(item) for item in items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _problem(source: Path | None, message: str) -> ValueError:
    """An `InputError` naming the file when the table came from one, else a ValueError."""
    return InputError(source, message) if source is not None else ValueError(message)
