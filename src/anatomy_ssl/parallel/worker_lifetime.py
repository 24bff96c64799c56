"""Pool workers that die with their parent process.

A pool's worker (`ProcessPoolExecutor`, `multiprocessing.Pool`) waits on its task queue. When the
parent is killed outright (SIGKILL, out of memory), nothing tells the worker: it finishes the
tasks already queued, writing as it goes, and then waits for more forever, an orphan. Calling
`die_with_parent()` first in each pool's initializer ends the worker with its parent instead:

- on Linux the kernel sends the worker SIGKILL when its parent dies (`prctl(PR_SET_PDEATHSIG)`).
  The kernel follows the parent *thread* that started the worker, so a pool must be started
  and shut down by one thread (as every `with` block of a pool is);
- elsewhere (macOS, Windows, a Linux without a usable `prctl`) a daemon thread of the worker
  waits on the parent's sentinel, which wakes when the parent dies, and exits the worker.

Either way the worker dies mid-task as if it had been killed itself, which the cache tolerates
(entries are staged and renamed into place atomically).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from multiprocessing.process import BaseProcess

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
ORPHAN_EXIT_STATUS = 1


def die_with_parent() -> None:
    """End this worker process when its parent process dies; a no-op outside a worker.

    Call it first in a pool's initializer (or pass it as the initializer).
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if not _kernel_kills_on_parent_death():
        threading.Thread(
            target=_exit_when_gone, args=(parent,), name="parent-watchdog", daemon=True
        ).start()
        return
    if os.getppid() != parent.pid:  # the parent died before the kernel was asked to watch it
        os._exit(ORPHAN_EXIT_STATUS)


def _kernel_kills_on_parent_death() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where that is impossible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        status = libc.prctl(
            PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), *[ctypes.c_ulong(0)] * 3
        )
    except (OSError, AttributeError):  # no C library to load, or one without prctl
        return False
    return bool(status == 0)


def _exit_when_gone(parent: BaseProcess) -> None:
    """Watchdog thread: block until `parent` is gone, then end this whole process."""
    parent.join()
    os._exit(ORPHAN_EXIT_STATUS)
