"""Tests for flows/reaper.py: the temporary server is stopped when its run dies, and nothing else is."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from flows.reaper import is_temporary_server
from tests.conftest import REPO, process_running, wait_until

# A stand-in for the server: its command line names uvicorn and the port, as the real one does.
# Each prints "ready" once set up, so that the reaper never signals a stubborn one before it
# ignores SIGTERM (under load, that race killed it with SIGTERM).
FAKE_SERVER = [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)",
               "uvicorn", "--port", "48123"]
STUBBORN_SERVER = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "print('ready', flush=True); time.sleep(60)", "uvicorn", "--port", "48123"]
# A parent that starts the reaper for `pid`, prints the reaper's pid and exits at once, as a
# killed run would.
SHORT_LIVED_PARENT = """
import os, subprocess, sys
reaper = subprocess.Popen([sys.executable, "flows/reaper.py", str(os.getpid()), sys.argv[1], "48123"])
print(reaper.pid)
"""


def _reap_after_parent_exits(pid: int) -> int:
    """Start a reaper for `pid` whose parent is gone at once; the reaper's pid."""
    parent = subprocess.run([sys.executable, "-c", SHORT_LIVED_PARENT, str(pid)], cwd=REPO, check=True,
                            capture_output=True, text=True)
    return int(parent.stdout)


@pytest.mark.parametrize("command, signal_number", [(FAKE_SERVER, signal.SIGTERM), (STUBBORN_SERVER, signal.SIGKILL)])
def test_the_server_is_stopped_once_the_run_is_gone(command: list[str], signal_number: int):
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        wait_until(lambda: is_temporary_server(server.pid, "48123"), 10, "the stand-in to run")  # exec'd
        assert not is_temporary_server(server.pid, "48124")
        _reap_after_parent_exits(server.pid)
        wait_until(lambda: server.poll() is not None, 20, "the reaper to stop the server")
        assert server.returncode == -signal_number  # a server that ignores SIGTERM is killed 5 s later
    finally:
        server.kill()
        server.wait()


def test_a_process_that_is_not_the_server_is_left_alone():
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert not is_temporary_server(other.pid, "48123")
        reaper = _reap_after_parent_exits(other.pid)
        wait_until(lambda: not process_running(reaper), 15, "the reaper to finish")
        assert process_running(other.pid)
    finally:
        other.kill()
        other.wait()
