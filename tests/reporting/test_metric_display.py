import math

import pytest

from anatomy_ssl.reporting.metric_display import format_number, metric_decimals, metric_label


@pytest.mark.parametrize(
    ("metric", "label"),
    [
        ("finetune_k5_dice", "fine-tune k=5 Dice"),
        ("frozen_kall_dice", "frozen k=all Dice"),
        ("median_error_mm", "median error (mm)"),
        ("within_10mm", "within 10 mm"),
        ("knn_accuracy", "kNN accuracy"),
        ("severity_auc", "severity AUC"),
        ("survival_c_index", "survival C-index"),
        ("part_whole_cosine_mean", "part-whole cosine"),
        ("part_whole_cosine_std", "part whole cosine std"),
    ],
)
def test_labels_read_well(metric, label):
    assert metric_label(metric) == label


def test_decimals_dice_three_mm_one_and_nan_is_a_dash():
    assert metric_decimals("finetune_k1_dice") == 3 and metric_decimals("median_error_mm") == 1
    assert format_number(0.81234, "finetune_k1_dice") == "0.812"
    assert format_number(7.46, "median_error_mm") == "7.5"
    assert format_number(math.nan, "median_error_mm") == "—"
