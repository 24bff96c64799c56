"""Aggregate records into one table per (dataset, protocol): mean ± CI, best, significance.

Each cell is a method's mean on one metric with a 95% percentile-bootstrap interval: over seeds
when the method has >= 2 seeds with a finite value, else over the single record's
`samples[metric]` (per test volume, per landmark pair, ...) when present, else the bare value.

Significance compares a method with `scratch` and with the best generic baseline of the column
using `paired_comparison` (two-sided sign-flip permutation test) on the seeds both methods ran
(a grid grown by more seeds for some methods is compared on the seeds they share): by (seed,
test unit) when every shared seed of both carries `samples[metric]` of equal length, else by
seed. Methods that share fewer than two seeds (one seed without per-unit samples) are not
compared.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from anatomy_ssl.evaluation.bootstrap_interval import (
    DEFAULT_RESAMPLES,
    BootstrapInterval,
    bootstrap_interval,
    paired_comparison,
)
from anatomy_ssl.evaluation.control_methods import CEILING, FLOOR
from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.reporting.headline_metrics import (
    REFERENCE_METRICS,
    headline_metrics,
    protocol_sort_key,
)
from anatomy_ssl.reporting.method_order import SCRATCH, is_control, is_generic, ordered_methods
from anatomy_ssl.reporting.metric_direction import best_value, is_better, lower_is_better
from anatomy_ssl.reporting.metric_display import format_number, format_signed, metric_label

SIGNIFICANCE_LEVEL = 0.05
BETTER_THAN_SCRATCH = "▲"
WORSE_THAN_SCRATCH = "▼"
BETTER_THAN_GENERIC = "△"
WORSE_THAN_GENERIC = "▽"
ON_INVALID_COLUMN = "†"

Pairing = Literal["seed", "seed_unit"]
CiSource = Literal["seeds", "samples", "none"]


@dataclass(frozen=True)
class Significance:
    """A method against one baseline on one metric.

    Attributes:
        baseline: the baseline method.
        mean_difference: mean of `method - baseline` over the pairs, in the metric's units.
        low, high: the bootstrap interval of the mean difference (the table's confidence).
        p_value: two-sided permutation p-value.
        n: number of pairs.
        pairing: "seed" (one pair per seed) or "seed_unit" (one pair per seed and test unit).
        better: whether the method is on the better side of the baseline for this metric.
        significant: `p_value` below the table's significance level.
    """

    baseline: str
    mean_difference: float
    low: float
    high: float
    p_value: float
    n: int
    pairing: Pairing
    better: bool
    significant: bool


@dataclass(frozen=True)
class TableCell:
    """One method on one metric.

    Attributes:
        metric: metric name.
        interval: mean and CI; None when the method has no finite value for the metric.
        ci_source: what the CI was bootstrapped over ("seeds", "samples"), or "none".
        is_best: the best value of its column (ties at display precision all count).
        vs_scratch: comparison with scratch, when made.
        vs_generic: comparison with the column's best generic baseline, when made.
        on_invalid_column: the column's instrument check failed (the supervised ceiling does
            not beat scratch), so this cell's comparisons are no evidence.
    """

    metric: str
    interval: BootstrapInterval | None
    ci_source: CiSource
    is_best: bool = False
    vs_scratch: Significance | None = None
    vs_generic: Significance | None = None
    on_invalid_column: bool = False

    @property
    def mean(self) -> float:
        return math.nan if self.interval is None else self.interval.mean

    @property
    def half_width(self) -> float:
        """Half the CI width (NaN without a CI)."""
        if self.interval is None or self.ci_source == "none":
            return math.nan
        return (self.interval.high - self.interval.low) / 2.0

    def value_text(self) -> str:
        """ "0.812 ± 0.021", "0.812" without a CI, "—" without a value."""
        text = format_number(self.mean, self.metric)
        if math.isfinite(self.mean) and math.isfinite(self.half_width):
            text += f" ± {format_number(self.half_width, self.metric)}"
        return text

    def markers(self) -> str:
        """The significance markers of the cell ("", "▲", "▲△", ...)."""
        marks = ""
        if self.vs_scratch is not None and self.vs_scratch.significant:
            marks += BETTER_THAN_SCRATCH if self.vs_scratch.better else WORSE_THAN_SCRATCH
        if self.vs_generic is not None and self.vs_generic.significant:
            marks += BETTER_THAN_GENERIC if self.vs_generic.better else WORSE_THAN_GENERIC
        if marks and self.on_invalid_column:
            marks += ON_INVALID_COLUMN
        return marks


@dataclass(frozen=True)
class ColumnValidity:
    """Whether one column can rank encoders (docs/architecture.md, "Controls").

    Attributes:
        metric: the column.
        ceiling_vs_scratch: the supervised ceiling against scratch (None: not comparable).
        valid: the ceiling is significantly better than scratch.
        below_floor: methods whose mean does not beat the intensity floor's.
    """

    metric: str
    ceiling_vs_scratch: Significance | None
    valid: bool
    below_floor: tuple[str, ...]


@dataclass(frozen=True)
class TableRow:
    """One method's row: the seeds it ran on and a cell per column."""

    method: str
    seeds: tuple[int, ...]
    cells: dict[str, TableCell]


