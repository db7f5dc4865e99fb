"""Tests for tasks/plan.py: which raw files a run reads and whose published rows it replaces."""

from __future__ import annotations

import pytest

from tasks.listing import SourceFile, SourceListing
import pyarrow as pa

from tasks.fingerprints import source_files
from tasks.plan import plan_changes, plan_run, sources_table

BEFORE = [("a.txt", 10, 1), ("b.txt", 20, 2), ("b.meta.json", 5, 2), ("c.jsonl", 99, 3), ("d.meta.json", 4, 4),
          ("e.pdf", 7, 5)]


def _listing(files: list[tuple[str, int, int]]) -> SourceListing:
    """(path, size, change tag) triples as a listing (the tags as the strings listings hold)."""
    return SourceListing(SourceFile(path, size, str(tag)) for path, size, tag in sorted(files))


@pytest.mark.parametrize("now, changed, removed", [
    (BEFORE, [], []),  # nothing changed
    (BEFORE + [("f.txt", 1, 9)], ["f.txt"], []),  # added
    ([f for f in BEFORE if f[0] != "a.txt"], [], ["a.txt"]),  # deleted
    ([("a.txt", 11, 1)] + BEFORE[1:], ["a.txt"], ["a.txt"]),  # another size
    ([("a.txt", 10, 7)] + BEFORE[1:], ["a.txt"], ["a.txt"]),  # touched: another modification time
    # a sidecar and its article are read together when either changes
    ([f if f[0] != "b.meta.json" else ("b.meta.json", 6, 2) for f in BEFORE], ["b.meta.json", "b.txt"],
     ["b.meta.json", "b.txt"]),
    ([f for f in BEFORE if f[0] != "b.txt"], ["b.meta.json"], ["b.meta.json", "b.txt"]),  # now an orphan
    (BEFORE + [("d.html", 3, 9)], ["d.html", "d.meta.json"], ["d.meta.json"]),  # an orphan finds its article
    ([f if f[0] != "c.jsonl" else ("c.jsonl", 120, 8) for f in BEFORE], ["c.jsonl"], ["c.jsonl"]),
])
def test_plan_reads_new_and_changed_files_and_removes_changed_and_deleted_ones(now, changed, removed):
    previous = sources_table(_listing(BEFORE), {}, {})
    plan = plan_changes(_listing(now), previous)
    assert [file.relpath for file in plan.changed] == sorted(changed)
    assert list(plan.removed) == sorted(removed)
    assert plan.nothing_to_do == (not changed and not removed) and not plan.rebuild


def test_without_a_snapshot_of_this_version_everything_is_read():
    plan = plan_changes(_listing(BEFORE), None)
    assert plan.rebuild and len(plan.changed) == len(BEFORE) and not plan.nothing_to_do


@pytest.mark.parametrize("source, file", [("a.txt", "a.txt"), ("x/c.jsonl#line=3", "x/c.jsonl"),
                                          ("c.jsonl#id=a#b", "c.jsonl")])
def test_source_files(source: str, file: str):
    assert source_files(pa.array([source])).to_pylist() == [file]


def test_a_snapshot_that_records_no_raw_files_is_not_a_base(tmp_path):
    from tasks.snapshots import publish
    from tasks.storage import Location
    from tests.test_snapshots import make_tables

    publish(Location(tmp_path), make_tables(1), "k", "test", keep=3, max_rows_per_file=1000)  # version ""
    plan, base = plan_run(str(tmp_path), _listing(BEFORE), "")
    assert plan.rebuild and base is None and len(plan.changed) == len(BEFORE)
