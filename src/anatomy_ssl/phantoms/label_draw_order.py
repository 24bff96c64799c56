"""Which label a projected pixel shows when its ray crosses several structures.

Rule: a pixel takes the label of a structure its ray passes through (it touches at least one of
the structure's voxels, or samples); where the ray crosses several, the one drawn last wins, as
if structures were painted on the film one after another. The draw order is `priority` (later =
on top); label values present in the map but missing from `priority` are drawn first, beneath
the listed ones, in ascending value. Without `priority`, all labels are drawn in ascending value
(the largest value on top). Background (0) is never drawn: a pixel whose ray meets no structure
stays 0.

Implementation: each label value gets its rank in the draw order (background 0), so a ray's
label is the one of the highest rank along it: one table lookup and one max-reduction over the
whole volume, whatever the number of labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_UINT8_VALUES = 256


@dataclass(frozen=True, eq=False)
class LabelDrawOrder:
    """Ranks of one label set's values in the draw order.

    Attributes:
        rank_of_value: `(256,)` uint8 table: label value -> rank (1 = drawn first; 0 for
            background and absent values).
        value_of_rank: `(n + 1,)` uint8 table: rank -> label value (rank 0 -> 0).
    """

    rank_of_value: np.ndarray
    value_of_rank: np.ndarray

    def ranks(self, label_map: np.ndarray) -> np.ndarray:
        """Rank of every voxel, uint8, same shape as `label_map`."""
        return self.rank_of_value[as_uint8_labels(label_map)]

    def labels(self, top_ranks: np.ndarray) -> np.ndarray:
        """Label values (uint8) of the highest ranks found along rays."""
        return self.value_of_rank[top_ranks]


def label_draw_order(
    label_map: np.ndarray, priority: Sequence[int] | None = None
) -> LabelDrawOrder:
    """The draw order of a label map's values (module docstring).

    Args:
        label_map: uint8 array of any shape (other integer arrays with values in 0..255 are
            accepted).
        priority: label values from bottom to top; values absent from the map are allowed.

    Returns:
        The ranks.

    Raises:
        ValueError: `priority` holds 0, a value outside 1..255, or a value twice; or the label map
            holds values outside 0..255.
    """
    present = np.flatnonzero(np.bincount(as_uint8_labels(label_map).ravel(), minlength=256))
    listed = [int(value) for value in (priority or ())]
    bad = [value for value in listed if not 0 < value < _UINT8_VALUES]
    if bad or len(set(listed)) != len(listed):
        raise ValueError(
            f"label priority must list distinct label values in 1..255, got {list(priority or ())}"
        )
    unlisted = [int(value) for value in present if value != 0 and value not in set(listed)]
    order = unlisted + listed  # bottom to top
    rank_of_value = np.zeros(_UINT8_VALUES, dtype=np.uint8)
    rank_of_value[order] = np.arange(1, len(order) + 1)
    value_of_rank = np.array([0, *order], dtype=np.uint8)
    return LabelDrawOrder(rank_of_value, value_of_rank)


def as_uint8_labels(label_map: np.ndarray) -> np.ndarray:
    """`label_map` as uint8 (no copy when it already is).

    Raises:
        ValueError: not an integer array, or values outside 0..255.
    """
    if label_map.dtype == np.uint8:
        return label_map
    if not np.issubdtype(label_map.dtype, np.integer) and label_map.dtype != np.bool_:
        raise ValueError(f"label maps must hold integers, got dtype {label_map.dtype}")
    if label_map.size and (label_map.min() < 0 or label_map.max() >= _UINT8_VALUES):
        raise ValueError("label values must lie in 0..255 (uint8 label maps)")
    return label_map.astype(np.uint8)
