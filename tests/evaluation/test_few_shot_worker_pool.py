import subprocess
import sys
import textwrap

import pytest

from support.orphaned_workers import kill_and_list_survivors, wait_for_workers

# A pool started the way the few-shot grid starts its workers, each worker busy with a slow task.
FEW_SHOT_PARENT = """
import multiprocessing, sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from anatomy_ssl.evaluation import few_shot_segmentation


def slow_run(index):
    Path(sys.argv[1], f"started-{index}").touch()
    time.sleep(600)


if __name__ == "__main__":
    with ProcessPoolExecutor(
        2,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=few_shot_segmentation._start_worker,
        initargs=(None, 1),
    ) as pool:
        for future in [pool.submit(slow_run, index) for index in range(2)]:
            future.result()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads children from /proc")
def test_few_shot_workers_die_when_the_evaluating_process_is_killed(tmp_path):
    script = tmp_path / "few_shot_parent.py"
    script.write_text(textwrap.dedent(FEW_SHOT_PARENT))
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path)])
    children = wait_for_workers(parent, 2, ready=lambda: len(list(tmp_path.glob("started-*"))) == 2)
    assert kill_and_list_survivors(parent, children) == []
