"""Stop the temporary Prefect server when the process that started it dies without stopping it.

    python flows/reaper.py <run pid> <server pid> <server port>

Prefect stops its temporary server at exit (an atexit handler). A run killed with SIGKILL, or
with SIGTERM (Prefect marks the flow run Crashed, then re-raises the signal with the default
handler), runs no exit handler, and the server, a uvicorn process, would run on. The command
line starts this small process beside the server: it checks once a second that the run is
still its parent and, once it is not, terminates the server if it is still running. It checks
the server's command line first (uvicorn and the port), because after a normal exit the pid
may belong to another process by then. It imports nothing heavy.
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
    if is_temporary_server(server, port):
        os.kill(server, signal.SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
