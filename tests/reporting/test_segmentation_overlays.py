from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.reporting.png_figure import is_png
from anatomy_ssl.reporting.segmentation_overlays import collect_overlays


def _record(method, seed, overlay):
    return EvaluationRecord(
        method,
        "d",
        "few_shot_segmentation",
        seed,
        {"finetune_k1_dice": 0.5},
        details={"overlay_png": overlay},
    )


def test_overlays_resolve_copy_into_plots_and_skip_missing(tmp_path, overlay_writer):
    records_dir = tmp_path / "records"
    beside = overlay_writer(records_dir / "d" / "eden" / "eden.png")
    absolute = overlay_writer(tmp_path / "elsewhere" / "mae.png")
    (tmp_path / "not.png").write_text("not a png")
    records = [
        _record("eden", 1, "eden.png"),  # beside the record file
        _record("eden", 0, "missing.png"),  # lowest seed, but nothing readable
        _record("mae", 0, [str(absolute), str(tmp_path / "not.png")]),
        _record("scratch", 0, 42),  # not a path
    ]
    figures = collect_overlays(records, records_dir, tmp_path / "report" / "plots")
    assert [f.caption for f in figures] == ["mae, seed 0", "eden, seed 1"]
    assert all(f.path.parent == tmp_path / "report" / "plots" and is_png(f.path) for f in figures)
    assert figures[1].path.read_bytes() == beside.read_bytes()
