"""SIGKILL a process that runs a worker pool and list the workers that outlive it (Linux: children
are found through /proc by psutil). Shared by the pool tests of preprocessing, phantom
generation and few-shot evaluation."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable

import psutil

SPAWNED_WORKER = "spawn_main"  # in the command line of every process the spawn start method makes
WORKERS_TIMEOUT_S = 120.0  # interpreter start and imports, slow on a loaded 2-core machine
EXIT_GRACE_S = 10.0


def wait_for_workers(
    parent: subprocess.Popen, count: int, ready: Callable[[], bool] = lambda: True
) -> list[psutil.Process]:
    """Every descendant of `parent` once `count` spawned workers run and `ready()` holds.

    Fails if `parent` ends first (the test would then prove nothing).
    """
    deadline = time.monotonic() + WORKERS_TIMEOUT_S
    while time.monotonic() < deadline:
        assert parent.poll() is None, f"the pool's process ended early: {parent.communicate()}"
        children = psutil.Process(parent.pid).children(recursive=True)
        workers = [child for child in children if _is_spawned_worker(child)]
        if len(workers) >= count and ready():
            return children
        time.sleep(0.05)
    raise AssertionError(f"no {count} busy workers after {WORKERS_TIMEOUT_S} s")


def kill_and_list_survivors(
    parent: subprocess.Popen, children: list[psutil.Process]
) -> list[psutil.Process]:
    """SIGKILL `parent`, give its `children` `EXIT_GRACE_S` to end, and return those still
    running (killed afterwards, so that a failing test leaves no process behind)."""
    parent.send_signal(signal.SIGKILL)
    parent.communicate()  # reaps it, and closes its pipes if it has any
    deadline = time.monotonic() + EXIT_GRACE_S
    survivors = children
    while survivors and time.monotonic() < deadline:
        time.sleep(0.1)
        survivors = [child for child in survivors if _is_running(child)]
    for child in survivors:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    return survivors


def _is_spawned_worker(process: psutil.Process) -> bool:
    try:
        return any(SPAWNED_WORKER in part for part in process.cmdline())
    except psutil.Error:
        return False


def _is_running(process: psutil.Process) -> bool:
    """Alive and not a zombie (an orphan that died waits for init to reap it)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
