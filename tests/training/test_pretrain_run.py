"""Smoke runs of every method, resume semantics and the run folder."""

import csv
import io
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from anatomy_ssl.anatomy import build_frame
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.training.pretrain_config import METHOD_NAMES, resolve_pretrain_config
from anatomy_ssl.training.pretrain_run import pretrain


@pytest.mark.parametrize("method", [*METHOD_NAMES])
def test_every_method_trains_and_writes_its_run_folder(tiny_overrides, tmp_path, method):
    config = resolve_pretrain_config(tiny_overrides(method, steps=3))
    result = pretrain(config, tmp_path / "run", progress=False)
    assert result.summary["steps"] == 3 and math.isfinite(result.summary["final_loss"])
    run = tmp_path / "run"
    assert yaml.safe_load((run / "config.yaml").read_text())["method"] == method
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert sorted(p.name for p in (run / "checkpoints").glob("step-*")) == [
        "step-00000002.ckpt",
        "step-00000003.ckpt",
    ]
    metrics = (run / "logs" / "csv" / "metrics.csv").read_text()
    assert "train/loss" in metrics and "collapse/effective_rank" in metrics
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["global_step"] == 3


@pytest.mark.parametrize("method", [*METHOD_NAMES])
def test_every_method_trains_on_2d_radiographs(tiny_overrides, tiny_xray_cache, tmp_path, method):
    overrides = {**tiny_overrides(method, steps=2), "data.source": str(tiny_xray_cache)}
    if method == "drasclr":  # a 2D frame of the radiographs
        frame = build_frame(tiny_xray_cache, patch_vox=16, stride_vox=16, progress=False)
        overrides["drasclr.frame"] = frame.folder
    result = pretrain(resolve_pretrain_config(overrides), tmp_path / "run", progress=False)
    assert result.summary["steps"] == 2 and math.isfinite(result.summary["final_loss"])
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    stem = next(
        v for k, v in state["state_dict"].items() if k.startswith("encoder.") and v.ndim > 2
    )
    # 2D convolution kernels (out, in, kh, kw); DrasCLR's mix experts (experts, out, in, kh, kw)
    assert stem.ndim == (5 if method == "drasclr" else 4)


def test_a_finished_run_is_not_overwritten_without_resume(tiny_overrides, tmp_path):
    config = resolve_pretrain_config(tiny_overrides("simclr", steps=2))
    pretrain(config, tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match="--resume"):
        pretrain(config, tmp_path / "run", progress=False)


def _final_weights(run):
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    return state["global_step"], state["state_dict"]


