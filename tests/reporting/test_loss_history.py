import json

from anatomy_ssl.reporting.loss_history import find_runs, read_loss_histories, read_loss_history


def _write(path, rows, header="collapse/effective_rank,epoch,step,train/loss,train/lr"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "\n".join(rows) + "\n")


def test_resumed_pieces_are_joined_in_step_order_and_the_later_piece_wins(tmp_path):
    run = tmp_path / "run"
    csv_dir = run / "logs" / "csv"
    # first run: steps 0-5; resumed from step 3 (the last checkpoint): steps 4-9, logged again
    # from 4; resumed again from 8: steps 9-11 in the live metrics.csv
    _write(csv_dir / "metrics-until-step-5.csv", [f"2.5,0,{s},{10 - s},0.1" for s in range(6)])
    _write(csv_dir / "metrics-until-step-9.csv", [f"2.5,0,{s},{100 + s},0.1" for s in range(4, 10)])
    _write(csv_dir / "metrics.csv", [f"2.5,0,{s},{200 + s},0.1" for s in range(9, 12)])
    (run / "summary.json").write_text(json.dumps({"method": "eden"}))
    history = read_loss_history(run)
    assert history.method == "eden" and history.label == "eden"
    assert history.steps.tolist() == list(range(12))
    assert history.loss.tolist() == [10, 9, 8, 7, 104, 105, 106, 107, 108, 209, 210, 211]


def test_piece_order_comes_from_the_steps_not_the_file_name(tmp_path):
    # the `<k>` of a renamed piece is whatever the first CSV column held (here a rank value)
    csv_dir = tmp_path / "run" / "logs" / "csv"
    _write(csv_dir / "metrics-until-step-9.5.csv", [f"9.5,0,{s},{100 + s},0.1" for s in (4, 5)])
    _write(csv_dir / "metrics-until-step-2.4.csv", [f"2.4,0,{s},{s},0.1" for s in range(6)])
    history = read_loss_history(tmp_path / "run")
    assert history.loss.tolist() == [0, 1, 2, 3, 104, 105]
    assert history.label == "run" and history.method is None  # no summary.json


def test_rows_without_loss_are_skipped_and_runs_without_loss_ignored(tmp_path):
    csv_dir = tmp_path / "runs" / "a" / "logs" / "csv"
    _write(csv_dir / "metrics.csv", ["2.5,0,0,,0.1", "2.5,0,1,3.0,0.1", ",0,2,nan,"])
    _write(tmp_path / "runs" / "b" / "logs" / "csv" / "metrics.csv", ["1,2"], header="epoch,step")
    assert find_runs(tmp_path / "runs") == [tmp_path / "runs" / "a", tmp_path / "runs" / "b"]
    histories = read_loss_histories(tmp_path / "runs")
    assert len(histories) == 1 and histories[0].steps.tolist() == [1]
    assert read_loss_histories(tmp_path / "missing") == []


def test_runs_sharing_a_method_get_their_folder_in_the_label(tmp_path):
    for name in ("ct", "mri"):
        run = tmp_path / "runs" / name / "eden"
        _write(run / "logs" / "csv" / "metrics.csv", ["2.5,0,0,1.0,0.1"])
        (run / "summary.json").write_text(json.dumps({"method": "eden"}))
    labels = [h.label for h in read_loss_histories(tmp_path / "runs")]
    assert labels == ["eden (ct/eden)", "eden (mri/eden)"]
    # a single run folder given directly
    assert [h.label for h in read_loss_histories(tmp_path / "runs" / "ct" / "eden")] == ["eden"]
