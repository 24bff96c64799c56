import logging

from PIL import Image

from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord
from anatomy_ssl.reporting.embedding_map_plot import embedding_maps, plot_embedding_maps
from anatomy_ssl.reporting.png_figure import is_png


def _record(method, seed, embedding_map):
    return EvaluationRecord(
        method,
        "d",
        "locality",
        seed,
        {"knn_accuracy": 0.5},
        details={"embedding_map": embedding_map},
    )


def test_one_map_per_method_from_its_lowest_seed_and_malformed_maps_skipped(caplog):
    good = {"xy": [[0, 0], [1, 1], [2, 0]], "labels": ["a", "b", 3]}
    records = [
        _record("eden", 1, {"xy": [[5, 5]], "labels": ["a"]}),
        _record("eden", 0, good),
        _record("scratch", 0, {"xy": [[0, 0, 0]], "labels": ["a"]}),  # not 2D
        _record("simclr", 0, {"labels": ["a"]}),  # no xy
    ]
    with caplog.at_level(logging.WARNING):
        maps = embedding_maps(records)
    assert [(m.method, m.seed) for m in maps] == [("eden", 0)]
    assert maps[0].xy.shape == (3, 2) and maps[0].labels == ["a", "b", "3"]
    assert "unusable embedding map" in caplog.text and "needs xy (N, 2)" in caplog.text


def test_panels_per_method_into_a_valid_png(tmp_path, benchmark_writer):
    records = [r for r in benchmark_writer(tmp_path / "records") if r.protocol == "locality"]
    path = plot_embedding_maps(records, tmp_path / "map.png")
    assert is_png(path)
    with Image.open(path) as image:
        image.verify()
    assert plot_embedding_maps([], tmp_path / "none.png") is None
