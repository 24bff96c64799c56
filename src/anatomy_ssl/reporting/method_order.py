"""Which methods are baselines, the order they appear in (tables, legends) and their colours.

Rows read from the bottom up: the intensity floor (no encoder), `scratch` (random
initialisation), the generic self-supervised baselines in a fixed order, every other method (the
anatomy-aware ones) alphabetically, and last the positive controls: the intensity-histogram
encoder and the supervised ceiling.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from anatomy_ssl.evaluation.control_methods import CEILING, CONTROLS, FLOOR, HISTOGRAM

SCRATCH = "scratch"
GENERIC_BASELINES: tuple[str, ...] = ("simclr", "moco", "dino", "mae")

_SCRATCH_COLOR = "#7f7f7f"
_CONTROL_COLORS = {FLOOR: "#c7c7c7", CEILING: "#000000", HISTOGRAM: "#a0522d"}
# matplotlib's tab10 without its grey, which is kept for scratch
_PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
)


def is_generic(method: str) -> bool:
    """Whether `method` is one of the generic (anatomy-agnostic) baselines."""
    return method in GENERIC_BASELINES


def is_control(method: str) -> bool:
    """Whether `method` is a control (the intensity floor, the intensity-histogram encoder or the
    supervised ceiling), not a pretraining."""
    return method in CONTROLS


def method_sort_key(method: str) -> tuple[int, int, str]:
    """Sort key: floor, scratch, the generic baselines in their fixed order, the rest A-Z,
    histogram, ceiling."""
    if method == FLOOR:
        return (-1, 0, "")
    if method == SCRATCH:
        return (0, 0, "")
    if is_generic(method):
        return (1, GENERIC_BASELINES.index(method), method)
    if method == HISTOGRAM:
        return (3, 0, "")
    if method == CEILING:
        return (3, 1, "")
    return (2, 0, method)


def ordered_methods(methods: Iterable[str]) -> list[str]:
    """The distinct `methods` in report order."""
    return sorted(set(methods), key=method_sort_key)


def method_colors(methods: Sequence[str]) -> dict[str, str]:
    """One colour (hex) per method, stable across every plot of a report.

    Args:
        methods: every method of the report; colours follow report order, so the same set of
            methods always gets the same colours.
    """
    colors: dict[str, str] = {}
    others = [m for m in ordered_methods(methods) if m != SCRATCH and not is_control(m)]
    for index, method in enumerate(others):
        colors[method] = _PALETTE[index % len(_PALETTE)]
    if SCRATCH in methods:
        colors[SCRATCH] = _SCRATCH_COLOR
    for control, color in _CONTROL_COLORS.items():
        if control in methods:
            colors[control] = color
    return colors
