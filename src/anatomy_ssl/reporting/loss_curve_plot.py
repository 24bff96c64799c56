"""Pretraining loss curves, one panel per run (methods' losses live on different scales).

Each panel shows the logged training loss against the optimizer step, with a moving average
over about 1/25 of the run drawn on top once a run has logged 50 or more values. A logarithmic y
axis is used when the loss is positive and spans more than a factor of 30.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from anatomy_ssl.reporting.loss_history import LossHistory
from anatomy_ssl.reporting.png_figure import new_figure, save_png

SMOOTH_FROM = 50


def plot_loss_curves(
    histories: Sequence[LossHistory],
    path: Path,
    *,
    title: str = "Pretraining loss",
    colors: Mapping[str, str] | None = None,
) -> Path | None:
    """Plot every run's loss into the PNG `path`.

    Args:
        histories: runs to plot (from `read_loss_histories`).
        path: output PNG.
        title: figure title.
        colors: method -> colour.

    Returns:
        `path`, or None (nothing written) without a run.
    """
    if not histories:
        return None
    columns = min(len(histories), 3)
    rows = math.ceil(len(histories) / columns)
    figure = new_figure(4.0 * columns, 2.9 * rows)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for axis, history in zip(axes, histories, strict=False):
        color = None
        if colors is not None and history.method is not None:
            color = colors.get(history.method)
        smooth = history.loss.size >= SMOOTH_FROM
        (line,) = axis.plot(
            history.steps,
            history.loss,
            linewidth=0.9 if smooth else 1.6,
            alpha=0.35 if smooth else 1.0,
            color=color,
            marker="" if history.loss.size > 1 else "o",
        )
        if smooth:
            window = max(2, history.loss.size // 25)
            average = np.convolve(history.loss, np.ones(window) / window, mode="valid")
            start = (window - 1) // 2  # centred window: the average does not lag the raw curve
            axis.plot(
                history.steps[start : start + average.size],
                average,
                linewidth=1.8,
                color=line.get_color(),
            )
        positive = bool(np.all(history.loss > 0))
        if positive and history.loss.max() / history.loss.min() > 30:
            axis.set_yscale("log")
        axis.set_title(history.label, fontsize="medium")
        axis.set_xlabel("step")
        axis.set_ylabel("train loss")
        axis.grid(True, alpha=0.3)
    for axis in axes[len(histories) :]:
        axis.set_visible(False)
    figure.suptitle(title)
    return save_png(figure, path)


def loss_caption(histories: Sequence[LossHistory]) -> str:
    """The caption of `plot_loss_curves(histories, ...)`, naming only the lines it draws."""
    smoothed = sum(history.loss.size >= SMOOTH_FROM for history in histories)
    text = "Training loss against optimizer step, one panel per run"
    if smoothed == 0:
        return text + "."
    if smoothed == len(histories):
        return text + " (faint: as logged; solid: moving average)."
    return (
        text + f" (faint: as logged; solid: moving average, drawn for runs with "
        f"{SMOOTH_FROM} or more logged values)."
    )
