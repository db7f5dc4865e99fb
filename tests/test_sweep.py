"""Tests for tasks/sweep.py: the cache's run records, and the sweep that deletes what no run
finished within the retention period used."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks import storage
from tasks.storage import CLAIM_EXPIRY_SECONDS, Claim, Location
from tasks.sweep import RunRecord, live_run, read_records, recording_run, sweep_cache
from tests.conftest import wait_until

DAY = 24 * 3600


def _file(path: Path, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


def _record(cache: Path, used: list[str], finished_ago: float | None, pid: int | None = None) -> RunRecord:
    """A run record as another run left it: finished that long ago (None: still running, as `pid`)."""
    now = time.time()
    claim = Claim(socket.gethostname(), pid or os.getpid(), now - (finished_ago or 0) - 60, os.urandom(8).hex())
    record = RunRecord(claim, None if finished_ago is None else now - finished_ago, used)
    _file(cache / record.relative).write_bytes(record.to_bytes())
    return record


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_files_no_recent_run_used_are_deleted_with_the_old_records(tmp_path: Path):
    old_output = _file(tmp_path / "work" / "entities" / "old.arrow", size=100)
    recent_output = _file(tmp_path / "work" / "entities" / "recent.arrow")
    old_result = _file(tmp_path / "prefect-results" / "oldkey", size=7)
    recent_result = _file(tmp_path / "prefect-results" / "recentkey")
    fx_history = _file(tmp_path / "work" / "numbers" / "fx" / "ecb-history.pickle")
    old_run = _record(tmp_path, ["work/entities/old.arrow", "prefect-results/oldkey"], finished_ago=2 * DAY)
    recent_run = _record(tmp_path, ["work/entities/recent.arrow", "prefect-results/recentkey"], finished_ago=3600)

    report = sweep_cache(Location(str(tmp_path)), retention_hours=24)

    assert not old_output.exists() and not old_result.exists()
    assert recent_output.exists() and recent_result.exists()
    assert fx_history.exists()  # subfolders of a stage's folder are not swept
    assert (report.files, report.bytes, report.skipped_for) == (2, 107, "")
    assert [record.claim.token for record in read_records(Location(str(tmp_path)))[0]] == [recent_run.claim.token]
    assert not (tmp_path / old_run.relative).exists()


def test_the_own_run_keeps_its_files_with_retention_zero(tmp_path: Path):
    cache = Location(str(tmp_path))
    other = _file(tmp_path / "work" / "ingest" / "other.arrow")
    with recording_run(cache, [str(tmp_path / "work" / "ingest" / "mine.arrow")]) as record:
        mine = _file(tmp_path / "work" / "ingest" / "mine.arrow")
    _record(tmp_path, ["work/ingest/other.arrow"], finished_ago=1)
    assert sweep_cache(cache, retention_hours=0, own=record).files == 1
    assert mine.exists() and not other.exists()


def test_a_live_run_keeps_the_sweep_from_deleting_anything(tmp_path: Path):
    unused = _file(tmp_path / "prefect-results" / "key")
    running = _record(tmp_path, [], finished_ago=None, pid=os.getpid())  # a live process: another run
    report = sweep_cache(Location(str(tmp_path)), retention_hours=0)
    assert (report.files, report.skipped_for) == (0, running.claim.describe())
    assert unused.exists()
    assert live_run(Location(str(tmp_path)), time.time()) == running.claim.describe()


def test_a_run_that_died_does_not_keep_the_sweep_from_deleting(tmp_path: Path):
    unused = _file(tmp_path / "prefect-results" / "key")
    died = _record(tmp_path, ["prefect-results/key"], finished_ago=None, pid=_dead_pid())
    assert live_run(Location(str(tmp_path)), time.time()) == ""
    assert sweep_cache(Location(str(tmp_path)), retention_hours=24).files == 1
    assert not unused.exists() and not (tmp_path / died.relative).exists()


def test_a_record_that_does_not_parse_keeps_the_sweep_from_deleting_and_is_named(tmp_path: Path):
    unused = _file(tmp_path / "prefect-results" / "key")
    _file(tmp_path / "runs" / "cut-short.json").write_text('{"claim": ')
    report = sweep_cache(Location(str(tmp_path)), retention_hours=0)
    assert report.files == 0 and "runs/cut-short.json does not parse" in report.skipped_for
    assert unused.exists()


def test_a_run_record_is_written_at_the_start_and_finished_even_when_the_run_fails(tmp_path: Path):
    cache, used = Location(str(tmp_path)), []
    with pytest.raises(RuntimeError), recording_run(cache, used) as record:
        started = json.loads((tmp_path / record.relative).read_text())
        assert started["finished"] is None and started["claim"]["pid"] == os.getpid()
        used += [str(tmp_path / "work" / "clean" / "a.arrow"), "/elsewhere/b.arrow", str(tmp_path / "prefect-results" / "k")]
        raise RuntimeError("a stage failed")
    finished = json.loads((tmp_path / record.relative).read_text())
    assert finished["finished"] >= started["claim"]["started"]
    assert finished["used"] == ["prefect-results/k", "work/clean/a.arrow"]  # relative; outside the cache left out


def test_what_earlier_versions_left_is_deleted(tmp_path: Path):
    chunk = _file(tmp_path / "work" / "clean" / "chunks" / "abc.arrow")
    (tmp_path / "work" / "clean" / "links").mkdir()
    (tmp_path / "work" / "clean" / "links" / "doc1").symlink_to("../chunks/abc.arrow")
    (tmp_path / "work" / "clean" / "links" / "doc2").symlink_to("../chunks/gone.arrow")  # dangling
    _file(tmp_path / ".newsflow-cache.lock", size=0)
    fx_history = _file(tmp_path / "work" / "numbers" / "fx" / "ecb-history.pickle")
    assert sweep_cache(Location(str(tmp_path)), retention_hours=24).files == 4
    assert not chunk.exists() and not (tmp_path / "work" / "clean" / "links").exists()
    assert not (tmp_path / "work" / "clean" / "chunks").exists() and not (tmp_path / ".newsflow-cache.lock").exists()
    assert fx_history.exists()


def test_an_empty_or_missing_cache_is_left_alone(tmp_path: Path):
    report = sweep_cache(Location(str(tmp_path / "cache")), retention_hours=0)
    assert (report.files, report.bytes, report.skipped_for) == (0, 0, "")


def test_a_record_that_cannot_be_finished_leaves_the_run_unfinished_without_an_error(tmp_path: Path, monkeypatch):
    cache, writes = Location(str(tmp_path)), []
    real_write = Location.write_bytes

    def failing_second_write(location: Location, relative: str, data: bytes) -> None:
        writes.append(relative)
        if len(writes) == 2:
            raise OSError("No space left on device (injected)")
        real_write(location, relative, data)

    monkeypatch.setattr(Location, "write_bytes", failing_second_write)
    with recording_run(cache, [str(tmp_path / "work" / "clean" / "a.arrow")]) as record:
        pass
    assert record.finished is None and record.used == ["work/clean/a.arrow"]
    assert json.loads((tmp_path / record.relative).read_text())["finished"] is None


@pytest.mark.parametrize(("renewed_ago", "live"), [(60, True), (CLAIM_EXPIRY_SECONDS + 60, False)])
def test_a_run_on_another_host_is_live_while_it_renews_its_record(tmp_path: Path, renewed_ago: float, live: bool):
    now = time.time()
    claim = Claim("another-host", 1, now - 3600, "a" * 32, now - renewed_ago)
    _file(tmp_path / RunRecord(claim).relative).write_bytes(RunRecord(claim).to_bytes())
    assert bool(live_run(Location(tmp_path), now)) is live


def test_a_running_run_renews_its_record(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(storage, "CLAIM_RENEW_SECONDS", 0.05)
    cache = Location(tmp_path)
    with recording_run(cache, []) as record:
        wait_until(lambda: RunRecord.from_bytes(cache.read_bytes(record.relative)).claim.renewed, 10, "a renewal")
        assert RunRecord.from_bytes(cache.read_bytes(record.relative)).finished is None
    assert RunRecord.from_bytes(cache.read_bytes(record.relative)).finished is not None
