"""Which metrics of each protocol are table columns, in which order; protocol titles.

Columns are the metrics present in the records that match the protocol's headline patterns,
pattern by pattern, each group in natural order (`k1, k2, k10, kall`). A protocol without known
headline patterns (or whose records match none) shows every metric it has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

PROTOCOL_ORDER: tuple[str, ...] = (
    "few_shot_segmentation",
    "correspondence",
    "locality",
    "compositionality",
    "patient_prediction",
)
_PROTOCOL_TITLES = {
    "few_shot_segmentation": "Few-shot segmentation",
    "correspondence": "Anatomical correspondence (zero-shot)",
    "locality": "Locality (zero-shot)",
    "compositionality": "Compositionality (zero-shot)",
    "patient_prediction": "Patient-level prediction",
}
_FEW_SHOT = re.compile(r"^(?P<mode>[a-z0-9_]+?)_k(?P<k>\d+|all)_dice$")
_HEADLINE_PATTERNS: dict[str, tuple[str, ...]] = {
    "few_shot_segmentation": (_FEW_SHOT.pattern,),
    "correspondence": (r"^median_error_mm$", r"^mean_error_mm$", r"^within_\d+(\.\d+)?mm$"),
    "locality": (r"^knn_accuracy$", r"^silhouette$"),
    "compositionality": (
        r"^part_whole_cosine_mean$",
        r"^part_whole_centred_cosine_mean$",
        r"^part_whole_specificity_mean$",
    ),
    "patient_prediction": (
        r"^severity_r2$",
        r"^severity_auc$",
        r"^subtype_balanced_accuracy$",
        r"^survival_c_index$",
        r"^survival_c_index_true_risk$",
        r"^regional_r2$",
        r"^regional_subtype_balanced_accuracy$",
    ),
}


#: Columns that measure the data, not the encoder (the same in every row, shown for scale):
#: no method is compared on them, so no marker or verdict is drawn.
REFERENCE_METRICS = frozenset({"survival_c_index_true_risk"})


@dataclass(frozen=True)
class FewShotMetric:
    """A parsed few-shot metric name `<mode>_k<k>_dice`.

    Attributes:
        mode: "finetune", "frozen", ...
        k: labeled volumes, or None for "all".
    """

    mode: str
    k: int | None


def parse_few_shot_metric(metric: str) -> FewShotMetric | None:
    """`finetune_k5_dice` -> FewShotMetric("finetune", 5); None for other names."""
    match = _FEW_SHOT.match(metric)
    if match is None:
        return None
    k = match.group("k")
    return FewShotMetric(match.group("mode"), None if k == "all" else int(k))


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers numerically (`k2` before `k10`)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part
    )


def headline_metrics(protocol: str, available: Iterable[str]) -> list[str]:
    """The table columns of `protocol` among the `available` metric names."""
    names = sorted(set(available), key=natural_key)
    columns: list[str] = []
    for pattern in _HEADLINE_PATTERNS.get(protocol, ()):
        columns += [n for n in names if re.match(pattern, n) and n not in columns]
    return columns or names


def protocol_title(protocol: str) -> str:
    """A heading for `protocol` ("Few-shot segmentation"); unknown names are tidied up."""
    return _PROTOCOL_TITLES.get(protocol, protocol.replace("_", " ").capitalize())


def protocol_sort_key(protocol: str) -> tuple[int, str]:
    """Known protocols in benchmark order, then the others A-Z."""
    if protocol in PROTOCOL_ORDER:
        return (PROTOCOL_ORDER.index(protocol), "")
    return (len(PROTOCOL_ORDER), protocol)