@dataclass(frozen=True)
class SummaryTable:
    """The table of one (dataset, protocol).

    Attributes:
        dataset: dataset name.
        protocol: protocol name.
        metrics: column metric names, in order.
        rows: one per method, scratch first, then generic baselines, then the others.
        best_generic: column metric -> the generic baseline with the best mean there.
        confidence: CI coverage.
        significance_level: p-value threshold of the markers.
        seed_pair_counts: the numbers of pairs of every seed-paired comparison made.
        uncompared: "method vs baseline" comparisons skipped because they share fewer than two
            seeds.
        compared: whether any comparison could be made.
        validity: column metric -> its instrument check, for columns that have the supervised
            ceiling and scratch (few-shot tables of suites with controls).
    """

    dataset: str
    protocol: str
    metrics: tuple[str, ...]
    rows: tuple[TableRow, ...]
    best_generic: dict[str, str]
    confidence: float = 0.95
    significance_level: float = SIGNIFICANCE_LEVEL
    seed_pair_counts: frozenset[int] = field(default_factory=frozenset)
    uncompared: tuple[str, ...] = ()
    compared: bool = False
    validity: dict[str, ColumnValidity] = field(default_factory=dict)

    def cell(self, method: str, metric: str) -> TableCell:
        """The cell of `method` in column `metric` (KeyError when absent)."""
        for row in self.rows:
            if row.method == method:
                return row.cells[metric]
        raise KeyError(method)

    def legend(self) -> list[str]:
        """Plain-text lines that explain the cells and markers, for under the table."""
        percent = f"{self.confidence:.0%}"
        lines = [
            f"Mean ± half-width of the {percent} percentile-bootstrap interval: over seeds for "
            "methods with ≥ 2 seeds, else over the per-unit samples (test volumes, landmark "
            "pairs) of the single seed; a value without ± has neither. Bold: best in its "
            "column (↑ higher is better, ↓ lower is better)."
        ]
        methods = {row.method for row in self.rows}
        marks = []
        if SCRATCH in methods:
            marks.append(
                f"{BETTER_THAN_SCRATCH} / {WORSE_THAN_SCRATCH}: significantly better / worse "
                "than scratch"
            )
        if self.best_generic:
            marks.append(
                f"{BETTER_THAN_GENERIC} / {WORSE_THAN_GENERIC}: significantly better / worse "
                "than the best generic baseline of the column"
            )
        if marks and not self.compared:
            lines.append(
                "No significance markers: no two methods could be paired (a single seed "
                "without per-unit samples, or no two shared seeds)."
            )
        elif marks:
            lines.append(
                "; ".join(marks) + f" (p < {self.significance_level:g}, two-sided paired "
                "sign-flip permutation test, paired by seed, or by seed and test unit when "
                "both methods have per-unit samples, on the seeds both ran; methods sharing fewer "
                "than two seeds are not compared)."
            )
        generic = [row.method for row in self.rows if is_generic(row.method)]
        if len(generic) == 1:
            lines.append(f"Generic baseline: {generic[0]} (the only one run).")
        elif self.best_generic:
            lines.append("Best generic baseline: " + _best_generic_text(self.best_generic) + ".")
        weak = sorted(n for n in self.seed_pair_counts if 2.0 / 2**n >= self.significance_level)
        if weak:
            counts = ", ".join(f"{2.0 / 2**n:.3g} for {n} seeds" for n in weak)
            lines.append(
                f"Paired by seed alone, the p-value cannot fall below 2 / 2^n ({counts}): "
                "such comparisons cannot reach significance; add seeds or per-unit samples."
            )
        if self.uncompared:
            lines.append(
                "Not compared (fewer than two shared seeds): " + ", ".join(self.uncompared) + "."
            )
        lines += self._validity_lines(percent)
        lines += self._anatomy_aware_differences(percent)
        return lines

    def _validity_lines(self, percent: str) -> list[str]:
        """The instrument check of each column: the ceiling against scratch, and the floor."""
        if not self.validity:
            return []
        checks = []
        for metric, check in self.validity.items():
            versus = check.ceiling_vs_scratch
            if versus is None:
                checks.append(f"{metric_label(metric)}: not checkable (no paired ceiling runs)")
                continue
            verdict = "valid" if check.valid else "INVALID"
            checks.append(
                f"{metric_label(metric)} {verdict} "
                f"({format_signed(versus.mean_difference, metric)} "
                f"[{format_signed(versus.low, metric)}, {format_signed(versus.high, metric)}], "
                f"p = {versus.p_value:.2g})"
            )
        lines = [
            f"Instrument check (ceiling minus scratch, [{percent} interval]; a column is valid "
            "when the supervised ceiling is significantly better than scratch): "
            + "; ".join(checks)
            + "."
        ]
        if not all(check.valid for check in self.validity.values()):
            lines.append(
                f"{ON_INVALID_COLUMN}: a comparison made in an INVALID column: this column cannot "
                "tell a good encoder from a bad one, so the marker is no evidence either way."
            )
        below = {
            metric_label(metric): check.below_floor
            for metric, check in self.validity.items()
            if check.below_floor
        }
        if below:
            lines.append(
                "Not above the intensity floor (intensity alone segments as well): "
                + "; ".join(f"{label}: {', '.join(methods)}" for label, methods in below.items())
                + "."
            )
        return lines

    def _anatomy_aware_differences(self, percent: str) -> list[str]:
        """One line per method that is neither scratch nor generic: its difference from the
        best generic baseline of every column, with the interval and p-value."""
        lines = []
        for row in self.rows:
            if row.method == SCRATCH or is_generic(row.method) or is_control(row.method):
                continue
            parts = []
            for metric in self.metrics:
                versus = row.cells[metric].vs_generic
                if versus is None:
                    continue
                difference = format_signed(versus.mean_difference, metric)
                interval = (
                    f"{format_signed(versus.low, metric)}, {format_signed(versus.high, metric)}"
                )
                parts.append(
                    f"{metric_label(metric)} {difference} [{interval}] vs {versus.baseline} "
                    f"(p = {versus.p_value:.2g})"
                )
            if parts:
                lines.append(
                    f"{row.method} minus the best generic baseline, mean difference "
                    f"[{percent} bootstrap interval]: " + "; ".join(parts) + "."
                )
        return lines


