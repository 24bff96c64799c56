import csv

from anatomy_ssl.training.metrics_csv_logger import MetricsCsvLogger


def _rows(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_resumed_run_keeps_earlier_rows_and_replaces_those_of_the_steps_it_redoes(tmp_path):
    interrupted = MetricsCsvLogger(tmp_path)
    for step in range(8):  # killed at step 7; its last checkpoint was at step 6
        interrupted.log_metrics({"train/loss": 1.0}, step=step)
    resumed = MetricsCsvLogger(tmp_path, start_step=6)
    for step in (6, 7, 8):
        resumed.log_metrics({"train/loss": 2.0}, step=step)
    rows = _rows(tmp_path / "metrics.csv")
    assert [int(r["step"]) for r in rows] == list(range(9))
    assert [float(r["train/loss"]) for r in rows] == [1.0] * 6 + [2.0] * 3


def test_a_metric_first_logged_later_gets_a_column_and_rows_are_written_at_once(tmp_path):
    logger = MetricsCsvLogger(tmp_path)
    logger.log_metrics({"train/loss": 3.0}, step=0)
    assert _rows(tmp_path / "metrics.csv") == [{"step": "0", "train/loss": "3.0"}]
    logger.log_metrics({"train/loss": 2.0, "perf/samples_per_s": 5.0}, step=1)
    logger.log_metrics({"train/loss": 1.0}, step=2)
    assert _rows(tmp_path / "metrics.csv") == [
        {"step": "0", "perf/samples_per_s": "", "train/loss": "3.0"},
        {"step": "1", "perf/samples_per_s": "5.0", "train/loss": "2.0"},
        {"step": "2", "perf/samples_per_s": "", "train/loss": "1.0"},
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]  # no staging file left
