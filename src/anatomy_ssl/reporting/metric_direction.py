"""Whether a metric is better high (Dice, AUC, accuracy) or low (errors in mm).

A metric is lower-is-better when its name ends in `_mm` (a distance) or contains `error`;
every other metric is higher-is-better. `within_10mm` (a fraction of landmarks) does not end in
`_mm`, so it stays higher-is-better.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def lower_is_better(metric: str) -> bool:
    """Whether smaller values of `metric` are better."""
    name = metric.lower()
    return name.endswith("_mm") or "error" in name


def direction_arrow(metric: str) -> str:
    """ "↓" for lower-is-better metrics, "↑" otherwise (for table headers)."""
    return "↓" if lower_is_better(metric) else "↑"


def is_better(value: float, other: float, metric: str) -> bool:
    """Whether `value` is strictly better than `other` for `metric`; NaN is never better."""
    if math.isnan(value):
        return False
    if math.isnan(other):
        return True
    return value < other if lower_is_better(metric) else value > other


def best_value(values: Iterable[float], metric: str) -> float:
    """The best finite value for `metric` (NaN when there is none)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan
    return min(finite) if lower_is_better(metric) else max(finite)
