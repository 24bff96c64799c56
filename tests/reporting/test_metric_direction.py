import math

import pytest

from anatomy_ssl.reporting.metric_direction import (
    best_value,
    direction_arrow,
    is_better,
    lower_is_better,
)


@pytest.mark.parametrize(
    ("metric", "lower"),
    [
        ("median_error_mm", True),
        ("mean_error_mm", True),
        ("hausdorff_mm", True),
        ("reconstruction_error", True),
        ("within_10mm", False),
        ("finetune_k1_dice", False),
        ("severity_auc", False),
        ("survival_c_index", False),
        ("silhouette", False),
    ],
)
def test_direction_follows_the_name(metric, lower):
    assert lower_is_better(metric) is lower
    assert direction_arrow(metric) == ("↓" if lower else "↑")


def test_is_better_and_best_value_respect_direction_and_skip_nan():
    assert is_better(0.8, 0.7, "frozen_k5_dice") and not is_better(0.7, 0.8, "frozen_k5_dice")
    assert is_better(3.0, 4.0, "median_error_mm") and not is_better(4.0, 3.0, "median_error_mm")
    assert not is_better(math.nan, 1.0, "knn_accuracy") and is_better(1.0, math.nan, "knn_accuracy")
    assert best_value([0.2, math.nan, 0.9], "knn_accuracy") == 0.9
    assert best_value([5.0, 2.0, math.nan], "mean_error_mm") == 2.0
    assert math.isnan(best_value([math.nan], "mean_error_mm"))
