"""Tests for flows/reaper.py: the temporary server is stopped when its run dies, and nothing else is."""

from __future__ import annotations

import subprocess
import sys

from flows.reaper import is_temporary_server
from tests.conftest import REPO, process_running, wait_until

# A stand-in for the server: its command line names uvicorn and the port, as the real one does.
FAKE_SERVER = [sys.executable, "-c", "import time; time.sleep(60)", "uvicorn", "--port", "48123"]
# A parent that starts the reaper for `pid` and exits at once, as a killed run would.
SHORT_LIVED_PARENT = """
import subprocess, sys
import os
subprocess.Popen([sys.executable, "flows/reaper.py", str(os.getpid()), sys.argv[1], "48123"])
"""


def _reap_after_parent_exits(pid: int) -> None:
    subprocess.run([sys.executable, "-c", SHORT_LIVED_PARENT, str(pid)], cwd=REPO, check=True)


def test_the_server_is_stopped_once_the_run_is_gone():
    server = subprocess.Popen(FAKE_SERVER)
    try:
        wait_until(lambda: is_temporary_server(server.pid, "48123"), 10, "the stand-in to run")  # exec'd
        assert not is_temporary_server(server.pid, "48124")
        _reap_after_parent_exits(server.pid)
        wait_until(lambda: server.poll() is not None, 10, "the reaper to stop the server")
    finally:
        server.kill()
        server.wait()


def test_a_process_that_is_not_the_server_is_left_alone():
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert not is_temporary_server(other.pid, "48123")
        _reap_after_parent_exits(other.pid)
        subprocess.run([sys.executable, "-c", "import time; time.sleep(2.5)"])  # the reaper checks once a second
        assert process_running(other.pid)
    finally:
        other.kill()
        other.wait()
