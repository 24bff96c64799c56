"""Figures for reports: built on `matplotlib.figure.Figure` (no pyplot, no global backend state,
so reports can be written from threads and servers) and saved as PNG through the Agg renderer.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DPI = 130


def new_figure(width_in: float, height_in: float) -> Figure:
    """An empty figure of `width_in x height_in` inches with constrained layout."""
    return Figure(figsize=(width_in, height_in), layout="constrained")


def save_png(figure: Figure, path: Path) -> Path:
    """Write `figure` to `path` as PNG atomically; returns `path`.

    The PNG carries no "Software" text chunk (it would hold matplotlib's web address, and a
    report must name no external resource).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    figure.savefig(staging, format="png", dpi=DPI, metadata={"Software": None})
    staging.replace(path)
    return path


def is_png(path: Path) -> bool:
    """Whether `path` is a readable file that starts with the PNG signature."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE
    except OSError:
        return False
