"""The cache's run records and its sweep: the cache stays bounded when the pipeline runs on a
schedule.

The cache only ever gains files: a changed batch gets new content-addressed files in every
stage, and Prefect a new result file per task run that missed its cache. So every run that
starts a task keeps a record in `runs/<token>.json`: who runs (a storage.Claim), written
before it touches the cache, and, when it ends (failed or not), the time and the cache files
it used (ingest's, each stage's outputs, Prefect's result files). After a run has written
its record, it sweeps: unless another live run has an unfinished record, it deletes every
file in the stage folders and Prefect's results that no record finished within the retention
period names, and the records older than that. Inputs that come back later are recomputed.
Plain files and whole-object writes only (no locks, links or modification times), so the
same code serves a cache on object storage.

A run that starts while another sweeps may find a cached result's file deleted: it then
recomputes that result (flows/news_pipeline.py checks every cached output's files).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tasks.storage import Claim, Location, renewed_while_held

RUNS = "runs"
# The folders of content-addressed files; only the files directly inside them are swept (not
# the parsed ECB history in work/numbers/fx/).
RESULTS = "prefect-results"
WORK = "work"
LEGACY_FOLDERS = ("chunks", "links")  # in a stage's folder, from PIPELINE_VERSION 9 and earlier
LEGACY_LOCK_FILE = ".newsflow-cache.lock"


@dataclass
class RunRecord:
    """One run's use of the cache: its claim, when it finished (None while it runs) and the
    files it used, relative to the cache folder."""

    claim: Claim
    finished: float | None = None
    used: list[str] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        return json.dumps({"claim": self.claim.to_dict(), "finished": self.finished, "used": self.used}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> RunRecord:
        record = json.loads(data)
        return cls(Claim.from_dict(record["claim"]), record["finished"], list(record["used"]))

    @property
    def relative(self) -> str:
        return f"{RUNS}/{self.claim.token}.json"

    def is_live(self, now: float) -> bool:
        """Still running: not finished, and its process not gone (storage.Claim.is_abandoned)."""
        return self.finished is None and not self.claim.is_abandoned(now)


@dataclass(frozen=True)
class SweepReport:
    """What a sweep deleted; `skipped_for` names a live run that kept it from deleting anything."""

    files: int
    bytes: int
    skipped_for: str = ""


@contextmanager
def recording_run(cache: Location, used: list[str]) -> Iterator[RunRecord]:
    """Write this run's record (unfinished) now, and finish it when the block ends, however it
    ends, with the files in `used` (URLs or paths; those outside the cache are left out). Fill `used` as the run goes, so that a failed run's record names what it made.

    A storage error on the first write is raised: the run has not started. One on the last is
    not (the run's own error, or its published tables, matter more): `finished` stays None,
    and the caller should not sweep; once this process has ended, sweeps treat the record as
    abandoned."""
    record = RunRecord(Claim.mine())
    cache.write_bytes(record.relative, record.to_bytes())

    def renew() -> None:  # so that the record of a run on another host is seen to be live
        if record.finished is None:
            cache.write_bytes(record.relative, RunRecord(record.claim.renewed_now()).to_bytes())

    try:
        with renewed_while_held(renew):
            yield record
    finally:
        record.used = sorted(_relative_to(cache, used))
        finished = RunRecord(record.claim, time.time(), record.used)
        try:
            cache.write_bytes(record.relative, finished.to_bytes())
            record.finished = finished.finished
        except OSError:
            pass


def _relative_to(cache: Location, paths: Iterable[str]) -> set[str]:
    return {relative for relative in map(cache.relative, paths) if relative is not None}


def read_records(cache: Location) -> tuple[list[RunRecord], list[str]]:
    """The cache's run records, and the paths of the record files that do not parse (being
    written on a store without atomic writes, or cut short)."""
    records, unreadable = [], []
    for relative in sorted(cache.sizes(RUNS)):
        try:
            records.append(RunRecord.from_bytes(cache.read_bytes(relative)))
        except FileNotFoundError:  # finished and swept meanwhile
            continue
        except (ValueError, KeyError, TypeError):
            unreadable.append(relative)
    return records, unreadable


def _unreadable(cache: Location, unreadable: list[str]) -> str:
    return f"a run whose record {cache.path(unreadable[0])} does not parse (delete it if no run is going)"


def live_run(cache: Location, now: float, own: RunRecord | None = None) -> str:
    """A description of another run using the cache now, or "" when there is none."""
    records, unreadable = read_records(cache)
    if unreadable:
        return _unreadable(cache, unreadable)
    for record in records:
        if record.is_live(now) and (own is None or record.claim.token != own.claim.token):
            return record.claim.describe()
    return ""


def sweep_cache(cache: Location, retention_hours: float, own: RunRecord | None = None) -> SweepReport:
    """Delete the cache files that no run finished within `retention_hours` used (the own run's
    record counts however old), the records older than that and the abandoned ones; nothing at
    all while another run is using the cache."""
    now = time.time()
    records, unreadable = read_records(cache)
    if unreadable:
        return SweepReport(0, 0, _unreadable(cache, unreadable))
    keep = set(own.used) if own is not None else set()  # (what it holds, whatever its file says)
    expired: list[str] = []
    for record in records:
        if own is not None and record.claim.token == own.claim.token:
            continue
        if record.is_live(now):
            return SweepReport(0, 0, record.claim.describe())
        if record.finished is not None and record.finished >= now - retention_hours * 3600:
            keep.update(record.used)
        else:
            expired.append(record.relative)
    unused = {path: size for path, size in _swept_files(cache).items() if path not in keep}
    # A run may have started while this one listed: check once more just before deleting.
    other = live_run(cache, now, own)
    if other:
        return SweepReport(0, 0, other)
    cache.delete(sorted(unused))
    cache.delete(expired)
    if any(path.count("/") > 2 for path in unused):  # an earlier version's chunk and link folders, now empty
        cache.remove_empty_folders(WORK)
    return SweepReport(len(unused), sum(unused.values()))


def _swept_files(cache: Location) -> dict[str, int]:
    """The files a sweep may delete, with their sizes: those directly in Prefect's result folder
    and in each stage's folder, and what PIPELINE_VERSION 9 and earlier left (chunk files and
    document links in each stage's folder, the cache's lock file)."""
    swept = {path: size for path, size in cache.sizes(RESULTS).items() if path.count("/") == 1}
    for path, size in cache.sizes(WORK).items():
        parts = path.split("/")
        if len(parts) == 3 or parts[2] in LEGACY_FOLDERS:
            swept[path] = size
    if cache.exists(LEGACY_LOCK_FILE):
        swept[LEGACY_LOCK_FILE] = 0
    return swept
