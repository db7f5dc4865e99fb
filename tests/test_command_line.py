"""The command line as a new user meets it (flows/__main__.py, flows/progress.py,
tasks/progress.py): the version, a first run's wait for Prefect's temporary server, and the
progress of a long run."""

from __future__ import annotations

import fcntl
import logging
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest

from flows.progress import describe, reporting_progress
from tasks.progress import DocumentProgress, documents_done
from tests.conftest import REPO, SEED


def test_version():
    result = subprocess.run([sys.executable, "-m", "flows", "--version"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.strip() == f"newsflow {version('newsflow')}"


@pytest.mark.parametrize("done, total, elapsed, expected", [
    (0, 2225, 3.0, "entities: 0 of 2,225 documents (0%)"),
    (1024, 2225, 27.0, "entities: 1,024 of 2,225 documents (46%), 37.9 documents/s, about 32 s left"),
    (100, 2225, 10.0, "entities: 100 of 2,225 documents (4%), 10.0 documents/s, about 3 min 32 s left"),
    (2225, 2225, 60.0, "entities: 2,225 of 2,225 documents (100%)"),
    (0, 0, 1.0, "entities: no documents"),
])
def test_progress_line(done: int, total: int, elapsed: float, expected: str):
    assert describe(done, total, elapsed) == expected


@pytest.mark.parametrize("events, expected", [
    ([("add", "a", 64), ("add", "a", 64)], 128),
    ([("add", "a", 64), ("finish", "a", 100)], 100),  # a finished batch counts whole, not twice
    ([("finish", "a", 100), ("add", "b", 10), ("finish", "b", 50)], 150),
    ([("finish", "a", 100), ("finish", "a", 100)], 100),  # a batch recomputed after a damaged cache
    ([("add", "a", 500)], 200),  # never more than the total
])
def test_documents_are_counted_once_per_batch(events: list, expected: int):
    progress = DocumentProgress(total=200)
    for kind, batch, documents in events:
        getattr(progress, kind)(batch, documents)
    assert progress.done == expected


def test_progress_is_logged_while_work_goes_on_and_not_drawn_off_a_terminal(caplog, capsys):
    logger = logging.getLogger("newsflow-test-progress")
    progress = DocumentProgress(total=300)
    with caplog.at_level(logging.INFO, logger=logger.name):
        with reporting_progress(progress, logger, log_interval=0.6, terminal=False):
            for _ in range(3):
                documents_done("batch", 50)  # what the entities stage calls per chunk
                time.sleep(0.7)
        documents_done("batch", 50)  # after the run: counted nowhere
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) >= 2  # about 2.1 s of work, logged every 0.6 s
    line = re.compile(r"entities: (50|100|150) of 300 documents \(\d+%\), [\d.]+ documents/s, about \d+ s left")
    assert all(line.fullmatch(text) for text in lines), lines
    counts = [int(line.fullmatch(text)[1]) for text in lines]
    assert counts == sorted(counts)
    assert progress.done == 150
    assert capsys.readouterr().err == ""


def _run_in_terminal(command: list[str], env: dict, timeout: float) -> tuple[int, str]:
    """Run `command` with a 120x40 pseudo-terminal as its standard streams; its exit status and
    everything it wrote."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(command, cwd=REPO, env=env, stdin=follower, stdout=follower, stderr=follower,
                               start_new_session=True)
    os.close(follower)
    output = bytearray()

    def read() -> None:
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: every holder of the terminal has closed it
                return
            if not data:
                return
            output.extend(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        status = process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        os.close(leader)
    return status, output.decode("utf-8", "replace")


def _distinct_articles(raw: Path, count: int) -> None:
    """`count` different articles (copies of one text would be parsed once): the seed's first
    paragraphs, each with a sentence of its own."""
    text = "\n".join(SEED.read_text(encoding="utf-8").splitlines()[:12])
    for number in range(count):
        (raw / f"article{number:03d}.txt").write_text(
            f"{text}\nOn day {number}, Maria Lopez of Acme Bank said profit rose {number + 1}% to ${number + 5}m.\n",
            encoding="utf-8")


def test_a_first_run_with_a_new_prefect_home_completes_on_busy_cores_and_shows_progress(tmp_path: Path):
    """A new user's first run: a Prefect home with no database yet, both cores loaded by other
    processes, in a terminal. Prefect's own 20-s wait for its temporary server was too short
    here; the run says what it waits for, shows its progress and completes."""
    raw = tmp_path / "raw"
    raw.mkdir()
    _distinct_articles(raw, 60)
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("PREFECT_") or name == "PREFECT_SERVER_ANALYTICS_ENABLED"}
    env |= {"PREFECT_HOME": str(tmp_path / "new-prefect-home"), "NEWSFLOW_BATCH_SIZE": "20", "TERM": "xterm"}
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        status, output = _run_in_terminal(
            [sys.executable, "-m", "flows", "run", "--raw-dir", str(raw), "--processed-dir", str(tmp_path / "processed"),
             "--cache-dir", str(tmp_path / "cache")], env, timeout=600)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert status == 0, output
    assert "Traceback" not in output
    assert "starting Prefect's temporary server (waiting up to 240 s" in output
    assert re.search(r"Prefect's temporary server is ready after \d+ s", output)
    # The progress line (tqdm redraws it in place) reached the end.
    assert re.search(r"entities:\s+\d+%\|", output), output
    assert re.search(r"entities: 100%\|.*\| 60/60 ", output), output
    assert len(pd.read_parquet(tmp_path / "processed" / "documents")) == 60


def test_a_server_that_does_not_answer_in_time_fails_the_run_with_what_to_do(tmp_path: Path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "new-prefect-home"), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "flows", "run", "--raw-dir", str(SEED.parent), "--processed-dir",
         str(tmp_path / "processed"), "--cache-dir", str(tmp_path / "cache")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "starting Prefect's temporary server (waiting up to 1 s" in result.stderr
    assert "newsflow run failed: RuntimeError: Prefect's temporary server did not answer within 1 s" in result.stderr
    assert "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "processed" / "documents").exists()
