"""Where a run's time goes: one flow run in this process, with newsflow's main functions timed
(in whichever thread runs them; the nested ones are inside their callers' times).

    .venv/bin/python bench/function_times.py RAW_DIR PROCESSED_DIR CACHE_DIR

Run it after a run on the same folders (a cold run), with one article added, to time what a
one-added run spends beyond the article's own work (docs/performance.md).
"""

from __future__ import annotations

import collections
import functools
import sys
import threading
import time

import flows.news_pipeline
import tasks.duplicates
import tasks.fingerprints
import tasks.ingest
import tasks.listing
import tasks.plan
import tasks.snapshots
import tasks.sweep
import tasks.write

TIMED = ["_run_stages", "plan_run", "plan_changes", "discover_sources", "sources_key", "ingest_sources",
         "publish_tables", "decide_duplicates", "linked_documents", "updated_buckets", "find_duplicates", "read_state_table",
         "write_state_table", "publish_partitions", "write_partition_files", "read_partition", "sync_table_folders",
         "expire_snapshots", "_sweep_cache", "sweep_cache", "_unchanged", "published_accounting"]
MODULES = [flows.news_pipeline, tasks.plan, tasks.ingest, tasks.write, tasks.snapshots, tasks.sweep, tasks.listing,
           tasks.duplicates, tasks.fingerprints]
seconds: collections.Counter = collections.Counter()
calls: collections.Counter = collections.Counter()
lock = threading.Lock()


def timed(name: str, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            with lock:
                seconds[name] += time.perf_counter() - started
                calls[name] += 1
    return wrapper


def main() -> None:
    wrappers: dict = {}
    for module in MODULES:  # also where a module imported the function by name
        for name in TIMED:
            if hasattr(module, name):
                function = getattr(module, name)
                wrappers.setdefault(function, timed(name, function))
                setattr(module, name, wrappers[function])
    started = time.perf_counter()
    summary = flows.news_pipeline.news_pipeline(raw_dir=sys.argv[1], processed_dir=sys.argv[2], cache_dir=sys.argv[3])
    print(summary.render(), f"\nflow call: {time.perf_counter() - started:.2f} s")
    for name, total in seconds.most_common():
        print(f"{name:24s} {total:7.3f} s  x{calls[name]}")


if __name__ == "__main__":  # (the NER workers, started by spawn, import this module too)
    main()