def build_summary_tables(
    records: Sequence[EvaluationRecord],
    *,
    confidence: float = 0.95,
    num_resamples: int = DEFAULT_RESAMPLES,
    significance_level: float = SIGNIFICANCE_LEVEL,
) -> list[SummaryTable]:
    """One table per (dataset, protocol) of `records`, datasets A-Z, protocols in benchmark
    order."""
    groups: dict[tuple[str, str], list[EvaluationRecord]] = defaultdict(list)
    for record in records:
        groups[(record.dataset, record.protocol)].append(record)
    keys = sorted(groups, key=lambda k: (k[0], protocol_sort_key(k[1])))
    return [
        build_summary_table(
            groups[key],
            confidence=confidence,
            num_resamples=num_resamples,
            significance_level=significance_level,
        )
        for key in keys
    ]


def build_summary_table(
    records: Sequence[EvaluationRecord],
    *,
    confidence: float = 0.95,
    num_resamples: int = DEFAULT_RESAMPLES,
    significance_level: float = SIGNIFICANCE_LEVEL,
) -> SummaryTable:
    """The table of records that all share one dataset and protocol.

    Args:
        records: every seed of every method for one (dataset, protocol).
        confidence: CI coverage (and of the paired comparisons).
        num_resamples: bootstrap resamples.
        significance_level: p-value below which a difference gets a marker.

    Raises:
        ValueError: no records, or records of more than one dataset or protocol.
    """
    if not records:
        raise ValueError("build_summary_table needs at least one record")
    datasets = {r.dataset for r in records}
    protocols = {r.protocol for r in records}
    if len(datasets) != 1 or len(protocols) != 1:
        raise ValueError(f"records mix datasets {datasets} or protocols {protocols}")
    by_method: dict[str, list[EvaluationRecord]] = defaultdict(list)
    for record in records:
        by_method[record.method].append(record)
    for runs in by_method.values():
        runs.sort(key=lambda r: r.seed)
    methods = ordered_methods(by_method)
    metrics = headline_metrics(protocols.pop(), (m for r in records for m in r.metrics))

    cells: dict[str, dict[str, TableCell]] = {m: {} for m in methods}
    best_generic: dict[str, str] = {}
    seed_pair_counts: set[int] = set()
    uncompared: set[str] = set()
    for metric in metrics:
        column = {m: _aggregate(by_method[m], metric, confidence, num_resamples) for m in methods}
        best = _rounded_best(column, metric)
        # a column that measures the data (the same in every row) is shown, never compared
        reference = metric in REFERENCE_METRICS
        generic = None if reference else _best_generic(column, metric)
        if generic is not None:
            best_generic[metric] = generic
        for method in methods:
            cell = column[method]
            comparisons: dict[str, Significance | None] = {}
            baselines = () if reference else (("vs_scratch", SCRATCH), ("vs_generic", generic))
            for role, baseline in baselines:
                if baseline is None or baseline == method or baseline not in by_method:
                    continue
                if role == "vs_generic" and method == SCRATCH:
                    continue  # the mirror image of the generic baseline's own vs-scratch marker
                if not math.isfinite(cell.mean) or not math.isfinite(column[baseline].mean):
                    continue
                significance = _compare(
                    by_method[method],
                    by_method[baseline],
                    metric,
                    confidence=confidence,
                    num_resamples=num_resamples,
                    level=significance_level,
                )
                if significance is None:
                    shared = set(_seeds(by_method[method])) & set(_seeds(by_method[baseline]))
                    if len(shared) < 2:
                        uncompared.add(f"{method} vs {baseline}")
                    continue
                if significance.pairing == "seed":
                    seed_pair_counts.add(significance.n)
                comparisons[role] = significance
            cells[method][metric] = TableCell(
                metric=metric,
                interval=cell.interval,
                ci_source=cell.ci_source,
                is_best=_shown_equal(cell.mean, best, metric),
                vs_scratch=comparisons.get("vs_scratch"),
                vs_generic=comparisons.get("vs_generic"),
            )
    validity = _column_validity(cells, metrics)
    for metric, check in validity.items():
        if not check.valid:
            for method in methods:
                if not is_control(method):
                    cells[method][metric] = replace(cells[method][metric], on_invalid_column=True)
    rows = tuple(TableRow(method=m, seeds=_seeds(by_method[m]), cells=cells[m]) for m in methods)
    return SummaryTable(
        dataset=datasets.pop(),
        protocol=records[0].protocol,
        metrics=tuple(metrics),
        rows=rows,
        best_generic=best_generic,
        confidence=confidence,
        significance_level=significance_level,
        seed_pair_counts=frozenset(seed_pair_counts),
        uncompared=tuple(sorted(uncompared)),
        compared=any(
            c.vs_scratch is not None or c.vs_generic is not None
            for row in cells.values()
            for c in row.values()
        ),
        validity=validity,
    )


