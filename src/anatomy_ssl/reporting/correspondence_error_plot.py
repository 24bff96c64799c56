"""Distribution of correspondence errors: an empirical CDF per method.

From `samples["error_mm"]` (one landmark-pair error in mm per value, pooled over seeds). The
ECDF at radius r is the fraction of landmarks found within r mm, so the curve reads directly as
"within r mm" for every r; higher and further left is better.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.reporting.method_order import SCRATCH, ordered_methods
from anatomy_ssl.reporting.png_figure import new_figure, save_png

ERROR_SAMPLES = "error_mm"


def correspondence_errors(records: Sequence[EvaluationRecord]) -> dict[str, np.ndarray]:
    """Method -> `(n,)` finite errors in mm pooled over its records' `samples["error_mm"]`."""
    pooled: dict[str, list[float]] = defaultdict(list)
    for record in records:
        pooled[record.method] += record.samples.get(ERROR_SAMPLES, [])
    errors = {m: np.asarray(v, dtype=np.float64) for m, v in pooled.items()}
    errors = {m: e[np.isfinite(e)] for m, e in errors.items()}
    return {m: errors[m] for m in ordered_methods(errors) if errors[m].size}


def plot_correspondence_errors(
    records: Sequence[EvaluationRecord],
    path: Path,
    *,
    title: str = "Correspondence error",
    colors: Mapping[str, str] | None = None,
) -> Path | None:
    """ECDF of landmark errors per method into the PNG `path`.

    Args:
        records: records of one dataset and protocol.
        path: output PNG.
        title: figure title.
        colors: method -> colour.

    Returns:
        `path`, or None (nothing written) when no record has finite `samples["error_mm"]`.
    """
    errors = correspondence_errors(records)
    if not errors:
        return None
    figure = new_figure(6.4, 4.0)
    axis = figure.subplots()
    for method, values in errors.items():
        ordered = np.sort(values)  # (n,)
        fraction = np.arange(1, ordered.size + 1) / ordered.size  # (n,)
        axis.step(
            np.concatenate([[0.0], ordered]),
            np.concatenate([[0.0], fraction]),
            where="post",
            linewidth=1.8,
            linestyle="--" if method == SCRATCH else "-",
            color=None if colors is None else colors.get(method),
            label=f"{method} (median {np.median(values):.1f} mm, n={values.size})",
        )
    pooled = np.concatenate(list(errors.values()))
    # a few far-off matches would squeeze the informative range into the left edge
    axis.set_xlim(0.0, max(float(np.quantile(pooled, 0.99)) * 1.05, 1e-6))
    axis.set_ylim(0.0, 1.0)
    axis.set_xlabel("error (mm)")
    axis.set_ylabel("fraction of landmarks within error")
    axis.grid(True, alpha=0.3)
    axis.legend(loc="lower right", fontsize="small")
    axis.set_title(title)
    return save_png(figure, path)
