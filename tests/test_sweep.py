"""Tests for tasks/sweep.py: marking the cache files a run used, and deleting the others after
the retention period."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tasks.sweep import mark_used, sweep_cache

DAY = 24 * 3600


def _file(path: Path, age_seconds: float, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    when = time.time() - age_seconds
    os.utime(path, (when, when))
    return path


def test_files_unused_for_the_retention_period_are_deleted(tmp_path: Path):
    work, results = tmp_path / "work", tmp_path / "prefect-results"
    old_output = _file(work / "entities" / "old.arrow", 2 * DAY, size=100)
    new_output = _file(work / "entities" / "new.arrow", 3600)
    old_result = _file(results / "oldkey", 2 * DAY, size=7)
    new_result = _file(results / "newkey", 60)
    fx_history = _file(work / "numbers" / "fx" / "ecb-history.pickle", 30 * DAY)

    report = sweep_cache(work, results, time.time() - DAY)

    assert not old_output.exists() and not old_result.exists()
    assert new_output.exists() and new_result.exists()
    assert fx_history.exists()  # subfolders are not swept
    assert (report.files, report.bytes) == (2, 107)


def test_marked_files_are_kept_however_old_they_were(tmp_path: Path):
    work, results = tmp_path / "work", tmp_path / "prefect-results"
    used = _file(work / "clean" / "used.arrow", 10 * DAY)
    unused = _file(work / "clean" / "unused.arrow", 10 * DAY)
    now = time.time()
    mark_used([used, work / "clean" / "missing.arrow"], now)  # a missing file is skipped
    assert sweep_cache(work, results, now - DAY).files == 1
    assert used.exists() and not unused.exists()


def test_retention_zero_keeps_only_the_marked_files(tmp_path: Path):
    work, results = tmp_path / "work", tmp_path / "prefect-results"
    just_written = _file(work / "ingest" / "batch.arrow", 0)
    marked = _file(work / "ingest" / "errors.arrow", 0)
    now = time.time() + 1  # the run ends after it wrote its files
    mark_used([marked], now)
    sweep_cache(work, results, now)
    assert marked.exists() and not just_written.exists()


def test_an_empty_or_missing_cache_is_left_alone(tmp_path: Path):
    report = sweep_cache(tmp_path / "work", tmp_path / "prefect-results", time.time())
    assert (report.files, report.bytes) == (0, 0)