def _column_validity(
    cells: dict[str, dict[str, TableCell]], metrics: Sequence[str]
) -> dict[str, ColumnValidity]:
    """The instrument check of every column that has both the ceiling and scratch."""
    if CEILING not in cells or SCRATCH not in cells:
        return {}
    validity = {}
    for metric in metrics:
        versus = cells[CEILING][metric].vs_scratch
        floor = cells[FLOOR][metric].mean if FLOOR in cells else math.nan
        below = tuple(
            method
            for method, row in cells.items()
            if method != FLOOR
            and math.isfinite(floor)
            and math.isfinite(row[metric].mean)
            and not is_better(row[metric].mean, floor, metric)
        )
        validity[metric] = ColumnValidity(
            metric=metric,
            ceiling_vs_scratch=versus,
            valid=versus is not None and versus.significant and versus.better,
            below_floor=below,
        )
    return validity


def aggregate_metric(
    runs: Sequence[EvaluationRecord],
    metric: str,
    *,
    confidence: float = 0.95,
    num_resamples: int = DEFAULT_RESAMPLES,
) -> tuple[BootstrapInterval | None, CiSource]:
    """Mean and CI of `metric` over the seeds `runs` of one method (see the module docstring).

    Returns:
        The interval (None without a finite value) and what it was bootstrapped over.
    """
    cell = _aggregate(runs, metric, confidence, num_resamples)
    return cell.interval, cell.ci_source


