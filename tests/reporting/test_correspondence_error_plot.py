import math

from PIL import Image

from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.reporting.correspondence_error_plot import (
    correspondence_errors,
    plot_correspondence_errors,
)
from anatomy_ssl.reporting.png_figure import is_png


def _record(method, seed, errors):
    return EvaluationRecord(
        method, "d", "correspondence", seed, {"median_error_mm": 1.0}, {"error_mm": errors}
    )


def test_errors_pool_over_seeds_drop_non_finite_and_follow_report_order():
    records = [
        _record("eden", 0, [1.0, math.nan]),
        _record("eden", 1, [2.0]),
        _record("scratch", 0, [5.0, 6.0]),
        _record("simclr", 0, []),
    ]
    errors = correspondence_errors(records)
    assert list(errors) == ["scratch", "eden"]
    assert errors["eden"].tolist() == [1.0, 2.0]


def test_ecdf_plot_is_a_valid_png_and_skips_without_errors(tmp_path, benchmark_writer):
    records = [r for r in benchmark_writer(tmp_path / "records") if r.protocol == "correspondence"]
    path = plot_correspondence_errors(records, tmp_path / "ecdf.png")
    assert is_png(path)
    with Image.open(path) as image:
        image.verify()
    empty = [EvaluationRecord("eden", "d", "correspondence", 0, {"median_error_mm": 3.0})]
    assert plot_correspondence_errors(empty, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()
