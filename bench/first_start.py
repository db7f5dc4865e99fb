"""How long Prefect's temporary server takes to answer with a new Prefect home (a new user's first
run: the server creates and migrates its database), on an idle machine and with busy processes
beside it, against the wait newsflow gives it (tasks/settings.TEMPORARY_SERVER_START_SECONDS).

    .venv/bin/python bench/first_start.py [--repeats 3] [--busy 0 2 4] [--json bench/results/first_start.json]

Each start runs in a fresh process, as `newsflow run` starts the server; the busy processes are
pure-Python loops, one per core at --busy 2 on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import report
from tasks.settings import TEMPORARY_SERVER_START_SECONDS

REPO = Path(__file__).resolve().parent.parent

START = """
import time
from prefect.server.api.server import SubprocessASGIServer
server = SubprocessASGIServer()
started = time.monotonic()
server.start(timeout=3600)
print(time.monotonic() - started)
server.stop()
"""


def start_seconds() -> float:
    """Seconds from starting the server to its first healthy answer, with a new Prefect home."""
    with tempfile.TemporaryDirectory() as home:
        env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
        env |= {"PREFECT_HOME": home, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"}
        result = subprocess.run([sys.executable, "-c", START], env=env, cwd=REPO, capture_output=True, text=True,
                                check=True)
        return float(result.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 2, 4], help="busy processes beside the start")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    figures: dict = {"cores": os.cpu_count(), "newsflow_wait_seconds": TEMPORARY_SERVER_START_SECONDS,
                     "prefect_default_wait_seconds": 20, "start_seconds": {}}
    for busy in args.busy:
        loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            time.sleep(1 if busy else 0)
            figures["start_seconds"][f"{busy} busy"] = [round(start_seconds(), 1) for _ in range(args.repeats)]
        finally:
            for loop in loops:
                loop.kill()
                loop.wait()
    worst = max(max(seconds) for seconds in figures["start_seconds"].values())
    figures["worst_seconds"] = worst
    figures["wait_over_worst"] = round(TEMPORARY_SERVER_START_SECONDS / worst, 1)
    report(figures, args.json)


if __name__ == "__main__":
    main()