def _aggregate(
    runs: Sequence[EvaluationRecord], metric: str, confidence: float, num_resamples: int
) -> TableCell:
    finite = [r for r in runs if math.isfinite(r.metrics.get(metric, math.nan))]
    if not finite:
        return TableCell(metric, None, "none")
    if len(finite) >= 2:
        values = [r.metrics[metric] for r in finite]
        interval = bootstrap_interval(values, confidence=confidence, num_resamples=num_resamples)
        return TableCell(metric, interval, "seeds")
    value = finite[0].metrics[metric]
    samples = bootstrap_interval(
        finite[0].samples.get(metric, []), confidence=confidence, num_resamples=num_resamples
    )
    if samples.n >= 2:
        # the record's own value is what the protocol reports; the samples give its spread
        interval = BootstrapInterval(value, samples.low, samples.high, samples.n, confidence)
        return TableCell(metric, interval, "samples")
    return TableCell(metric, BootstrapInterval(value, value, value, 1, confidence), "none")


def _compare(
    method: Sequence[EvaluationRecord],
    baseline: Sequence[EvaluationRecord],
    metric: str,
    *,
    confidence: float,
    num_resamples: int,
    level: float,
) -> Significance | None:
    """Paired comparison of two methods on their shared seeds; None when they cannot be
    paired."""
    by_seed = {run.seed: run for run in baseline}
    pairs = [(run, by_seed[run.seed]) for run in method if run.seed in by_seed]
    if not pairs:
        return None
    unit_lengths = [
        (len(a.samples.get(metric, [])), len(b.samples.get(metric, []))) for a, b in pairs
    ]
    pairing: Pairing
    if (
        all(la == lb and la > 0 for la, lb in unit_lengths)
        and sum(la for la, _ in unit_lengths) > 1
    ):
        pairing = "seed_unit"
        first = np.concatenate([a.samples[metric] for a, _ in pairs])  # (seeds x units,)
        second = np.concatenate([b.samples[metric] for _, b in pairs])
    elif len(pairs) >= 2:
        pairing = "seed"
        first = np.asarray([a.metrics.get(metric, math.nan) for a, _ in pairs])  # (seeds,)
        second = np.asarray([b.metrics.get(metric, math.nan) for _, b in pairs])
    else:
        return None
    comparison = paired_comparison(
        first, second, confidence=confidence, num_resamples=num_resamples
    )
    if comparison.n < 2:
        return None
    difference = comparison.mean_difference
    better = difference < 0 if lower_is_better(metric) else difference > 0
    return Significance(
        baseline=baseline[0].method,
        mean_difference=difference,
        low=comparison.low,
        high=comparison.high,
        p_value=comparison.p_value,
        n=comparison.n,
        pairing=pairing,
        better=better,
        significant=comparison.p_value < level and difference != 0,
    )


def _seeds(runs: Sequence[EvaluationRecord]) -> tuple[int, ...]:
    return tuple(r.seed for r in runs)


def _rounded_best(column: dict[str, TableCell], metric: str) -> float:
    return best_value((_rounded(c.mean, metric) for c in column.values()), metric)


def _shown_equal(value: float, best: float, metric: str) -> bool:
    return math.isfinite(value) and _rounded(value, metric) == best


def _rounded(value: float, metric: str) -> float:
    return float(format_number(value, metric)) if math.isfinite(value) else math.nan


def _best_generic(column: dict[str, TableCell], metric: str) -> str | None:
    best: str | None = None
    for method, cell in column.items():
        if is_generic(method) and (best is None or is_better(cell.mean, column[best].mean, metric)):
            best = method if math.isfinite(cell.mean) else best
    return best


def _best_generic_text(best_generic: dict[str, str]) -> str:
    chosen = set(best_generic.values())
    if len(chosen) == 1:
        return f"{chosen.pop()} (every column)"
    return "; ".join(f"{metric_label(metric)}: {method}" for metric, method in best_generic.items())
