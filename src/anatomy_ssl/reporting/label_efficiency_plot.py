"""Label-efficiency curves: Dice against the number k of labeled volumes, one line per method.

From few-shot metrics `<mode>_k<k>_dice`; one panel per mode (fine-tune, frozen), a shaded band
for each method's CI (over seeds, else over the single seed's per-volume samples). The x axis is
logarithmic; "all" sits one step to the right of the largest k.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.artist import Artist

from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.reporting.headline_metrics import parse_few_shot_metric
from anatomy_ssl.reporting.method_order import SCRATCH, ordered_methods
from anatomy_ssl.reporting.png_figure import new_figure, save_png
from anatomy_ssl.reporting.summary_table import aggregate_metric

_MODE_TITLES = {
    "finetune": "fine-tuned encoder",
    "frozen": "frozen encoder",
    "frozen_deep": "frozen encoder, deeper maps",
    "knn": "frozen deeper maps, nearest-neighbour labels",
}


def has_label_efficiency(records: Sequence[EvaluationRecord]) -> bool:
    """Whether any record carries a few-shot Dice metric."""
    return any(parse_few_shot_metric(m) for r in records for m in r.metrics)


def plot_label_efficiency(
    records: Sequence[EvaluationRecord],
    path: Path,
    *,
    title: str = "Label efficiency",
    colors: Mapping[str, str] | None = None,
    confidence: float = 0.95,
) -> Path | None:
    """Plot Dice vs k for every method of `records` (one dataset) into the PNG `path`.

    Args:
        records: few-shot records of one dataset (all seeds of all methods).
        path: output PNG.
        title: figure title.
        colors: method -> colour; missing methods get matplotlib's cycle.
        confidence: coverage of the shaded bands.

    Returns:
        `path`, or None (nothing written) when no record has a few-shot metric.
    """
    # mode -> k (None = all) -> metric name
    modes: dict[str, dict[int | None, str]] = defaultdict(dict)
    for record in records:
        for metric in record.metrics:
            parsed = parse_few_shot_metric(metric)
            if parsed is not None:
                modes[parsed.mode][parsed.k] = metric
    if not modes:
        return None
    by_method: dict[str, list[EvaluationRecord]] = defaultdict(list)
    for record in records:
        by_method[record.method].append(record)
    mode_names = sorted(modes, key=lambda m: (m not in _MODE_TITLES, m))
    numeric = sorted({k for ks in modes.values() for k in ks if k is not None})
    all_position = numeric[-1] * 2.5 if numeric else 1.0

    figure = new_figure(4.6 * len(mode_names) + 0.4, 3.9)
    axes = figure.subplots(1, len(mode_names), sharey=True, squeeze=False)[0]
    for axis, mode in zip(axes, mode_names, strict=True):
        ks = sorted(modes[mode], key=lambda k: math.inf if k is None else k)
        positions = [all_position if k is None else float(k) for k in ks]
        for method in ordered_methods(by_method):
            means, lows, highs = [], [], []
            for k in ks:
                interval, _ = aggregate_metric(
                    by_method[method], modes[mode][k], confidence=confidence
                )
                means.append(math.nan if interval is None else interval.mean)
                lows.append(math.nan if interval is None else interval.low)
                highs.append(math.nan if interval is None else interval.high)
            if all(math.isnan(m) for m in means):
                continue
            color = None if colors is None else colors.get(method)
            (line,) = axis.plot(
                positions,
                means,
                marker="o",
                markersize=4,
                linewidth=1.8,
                linestyle="--" if method == SCRATCH else "-",
                color=color,
                label=method,
            )
            axis.fill_between(positions, lows, highs, color=line.get_color(), alpha=0.15)
        axis.set_xscale("log")
        axis.set_xticks(positions, ["all" if k is None else str(k) for k in ks])
        axis.minorticks_off()
        axis.set_xlabel("labeled training volumes k")
        axis.set_title(_MODE_TITLES.get(mode, mode))
        axis.grid(True, alpha=0.3)
    axes[0].set_ylabel("Dice")
    legend: dict[str, Artist] = {}
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    figure.legend(list(legend.values()), list(legend), loc="outside right upper", frameon=False)
    figure.suptitle(title)
    return save_png(figure, path)
