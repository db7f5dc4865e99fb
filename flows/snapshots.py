"""`newsflow snapshots` and `newsflow rollback ID`: list the kept snapshots of the published
tables, and publish an earlier one's tables again (tasks/snapshots.py). Neither needs Prefect."""

from __future__ import annotations

import argparse
import sys

from tasks.settings import Settings
from tasks.snapshots import Snapshot, SnapshotConflict, list_snapshots, rollback
from tasks.storage import Location, RunLockedError, exclusive_run_lease

COLUMNS = ("documents", "entities", "quantities", "errors")


def render_snapshots(snapshots: list[Snapshot]) -> str:
    """The snapshots as a text table, newest first, the latest marked."""
    header = ("snapshot", "created (UTC)", *COLUMNS, "note")
    rows = [(f"{s.id}{' (latest)' if s is snapshots[-1] else ''}", s.created_at.replace("T", " ")[:19],
             *(f"{s.rows.get(name, 0):,}" for name in COLUMNS), s.note) for s in reversed(snapshots)]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header) - 1)]
    return "\n".join("  ".join([*(str(cell).ljust(width) for cell, width in zip(row, widths)), row[-1]]).rstrip()
                     for row in [header, *rows])


def snapshot_command(args: argparse.Namespace) -> int:
    """Run `snapshots` or `rollback`; exit status 0 on success, 1 with a message otherwise."""
    location = Location(args.processed_dir)
    if args.command == "snapshots":
        snapshots = list_snapshots(location)
        if not snapshots:
            print(f"no snapshots in {args.processed_dir}: no run has published tables there yet", file=sys.stderr)
            return 1
        print(render_snapshots(snapshots))
        return 0
    keep = Settings.from_env().keep_snapshots
    try:
        with exclusive_run_lease(location):
            snapshot = rollback(location, args.snapshot_id, keep)
    except (LookupError, RunLockedError, SnapshotConflict) as error:
        print(f"newsflow rollback failed: {error.args[0]}", file=sys.stderr)
        return 1
    print(f"published snapshot {snapshot.id}: the tables of snapshot {args.snapshot_id}. The next run publishes "
          "the tables of the raw folder's current articles again.")
    return 0
