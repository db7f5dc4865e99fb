"""Sweep: keep the cache bounded when the pipeline runs on a schedule.

The cache only ever gains files: a changed batch gets new content-addressed files in every
stage, and Prefect a new result file per task run that missed its cache. So every run marks
the files it used (their modification time becomes the run's time): ingest's batch and errors
files, each stage's outputs, and Prefect's result files. Then, when no other run is using the
cache, the files that no run has marked within the retention period are deleted. Inputs that come back after that are recomputed:
a Prefect result file and the work files it names are marked together, so they expire together.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SweepReport:
    """What a sweep deleted."""

    files: int
    bytes: int


def mark_used(paths: Iterable[str | Path], when: float) -> None:
    """Set these files' modification time to `when`: a run used them (missing files are skipped)."""
    for path in paths:
        try:
            os.utime(path, (when, when))
        except FileNotFoundError:
            continue


def _swept_folders(work_dir: Path, result_dir: Path) -> list[Path]:
    """Folders of content-addressed files: Prefect's results and each stage's."""
    stages = sorted(folder for folder in work_dir.iterdir() if folder.is_dir()) if work_dir.is_dir() else []
    return [result_dir, *stages]


def sweep_cache(work_dir: Path, result_dir: Path, unused_since: float) -> SweepReport:
    """Delete the regular files in the cache's folders last marked (or written) before
    `unused_since`, then the document links whose chunk file is gone. Call it only while no
    other run uses the cache (storage.cache_in_use); subfolders (the parsed ECB history) are
    left alone."""
    files = size = 0
    for folder in _swept_folders(work_dir, result_dir):
        deleted, deleted_bytes = _delete_unused_files(folder, unused_since)
        files, size = files + deleted, size + deleted_bytes
    return SweepReport(files, size)


def _delete_unused_files(folder: Path, unused_since: float) -> tuple[int, int]:
    """Delete the regular files in `folder` last marked before `unused_since`; how many, and their bytes."""
    if not folder.is_dir():
        return 0, 0
    deleted = size = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                status = entry.stat(follow_symlinks=False)
                if status.st_mtime >= unused_since:
                    continue
                os.unlink(entry.path)
            except FileNotFoundError:  # deleted by hand meanwhile
                continue
            deleted, size = deleted + 1, size + status.st_size
    return deleted, size
