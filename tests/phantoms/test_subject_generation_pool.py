import subprocess
import sys
import textwrap

import pytest

from support.orphaned_workers import kill_and_list_survivors, wait_for_workers

# `generate_subjects` with two workers, each of whose subjects marks it started and then sleeps.
GENERATING_PARENT = """
import sys, time
from pathlib import Path

from anatomy_ssl.phantoms.phantom_dataset_writer import generate_subjects


def slow_subject(index):
    Path(sys.argv[1], f"started-{index}").touch()
    time.sleep(600)


if __name__ == "__main__":
    list(generate_subjects(slow_subject, 8, workers=2, progress=False))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads children from /proc")
def test_generation_workers_die_when_the_generating_process_is_killed(tmp_path):
    script = tmp_path / "generating_parent.py"
    script.write_text(textwrap.dedent(GENERATING_PARENT))
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path)])
    children = wait_for_workers(parent, 2, ready=lambda: len(list(tmp_path.glob("started-*"))) == 2)
    assert kill_and_list_survivors(parent, children) == []
