import ctypes
import subprocess
import sys
import textwrap
import threading

import pytest

from anatomy_ssl.parallel import die_with_parent
from support.orphaned_workers import kill_and_list_survivors, wait_for_workers

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Linux: children are found through /proc"
)

PR_GET_PDEATHSIG = 2

# A process pool whose two workers each take a task that marks it started and then sleeps.
POOL_PARENT = """
import multiprocessing, sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from anatomy_ssl.parallel import die_with_parent


def start_worker(platform):
    sys.platform = platform  # "darwin": a system without prctl
    die_with_parent()


def work(marker):
    Path(marker).touch()
    time.sleep(600)


if __name__ == "__main__":
    folder, platform = sys.argv[1], sys.argv[2]
    with ProcessPoolExecutor(
        2,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
        initargs=(platform,),
    ) as pool:
        for future in [pool.submit(work, f"{folder}/started-{k}") for k in range(2)]:
            future.result()
"""


@pytest.mark.parametrize(
    "platform",
    [
        pytest.param("linux", id="the kernel kills them"),
        pytest.param("darwin", id="without prctl a watchdog thread ends them"),
    ],
)
def test_busy_pool_workers_die_when_their_parent_is_killed(tmp_path, platform):
    script = tmp_path / "pool_parent.py"
    script.write_text(textwrap.dedent(POOL_PARENT))
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path), platform])
    children = wait_for_workers(parent, 2, ready=lambda: len(list(tmp_path.glob("started-*"))) == 2)
    assert kill_and_list_survivors(parent, children) == []


def test_outside_a_pool_worker_nothing_is_armed():
    die_with_parent()
    signal_number = ctypes.c_int(-1)
    libc = ctypes.CDLL(None)
    assert libc.prctl(PR_GET_PDEATHSIG, ctypes.byref(signal_number), 0, 0, 0) == 0
    assert signal_number.value == 0
    assert "parent-watchdog" not in [thread.name for thread in threading.enumerate()]
