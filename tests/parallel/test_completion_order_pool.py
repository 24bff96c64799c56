"""Outcomes in completion order: every task's result comes back, and the tasks of a worker that
died become outcomes instead of an exception; rejects files are written whole."""

import csv

import pytest

from anatomy_ssl.parallel import WORKER_DIED, outcomes_in_completion_order, write_rejects


def _died(value: int) -> str:
    return f"{value}: {WORKER_DIED}"


@pytest.fixture(autouse=True)
def _importable(monkeypatch, pytestconfig):
    # spawned workers unpickle the task functions by module name
    monkeypatch.syspath_prepend(str(pytestconfig.rootpath / "tests" / "parallel"))


def test_every_task_comes_back_once():
    from pool_tasks import square

    outcomes = list(outcomes_in_completion_order(square, [1, 2, 3, 4], 2, on_worker_death=_died))
    assert sorted(outcomes) == [1, 4, 9, 16]
    assert list(outcomes_in_completion_order(square, [], 2, on_worker_death=_died)) == []


def test_a_dead_worker_turns_its_tasks_into_outcomes():
    from pool_tasks import square_or_die

    outcomes = list(outcomes_in_completion_order(square_or_die, [3], 2, on_worker_death=_died))
    assert outcomes == [f"3: {WORKER_DIED}"]


def test_rejects_are_written_with_their_header(tmp_path):
    path = tmp_path / "rejects.csv"
    write_rejects(path, ("key", "reason"), [("a", "bad, very"), ("b", "worse")])
    rows = list(csv.reader(path.open()))
    assert rows == [["key", "reason"], ["a", "bad, very"], ["b", "worse"]]
    assert [p.name for p in tmp_path.iterdir()] == ["rejects.csv"]  # no staging file left
