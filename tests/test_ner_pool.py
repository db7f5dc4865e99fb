"""Tests for tasks/ner_pool.py: the NER worker processes, which the command line may start
before it imports Prefect."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.conftest import REPO, heavy_imports, process_running, wait_until


def test_the_pool_module_imports_neither_prefect_nor_pyarrow():
    assert heavy_imports("tasks.ner_pool") == []


POOL_HOLDER = """
from tasks.ner_pool import ner_pool, start_ner_workers, wait_for_started_workers
import time
start_ner_workers(2, 2)
wait_for_started_workers(2)
print(*ner_pool(2)._processes, flush=True)
time.sleep(120)
"""


def test_ner_workers_exit_when_the_flow_process_is_killed():
    holder = subprocess.Popen([sys.executable, "-c", POOL_HOLDER], cwd=REPO, stdout=subprocess.PIPE, text=True)
    workers = [int(pid) for pid in holder.stdout.readline().split()]
    try:
        assert len(workers) == 2 and all(process_running(pid) for pid in workers)
        holder.kill()  # SIGKILL: no exit handler shuts the pool down
        holder.wait()
        wait_until(lambda: not any(process_running(pid) for pid in workers), 15, "the orphaned NER workers to exit")
    finally:
        for pid in workers:
            if process_running(pid):
                os.kill(pid, signal.SIGKILL)


FLOW_RUN_PROCESS = """
import multiprocessing
from tasks.ner_pool import release_ner_workers, start_ner_workers, wait_for_started_workers


def flow_run(release: bool) -> None:
    start_ner_workers(2, 1)
    wait_for_started_workers(2)
    if release:
        release_ner_workers()


if __name__ == "__main__":
    # As Prefect's runner starts a flow run: a process of its own, started by multiprocessing.
    child = multiprocessing.get_context("spawn").Process(target=flow_run, args=(True,))
    child.start()
    child.join(timeout=60)
    print("hung" if child.is_alive() else f"exited {child.exitcode}", flush=True)
    if child.is_alive():
        child.kill()  # its NER worker exits with it (exit_with_parent)
"""


def test_a_flow_run_process_started_by_multiprocessing_exits_once_it_releases_its_ner_workers(tmp_path):
    """Such a process joins its children before the exit hooks that would shut the pool down:
    without release_ner_workers it never exits (checked: it hangs)."""
    script = tmp_path / "flow_run_process.py"
    script.write_text(FLOW_RUN_PROCESS)
    result = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env=os.environ | {"PYTHONPATH": str(REPO)})
    assert result.stdout.strip() == "exited 0", result.stdout + result.stderr

