"""Run independent per-volume tasks in spawned worker processes, yielding each outcome as it
completes; a task whose worker died becomes an outcome too, so a batch job records it and goes
on (preprocessing, pair mining and the anatomical frame all work this way)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from anatomy_ssl.parallel.worker_lifetime import die_with_parent

Task = TypeVar("Task")
Outcome = TypeVar("Outcome")

#: The reason given for the tasks of a worker that died.
WORKER_DIED = "worker process died (killed or out of memory?); rerun to retry"


def outcomes_in_completion_order(
    work: Callable[[Task], Outcome],
    tasks: Sequence[Task],
    workers: int,
    *,
    on_worker_death: Callable[[Task], Outcome],
    initializer: Callable[..., None] = die_with_parent,
    initargs: tuple[Any, ...] = (),
) -> Iterator[Outcome]:
    """`work(task)` for every task in a pool of `workers` spawned processes (no fork of a
    threaded parent), outcomes in completion order.

    When a worker is killed (for example out of memory) the pool breaks: every task not yet
    finished yields `on_worker_death(task)` instead of raising, so what is already written
    stays and a rerun retries exactly those tasks.

    Args:
        work: a module-level function (it is pickled into the workers).
        tasks: picklable tasks.
        workers: processes (at most one per task).
        on_worker_death: the outcome that stands for a task whose worker died.
        initializer: runs once in each worker; it must call `die_with_parent` (the default
            does) so that no orphan goes on writing after the parent is killed.
        initargs: arguments of `initializer`.
    """
    if not tasks:
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(tasks))),
        mp_context=context,
        initializer=initializer,
        initargs=initargs,
    ) as pool:
        futures: dict[Future[Outcome], Task] = {pool.submit(work, task): task for task in tasks}
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool:
                yield on_worker_death(futures[future])