# moco (queue + key encoder), eden (EMA teacher + centres + curriculum), alice (mined pairs)
# and drasclr (tagged queue + frame patches) cover every kind of state a run carries; the
# others repeat one of them (dino ~ eden, eden_v1 ~ moco, sam: no teacher) and are opt-in
SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    "method",
    [
        "moco",
        "eden",
        "alice",
        "drasclr",
        pytest.param("dino", marks=SLOW),
        pytest.param("eden_v1", marks=SLOW),
        pytest.param("sam", marks=SLOW),
    ],
)
def test_resume_after_sigkill_matches_an_uninterrupted_run(tiny_overrides, tmp_path, method):
    overrides = tiny_overrides(method, steps=30)
    overrides["trainer.checkpoint_every_steps"] = 3
    overrides["data.workers"] = 1
    pairs = [f"{key}={value}" for key, value in overrides.items()]
    command = [sys.executable, "-m", "anatomy_ssl", "pretrain", "--no-progress", *pairs]
    reference = tmp_path / "reference"
    subprocess.run([*command, "--out", str(reference)], check=True, capture_output=True)

    interrupted = tmp_path / "interrupted"
    process = subprocess.Popen(
        [*command, "--out", str(interrupted)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not (interrupted / "checkpoints" / "step-00000006.ckpt").exists():
        assert process.poll() is None and time.monotonic() < deadline, "run ended before the kill"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed_at, _ = _final_weights(interrupted)
    assert 6 <= killed_at < 30
    subprocess.run(
        [*command[:4], "--no-progress", "--resume", "--out", str(interrupted)],
        check=True,
        capture_output=True,
    )
    reference_step, reference_state = _final_weights(reference)
    resumed_step, resumed_state = _final_weights(interrupted)
    assert reference_step == resumed_step == 30
    assert reference_state.keys() == resumed_state.keys()
    for key, value in reference_state.items():
        assert torch.equal(value, resumed_state[key]), key


def test_a_resumed_run_continues_its_metrics_csv_without_a_deletion_warning(
    tiny_overrides, tmp_path, recwarn
):
    run = tmp_path / "run"
    pretrain(resolve_pretrain_config(tiny_overrides("simclr", steps=2)), run, progress=False)
    pretrain(resolve_pretrain_config(), run, resume=True, max_steps=4, progress=False)
    assert not [w for w in recwarn if "Previous log files" in str(w.message)]
    csv_dir = run / "logs" / "csv"
    assert [p.name for p in csv_dir.iterdir()] == ["metrics.csv"]
    with (csv_dir / "metrics.csv").open(newline="") as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == [0, 1, 2, 3]


def test_saving_and_resuming_a_run_logs_no_weights_only_message(
    tiny_overrides, tmp_path, caplog, recwarn
):
    caplog.set_level(logging.INFO)
    run = tmp_path / "run"
    pretrain(resolve_pretrain_config(tiny_overrides("simclr", steps=2)), run, progress=False)
    resumed = pretrain(resolve_pretrain_config(), run, resume=True, max_steps=3, progress=False)
    assert resumed.trained_steps == 1  # saved, restored, saved again
    assert "Restored all states" in caplog.text  # Lightning's records do reach caplog
    assert "weights_only" not in caplog.text
    assert not [w for w in recwarn if "weights_only" in str(w.message)]


def test_each_lightning_log_line_is_printed_once(tiny_overrides, tmp_path, monkeypatch):
    console = io.StringIO()
    # the application's handler (as the CLI's basicConfig) and any console handler Lightning
    # added to its own loggers all print to this one console
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                monkeypatch.setattr(handler, "stream", console)
    application = logging.StreamHandler(console)
    logging.getLogger().addHandler(application)
    try:
        config = resolve_pretrain_config(tiny_overrides("simclr", steps=1))
        pretrain(config, tmp_path / "run", progress=False)
    finally:
        logging.getLogger().removeHandler(application)
    assert console.getvalue().count("GPU available") == 1
    assert console.getvalue().count("`Trainer.fit` stopped") == 1


def test_a_finished_run_extends_to_more_steps_and_its_summary_stays_true(tiny_overrides, tmp_path):
    run = tmp_path / "run"
    pretrain(resolve_pretrain_config(tiny_overrides("simclr", steps=2)), run, progress=False)
    result = pretrain(resolve_pretrain_config(), run, resume=True, max_steps=4, progress=False)
    assert result.trained_steps == 2
    assert _final_weights(run)[0] == 4
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 4 and summary["resumed_from_step"] == 2
    assert math.isfinite(summary["final_loss"])
    assert yaml.safe_load((run / "config.yaml").read_text())["optim"]["max_steps"] == 4


def test_resuming_a_finished_run_trains_nothing_and_keeps_its_summary(tiny_overrides, tmp_path):
    run = tmp_path / "run"
    pretrain(resolve_pretrain_config(tiny_overrides("simclr", steps=2)), run, progress=False)
    before = json.loads((run / "summary.json").read_text())
    result = pretrain(resolve_pretrain_config(), run, resume=True, progress=False)
    assert result.trained_steps == 0
    assert result.summary["steps"] == 2 and math.isfinite(result.summary["final_loss"])
    assert json.loads((run / "summary.json").read_text()) == before


@pytest.mark.parametrize(
    "lose_summary",
    [
        lambda path: path.unlink(),  # killed after its last checkpoint, before the summary
        lambda path: path.write_text('{"final_loss": NaN}'),  # as earlier versions left it
    ],
    ids=["missing", "nan"],
)
def test_a_finished_run_reinvoked_reports_its_true_final_loss_without_a_summary(
    tiny_overrides, tmp_path, lose_summary
):
    run = tmp_path / "run"
    config = resolve_pretrain_config(tiny_overrides("simclr", steps=2))
    finished = pretrain(config, run, progress=False)
    lose_summary(run / "summary.json")
    again = pretrain(config, run, resume=True, progress=False)
    assert again.trained_steps == 0 and again.summary["steps"] == 2
    assert again.summary["final_loss"] == finished.summary["final_loss"]


def test_a_run_cannot_be_shortened_below_the_step_it_reached(tiny_overrides, tmp_path):
    run = tmp_path / "run"
    pretrain(resolve_pretrain_config(tiny_overrides("simclr", steps=3)), run, progress=False)
    with pytest.raises(ConfigError, match="already at step 3"):
        pretrain(resolve_pretrain_config(), run, resume=True, max_steps=2, progress=False)


def test_alice_trains_on_pairs_mined_across_volumes(tiny_overrides, tiny_cache, tmp_path):
    from anatomy_ssl.correspondence import mine_cache

    cache = shutil.copytree(tiny_cache, tmp_path / "cache")  # the shared cache stays unmined
    report = mine_cache(
        cache, matcher_spec="registration", partners=2, points_per_partner=16, progress=False
    )
    folder = Path(report.folder)
    assert report.pairs > 0 and folder.parent.name == "mined"
    overrides = tiny_overrides("alice", steps=2) | {"alice.pairs": "cross_volume"}
    overrides["data.source"] = str(cache)
    with pytest.raises(ConfigError, match="anatomy-ssl mine"):
        pretrain(resolve_pretrain_config(overrides), tmp_path / "unmined", progress=False)
    overrides["alice.mined_pairs"] = str(folder)
    result = pretrain(resolve_pretrain_config(overrides), tmp_path / "run", progress=False)
    assert result.summary["steps"] == 2 and math.isfinite(result.summary["final_loss"])
    metrics = (tmp_path / "run" / "logs" / "csv" / "metrics.csv").read_text()
    assert all(f"train/{term}_loss" in metrics for term in ("cls", "patch", "rec", "align"))
