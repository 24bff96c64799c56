"""2D maps of landmark-patch embeddings, one panel per method, points coloured by landmark.

From `details["embedding_map"] = {"xy": [[x, y], ...], "labels": [...]}`: coordinates already
reduced to 2D by the evaluation (t-SNE, UMAP or PCA: the axes carry no units, so ticks are
hidden). Well-separated colour clusters mean the encoder tells landmarks apart across subjects.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps

from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.reporting.headline_metrics import natural_key
from anatomy_ssl.reporting.method_order import ordered_methods
from anatomy_ssl.reporting.png_figure import new_figure, save_png

EMBEDDING_MAP = "embedding_map"
MAX_LEGEND_LABELS = 20

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddingMap:
    """One method's map.

    Attributes:
        method: the method.
        seed: the record it came from.
        xy: `(N, 2)` coordinates.
        labels: `(N,)` landmark names.
    """

    method: str
    seed: int
    xy: np.ndarray
    labels: list[str]


def embedding_maps(records: Sequence[EvaluationRecord]) -> list[EmbeddingMap]:
    """The map of each method (its lowest seed that has a well-formed one), in report order."""
    maps: dict[str, EmbeddingMap] = {}
    for record in sorted(records, key=lambda r: r.seed):
        if record.method in maps or EMBEDDING_MAP not in record.details:
            continue
        parsed = _parse(record)
        if parsed is not None:
            maps[record.method] = parsed
    return [maps[m] for m in ordered_methods(maps)]


def plot_embedding_maps(
    records: Sequence[EvaluationRecord],
    path: Path,
    *,
    title: str = "Landmark-patch embeddings",
) -> Path | None:
    """One scatter panel per method into the PNG `path`; colours are shared across panels.

    Returns:
        `path`, or None (nothing written) when no record has a usable embedding map.
    """
    maps = embedding_maps(records)
    if not maps:
        return None
    labels = sorted({label for m in maps for label in m.labels}, key=natural_key)
    palette = colormaps["tab10" if len(labels) <= 10 else "tab20"]
    colors = {label: palette(i % palette.N) for i, label in enumerate(labels)}
    columns = min(len(maps), 4)
    rows = math.ceil(len(maps) / columns)
    figure = new_figure(
        3.2 * columns + (1.8 if len(labels) <= MAX_LEGEND_LABELS else 0), 3.1 * rows
    )
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for axis, embedding in zip(axes, maps, strict=False):
        point_labels = np.asarray(embedding.labels)
        for label in labels:
            chosen = point_labels == label
            if chosen.any():
                axis.scatter(
                    embedding.xy[chosen, 0],
                    embedding.xy[chosen, 1],
                    s=14,
                    alpha=0.8,
                    color=colors[label],
                    label=label,
                    linewidths=0,
                )
        axis.set_box_aspect(1.0)
        axis.set_title(embedding.method)
        axis.set_xticks([])
        axis.set_yticks([])
    for axis in axes[len(maps) :]:
        axis.set_visible(False)
    if len(labels) <= MAX_LEGEND_LABELS:
        handles = [
            axes[0].scatter([], [], s=14, color=colors[label], label=label) for label in labels
        ]
        figure.legend(
            handles,
            labels,
            loc="outside right upper",
            frameon=False,
            fontsize="small",
            title="landmark",
        )
    figure.suptitle(title)
    return save_png(figure, path)


def _parse(record: EvaluationRecord) -> EmbeddingMap | None:
    raw = record.details[EMBEDDING_MAP]
    try:
        xy = np.asarray(raw["xy"], dtype=np.float64)
        labels = [str(label) for label in raw["labels"]]
    except (KeyError, TypeError, ValueError) as error:
        log.warning(
            "%s/%s seed %d: unusable embedding map (%s)",
            record.dataset,
            record.method,
            record.seed,
            error,
        )
        return None
    if xy.ndim != 2 or xy.shape[1] != 2 or xy.shape[0] != len(labels) or not len(labels):
        log.warning(
            "%s/%s seed %d: embedding map needs xy (N, 2) and N labels, got %s and %d",
            record.dataset,
            record.method,
            record.seed,
            xy.shape,
            len(labels),
        )
        return None
    return EmbeddingMap(record.method, record.seed, xy, labels)
