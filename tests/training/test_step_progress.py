import pytest

from anatomy_ssl.training import step_progress
from anatomy_ssl.training.step_progress import StepProgress


def test_summary_is_steady_state_after_the_warmup_batches(monkeypatch):
    clock = iter([0.0, 0.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 8.5])  # start, end, start, ...
    monkeypatch.setattr(step_progress.time, "perf_counter", lambda: next(clock))
    progress = StepProgress(samples_per_batch=4, enabled=False, warmup_batches=1)
    for _ in range(5):
        progress.on_train_batch_start(None)  # type: ignore[arg-type]
        progress._batch_end = step_progress.time.perf_counter()  # end of the batch
    # steps between starts: 5.0 (slow first, dropped), 1.0, 1.0, 1.0; their waits 0.5 each
    summary = progress.summary()
    assert summary["samples_per_s"] == pytest.approx(4.0)
    assert summary["data_wait_fraction"] == pytest.approx(0.5)


def test_a_run_shorter_than_the_warmup_uses_every_batch():
    progress = StepProgress(samples_per_batch=2, enabled=False, warmup_batches=10)
    progress._steps, progress._waits = [1.0, 1.0], [0.25, 0.25]
    assert progress.summary() == {"samples_per_s": 2.0, "data_wait_fraction": 0.25}
