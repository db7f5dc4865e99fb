"""Stop the temporary Prefect server when the process that started it dies without stopping it.

    python flows/reaper.py <run pid> <server pid> <server port>

Prefect stops its temporary server at exit (an atexit handler). A run killed with SIGKILL, or
with SIGTERM (Prefect marks the flow run Crashed, then re-raises the signal with the default
handler), runs no exit handler, and the server, a uvicorn process, would run on. The command
line starts this small process beside the server: it checks once a second that the run is
still its parent and, once it is not, terminates the server if it is still running. It checks
the server's command line first (uvicorn and the port), because after a normal exit the pid
may belong to another process by then; like Prefect's own stop, it kills a server that has not
exited 5 s after SIGTERM. It reads /proc: on Linux only (elsewhere it does nothing). It imports
nothing heavy.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


def is_temporary_server(pid: int, port: str) -> bool:
    """The process `pid` is a uvicorn process serving Prefect's API on `port`."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"uvicorn" in arguments and port.encode() in arguments


def main(argv: list[str]) -> int:
    """Wait for the run to go, then terminate the server it left behind, if any. (The run's pid
    comes as an argument: a run that died before this process started is already gone.)"""
    run, server, port = int(argv[0]), int(argv[1]), argv[2]
    while os.getppid() == run:
        time.sleep(1)
    for stop in (signal.SIGTERM, signal.SIGKILL):  # SIGKILL only if it outlived SIGTERM by 5 s
        if not _still_running(server, port, seconds=0 if stop == signal.SIGTERM else 5):
            break
        os.kill(server, stop)
    return 0


def _still_running(server: int, port: str, seconds: float) -> bool:
    """Whether the server is still running after waiting up to `seconds` for it to exit."""
    deadline = time.monotonic() + seconds
    while is_temporary_server(server, port):
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.1)
    return False


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
