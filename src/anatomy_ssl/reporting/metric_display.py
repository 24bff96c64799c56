"""How metric names and values are written in tables: readable labels, sensible decimals.

Distances in mm get 1 decimal; everything else (Dice, fractions, AUC, C-index, cosine) 3.
"""

from __future__ import annotations

import math
import re

_FEW_SHOT_K = re.compile(r"^k(\d+|all)$")
_RADIUS = re.compile(r"^(\d+(?:\.\d+)?)mm$")
_LABELS = {
    "part_whole_cosine_mean": "part-whole cosine",
    "part_whole_centred_cosine_mean": "centred part-whole cosine",
    "other_whole_centred_cosine_mean": "centred cosine with another whole's parts",
    "part_whole_specificity_mean": "part-whole specificity",
}
_WORDS = {
    "dice": "Dice",
    "auc": "AUC",
    "knn": "kNN",
    "mm": "(mm)",
    "finetune": "fine-tune",
}


def metric_decimals(metric: str) -> int:
    """Decimals to show for `metric`: 1 for distances in mm, 3 otherwise."""
    return 1 if metric.lower().endswith("_mm") else 3


def format_number(value: float, metric: str) -> str:
    """`value` rounded for `metric`; an em dash for NaN."""
    if not math.isfinite(value):
        return "—"
    return f"{value:.{metric_decimals(metric)}f}"


def format_signed(value: float, metric: str) -> str:
    """A difference with its sign: "+0.031", "-2.5"; an em dash for NaN."""
    if not math.isfinite(value):
        return "—"
    return f"{value:+.{metric_decimals(metric)}f}"


def metric_label(metric: str) -> str:
    """A readable column label: `finetune_k5_dice` -> "fine-tune k=5 Dice",
    `median_error_mm` -> "median error (mm)", `within_10mm` -> "within 10 mm",
    `survival_c_index` -> "survival C-index"."""
    if metric in _LABELS:
        return _LABELS[metric]
    text = metric.replace("c_index", "C-index")
    words = []
    for token in text.split("_"):
        few_shot = _FEW_SHOT_K.match(token)
        radius = _RADIUS.match(token)
        if few_shot:
            words.append(f"k={few_shot.group(1)}")
        elif radius:
            words.append(f"{radius.group(1)} mm")
        else:
            words.append(_WORDS.get(token, token))
    return " ".join(w for w in words if w)
