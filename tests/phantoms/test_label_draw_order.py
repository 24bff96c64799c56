from __future__ import annotations

import numpy as np
import pytest

from anatomy_ssl.phantoms.label_draw_order import as_uint8_labels, label_draw_order


def _top_label(label_map: np.ndarray, priority: list[int] | None) -> np.ndarray:
    order = label_draw_order(label_map, priority)
    return order.labels(order.ranks(label_map).max(axis=1))


def test_default_order_puts_the_largest_value_on_top() -> None:
    rays = np.array([[0, 0, 0], [1, 0, 3], [2, 7, 1]], dtype=np.uint8)  # 3 rays of 3 samples
    np.testing.assert_array_equal(_top_label(rays, None), [0, 3, 7])


def test_priority_lists_bottom_to_top_and_unlisted_labels_go_beneath() -> None:
    rays = np.array([[1, 3, 0], [2, 7, 1], [5, 7, 0], [5, 0, 0]], dtype=np.uint8)
    # 1 is drawn last (on top), then 7 below it; 2, 3 and 5 are unlisted, so beneath both.
    np.testing.assert_array_equal(_top_label(rays, [7, 1]), [1, 1, 7, 5])


def test_tables_map_values_to_ranks_and_back() -> None:
    order = label_draw_order(np.array([0, 4, 9], dtype=np.uint8), [9, 4, 200])
    assert order.rank_of_value[[0, 4, 9, 200, 5]].tolist() == [0, 2, 1, 3, 0]
    assert order.value_of_rank.tolist() == [0, 9, 4, 200]


@pytest.mark.parametrize("priority", [[0, 1], [1, 256], [2, 2], [-1]])
def test_bad_priorities_are_refused(priority: list[int]) -> None:
    with pytest.raises(ValueError, match="distinct label values"):
        label_draw_order(np.zeros(3, dtype=np.uint8), priority)


def test_other_integer_label_maps_are_accepted_in_range() -> None:
    assert as_uint8_labels(np.array([0, 255], dtype=np.int64)).dtype == np.uint8
    with pytest.raises(ValueError, match=r"0\.\.255"):
        as_uint8_labels(np.array([300]))
    with pytest.raises(ValueError, match="integers"):
        as_uint8_labels(np.array([1.5]))
