import numpy as np
from PIL import Image

from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.reporting.label_efficiency_plot import (
    has_label_efficiency,
    plot_label_efficiency,
)
from anatomy_ssl.reporting.png_figure import is_png


def test_plots_one_panel_per_mode_into_a_valid_png(tmp_path, benchmark_writer):
    records = [
        r for r in benchmark_writer(tmp_path / "records") if r.protocol == "few_shot_segmentation"
    ]
    assert has_label_efficiency(records)
    path = plot_label_efficiency(records, tmp_path / "curves.png", colors={"eden": "#000000"})
    assert path == tmp_path / "curves.png" and is_png(path)
    with Image.open(path) as image:
        image.verify()
        width, height = image.size
    assert width > height  # two panels side by side


def test_single_seed_without_samples_and_only_k_all_still_plots(tmp_path):
    records = [
        EvaluationRecord("scratch", "d", "few_shot_segmentation", 0, {"frozen_kall_dice": 0.5}),
        EvaluationRecord("eden", "d", "few_shot_segmentation", 0, {"frozen_kall_dice": np.nan}),
    ]
    assert is_png(plot_label_efficiency(records, tmp_path / "one.png"))


def test_nothing_to_plot_writes_nothing(tmp_path):
    records = [EvaluationRecord("eden", "d", "locality", 0, {"knn_accuracy": 0.9})]
    assert not has_label_efficiency(records)
    assert plot_label_efficiency(records, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()
