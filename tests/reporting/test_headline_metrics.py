from anatomy_ssl.reporting.headline_metrics import (
    FewShotMetric,
    headline_metrics,
    parse_few_shot_metric,
    protocol_sort_key,
    protocol_title,
)


def test_few_shot_columns_are_ordered_by_mode_then_k_with_all_last():
    available = [
        "frozen_k2_dice",
        "finetune_kall_dice",
        "finetune_k10_dice",
        "finetune_k2_dice",
        "finetune_k1_dice",
        "finetune_k1_dice_liver",  # per-structure: not a headline
        "train_seconds",
    ]
    assert headline_metrics("few_shot_segmentation", available) == [
        "finetune_k1_dice",
        "finetune_k2_dice",
        "finetune_k10_dice",
        "finetune_kall_dice",
        "frozen_k2_dice",
    ]


def test_correspondence_headlines_and_fallback_to_every_metric():
    available = ["within_20mm", "within_5mm", "mean_error_mm", "median_error_mm", "n_pairs"]
    assert headline_metrics("correspondence", available) == [
        "median_error_mm",
        "mean_error_mm",
        "within_5mm",
        "within_20mm",
    ]
    assert headline_metrics("my_protocol", ["b2", "a", "b10"]) == ["a", "b2", "b10"]
    assert headline_metrics("locality", ["other"]) == ["other"]


def test_parse_few_shot_metric_and_protocol_order():
    assert parse_few_shot_metric("frozen_k5_dice") == FewShotMetric("frozen", 5)
    assert parse_few_shot_metric("finetune_kall_dice") == FewShotMetric("finetune", None)
    assert parse_few_shot_metric("median_error_mm") is None
    protocols = ["zeta", "patient_prediction", "few_shot_segmentation", "locality"]
    assert sorted(protocols, key=protocol_sort_key) == [
        "few_shot_segmentation",
        "locality",
        "patient_prediction",
        "zeta",
    ]
    assert protocol_title("few_shot_segmentation") == "Few-shot segmentation"
    assert protocol_title("organ_volume") == "Organ volume"
