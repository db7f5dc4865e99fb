"""The newsflow command line: `newsflow ...` (the console script) and `python -m flows ...`.

This module imports nothing heavy at module level on purpose:
- The NER worker processes are started with the spawn method, and a spawned process imports
  the parent's main module before it runs anything: were that the flow's module, every worker
  would import Prefect and every stage (about 1.4 s) before loading spaCy. A package's
  `__main__` is never re-imported, and the console script re-imports only this module.
- When a run will ingest new input, its first NER worker starts here, before Prefect and the
  flow are imported (1-1.5 s), so that it has loaded the model when the first new batch needs it.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import version

from tasks.listing import discover_sources, ingest_will_run
from tasks.ner_pool import start_ner_workers
from tasks.storage import Location
from tasks.settings import (
    DEFAULT_CACHE_DIR, DEFAULT_CRON, DEFAULT_PROCESSED_DIR, DEFAULT_RAW_DIR, TASK_RUNNERS,
    TEMPORARY_SERVER_START_SECONDS, Settings, ner_processes,
)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    """The command line's commands and options."""
    command_line = argparse.ArgumentParser(
        prog="newsflow", description="The newsflow pipeline: raw news articles to Parquet tables.")
    command_line.add_argument("--version", action="version", version=f"%(prog)s {version('newsflow')}")
    commands = command_line.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the pipeline once")
    serve = commands.add_parser("serve", help="serve the flow on a schedule from this process (Ctrl-C stops)")
    serve.add_argument("--cron", default=DEFAULT_CRON, help="cron schedule (default: %(default)r)")
    serve.add_argument("--interval", type=int, help="run every N seconds instead of the cron schedule")
    clear = commands.add_parser("clear-cache", help="delete cached results (the next run recomputes all)")
    snapshots = commands.add_parser("snapshots", help="list the kept snapshots of the published tables")
    rollback = commands.add_parser("rollback", help="publish an earlier snapshot's tables again")
    rollback.add_argument("snapshot_id", type=positive_int, metavar="ID", help="the snapshot (see `newsflow snapshots`)")
    for command in (run, serve):
        command.add_argument("--raw-dir", default=str(DEFAULT_RAW_DIR), help="input articles (default: %(default)s)")
    for command in (run, serve, snapshots, rollback):
        command.add_argument("--processed-dir", default=str(DEFAULT_PROCESSED_DIR),
                             help="output tables (default: %(default)s)")
    for command in (run, serve, clear):
        command.add_argument("--cache-dir", default=os.environ.get("NEWSFLOW_CACHE_DIR", str(DEFAULT_CACHE_DIR)),
                             help="cached results (default: %(default)s; NEWSFLOW_CACHE_DIR sets it)")
    run.add_argument("--task-runner", choices=TASK_RUNNERS, default="threads",
                     help="how batches run in parallel (default: %(default)s)")
    run.add_argument("--workers", type=positive_int,
                     help=f"processes, threads or local Dask workers (default: the core count, {os.cpu_count()}; "
                          "with threads, NEWSFLOW_NER_PROCESSES when set)")
    run.add_argument("--dask-address", help="scheduler of an existing Dask cluster, e.g. tcp://host:8786")
    return command_line


def start_ner_worker_early(args: argparse.Namespace) -> None:
    """For `run` with the threads runner (whose NER pool lives in this process): when ingest
    will run, start one NER worker now. The flow makes the same check and starts none when this
    one is running. A wrong guess costs one idle worker for the run (a run refused because
    another holds the processed folder exits once the worker has loaded the model, 1-2 s)."""
    if args.command != "run" or args.task_runner != "threads":
        return
    try:
        settings = Settings.from_env(args.raw_dir, args.processed_dir, args.cache_dir)
        if not Location(settings.raw_dir).is_local:  # listing a bucket twice costs requests: no guess
            return
        new_listing = ingest_will_run(settings.processed_dir, discover_sources(settings.raw_dir),
                                      settings.state_version())
    except (OSError, ImportError, ValueError):  # a best guess only: the flow reports what is wrong
        return
    if new_listing:
        # The pool of the flow's NER processes: --workers (make_task_runner puts it in
        # NEWSFLOW_NER_PROCESSES), else what that variable or the core count says.
        start_ner_workers(args.workers or ner_processes(), 1)


def main(argv: list[str] | None = None) -> int:
    """Run the command line (flows/news_pipeline.py runs the commands)."""
    args = parser().parse_args(argv)
    if args.command in ("snapshots", "rollback"):  # no Prefect needed
        from flows.snapshots import snapshot_command

        return snapshot_command(args)
    # Before Prefect is imported, which reads its settings then: Prefect's 20-s wait for its
    # temporary server is too short for a first start on a busy machine (`serve` uses it too).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(TEMPORARY_SERVER_START_SECONDS))
    start_ner_worker_early(args)
    from flows.news_pipeline import run_command

    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
