"""The newsflow flow: ingest -> clean -> entities -> numbers -> Parquet, and its commands.

    newsflow run --raw-dir data/raw --processed-dir data/processed
    python -m flows run --raw-dir data/raw --processed-dir data/processed

Both enter through flows/__main__.py, which parses the command line and imports this module
only then (see there why).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture
from prefect.results import ResultRecord, ResultRecordMetadata
from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings
from prefect.states import State
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from flows.progress import every, reporting_progress
from flows.report import STAGES, publish_run_report, stage_rows
from tasks.clean import clean_task
from tasks.entities import entities_task
from tasks.ingest import ingest_task
from tasks.listing import discover_sources
from tasks.ner_pool import exit_with_parent, release_ner_workers, start_ner_workers
from tasks.quantities import numbers_task
from tasks.plan import Plan, plan_run, published_accounting
from tasks.progress import DocumentProgress
from tasks.schemas import PUBLISHED_TABLES
from tasks.settings import (
    DEFAULT_CACHE_DIR, DEFAULT_PROCESSED_DIR, DEFAULT_RAW_DIR, TASK_RUNNERS, Settings, cache_version, ner_processes,
)
from tasks.snapshots import Snapshot, sync_table_folders, table_folders_match
from tasks.storage import Location, ensure_private_folder, exclusive_run_lease, normalize_url
from tasks.sweep import RunRecord, live_run, recording_run, sweep_cache
from tasks.tasking import result_storage
from tasks.write import TableParts, write_task


@dataclass
class RunSummary:
    """What a run did: table sizes and, per stage, how many task runs were computed or cached."""

    processed_dir: str
    rows: dict[str, int] = field(default_factory=dict)
    snapshot_id: int = 0  # the published snapshot (tasks/snapshots.py)
    computed: Counter = field(default_factory=Counter)
    cached: Counter = field(default_factory=Counter)
    accounting: tuple[int, int, int] = (0, 0, 0)  # inputs, documents, rejected inputs
    documents_computed: int = 0  # new and changed documents: the others kept their published rows
    used_files: list[str] = field(default_factory=list)  # the cache files this run used (tasks/sweep.py)

    @property
    def computed_anything(self) -> bool:
        return sum(self.computed.values()) > 0

    def render(self) -> str:
        lines = [
            f"documents: {self.rows.get('documents', 0)}   entities: {self.rows.get('entities', 0)}   "
            f"quantities: {self.rows.get('quantities', 0)}   errors: {self.rows.get('errors', 0)}",
            "inputs accounted for: {1} documents + {2} rejected = {0} of {0}".format(*self.accounting),
            f"documents computed (new or changed): {self.documents_computed}",
            "task runs (computed/cached): "
            + ", ".join(f"{stage} {self.computed[stage]}/{self.cached[stage]}" for stage in STAGES),
            "nothing new, changed or deleted: no task ran" if not self.computed_anything else "",
            f"tables: {self.processed_dir}/<{'|'.join(PUBLISHED_TABLES)}>/ (snapshot {self.snapshot_id})",
        ]
        return "\n".join(line for line in lines if line)


def _count(summary: RunSummary, stage: str, state: State, result_dir: str) -> None:
    (summary.cached if state.name == "Cached" else summary.computed)[stage] += 1
    # The state's result record (or, from a remote task runner, its metadata) names the file:
    # by its path on disk, by its key under the block's base path elsewhere.
    metadata = state.data.metadata if isinstance(state.data, ResultRecord) else state.data
    if isinstance(metadata, ResultRecordMetadata) and metadata.storage_key:
        key = metadata.storage_key
        summary.used_files.append(key if key.startswith("/") or "://" in key else f"{result_dir}/{key}")


def _intact_result(future: PrefectFuture, task, summary: RunSummary, stage: str, result_dir: str, **inputs):
    """The future's output; if it came from the cache but its files are missing or changed on
    disk, recompute it here. (A result computed in this run has just hashed its own files.)"""
    output = future.result()
    state = future.state
    if state.name == "Cached" and not output.is_intact():
        get_run_logger().warning("cached %s output is missing or changed on disk: recomputing", stage)
        state = task.with_options(refresh_cache=True)(**inputs, return_state=True)
        output = state.result()
    _count(summary, stage, state, result_dir)
    if hasattr(output, "files"):  # the stages' work files (the write task's are the snapshot's)
        summary.used_files += output.files()
    return output


@flow(name="newsflow", flow_run_name="newsflow {raw_dir}")
def news_pipeline(
    raw_dir: str = str(DEFAULT_RAW_DIR),
    processed_dir: str = str(DEFAULT_PROCESSED_DIR),
    cache_dir: str = str(DEFAULT_CACHE_DIR),
) -> RunSummary:
    """Turn the articles in `raw_dir` into Parquet tables in `processed_dir` (paths, or URLs
    such as s3://bucket/prefix)."""
    settings = Settings.from_env(raw_dir, processed_dir, cache_dir)
    with naming("cache folder", settings.cache_dir):
        ensure_private_folder(Location(settings.cache_dir))
        ensure_private_folder(Location(settings.result_dir))
    with ExitStack() as held:
        with naming("processed folder", settings.processed_dir):
            held.enter_context(exclusive_run_lease(Location(settings.processed_dir)))
        try:
            return _run(settings)
        finally:
            release_ner_workers()


@contextmanager
def naming(what: str, url: str) -> Iterator[None]:
    """Fail at once with a message that names the location when it is missing, refuses access
    or is not a folder: no retry can mend those (tasks/tasking.py)."""
    try:
        yield
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{what} not found: {url} ({error})") from error
    except PermissionError as error:
        raise PermissionError(f"access denied to the {what} {url} ({error})") from error
    except NotADirectoryError as error:
        raise NotADirectoryError(f"the {what} {url} is not a folder ({error})") from error


def _run(settings: Settings) -> RunSummary:
    """Plan from what changed; if anything did, run the stages on it with a record of the cache
    files they use, then sweep the cache (tasks/sweep.py). A run that starts no task uses
    nothing of the cache, adds nothing to it and neither records nor sweeps."""
    summary = RunSummary(processed_dir=settings.processed_dir)
    with naming("raw folder", settings.raw_dir):
        sources = discover_sources(settings.raw_dir)
    plan, base = plan_run(settings.processed_dir, sources, settings.state_version())
    if plan.nothing_to_do:
        return _unchanged(settings, base, summary)
    cache = Location(settings.cache_dir)
    with ExitStack() as recorded:
        with naming("cache folder", settings.cache_dir):
            record = recorded.enter_context(recording_run(cache, summary.used_files))
        _run_stages(settings, plan, base, summary)
    _sweep_cache(cache, settings, record)
    return summary


def _sweep_cache(cache: Location, settings: Settings, record: RunRecord) -> None:
    """Delete the cache files that no run has used within the retention period, unless another
    run is using the cache. The tables are published by now: a storage error here is logged,
    and the run still succeeds."""
    if record.finished is None:
        get_run_logger().warning("could not write the end of this run's record in %s: the cache is not swept "
                                 "this time", cache.path(record.relative))
        return
    try:
        swept = sweep_cache(cache, settings.cache_retention_hours, own=record)
    except OSError as error:
        get_run_logger().warning("could not sweep the cache: %s", error)
        return
    if swept.skipped_for:
        get_run_logger().info("another run is using the cache (%s): not swept this time", swept.skipped_for)
    elif swept.files:
        get_run_logger().info("deleted %d cache files (%.1f MB) unused for %g hours",
                              swept.files, swept.bytes / 1e6, settings.cache_retention_hours)


def _run_stages(settings: Settings, plan: Plan, base: Snapshot | None, summary: RunSummary) -> None:
    """The DAG: ingest once, then clean -> entities and numbers per batch, then write."""
    logger = get_run_logger()
    version = cache_version()
    work_dir = settings.work_dir
    # Each task once with the run's result storage (with_options copies a task: not per batch).
    results = result_storage(settings.result_dir)
    ingest, clean, entities, numbers, write = (
        task.with_options(result_storage=results)
        for task in (ingest_task, clean_task, entities_task, numbers_task, write_task)
    )
    result_dir = settings.result_dir

    ingest_version, state_version = settings.ingest_version(), settings.state_version()
    logger.info("%d of %d raw files are new or changed; %d files' published rows are replaced or removed%s",
                len(plan.changed), plan.n_files, len(plan.removed),
                " (no snapshot of this version: every table is rebuilt)" if plan.rebuild else "")
    if plan.changed:
        # New text is likely: one NER process starts loading the model now, beside ingest, and
        # is ready sooner for an added article. (`newsflow run` starts it before it imports
        # Prefect, 1-1.5 s earlier; then this starts no other.)
        start_ner_workers(ner_processes(), 1)
    ingest_inputs = dict(raw_dir=settings.raw_dir, sources=plan.changed,
                         work_dir=work_dir, target_batch_size=settings.target_batch_size,
                         max_bytes=settings.max_document_bytes, folder_encodings=settings.folder_encodings,
                         cache_version=ingest_version, processed_dir=settings.processed_dir,
                         base_snapshot=None if base is None else base.id)
    ingested = _intact_result(ingest.submit(**ingest_inputs), ingest, summary, "ingest", result_dir,
                              **ingest_inputs)
    if summary.computed["ingest"] and ingested.n_new_batches:
        # New batches need NER: a NER process per new batch (up to the core count; counting the
        # one started before ingest) loads the model on another core while they are cleaned.
        start_ner_workers(ner_processes(), ingested.n_new_batches)
    # Every batch's tasks are submitted at once, batch by batch, so that the task runner cleans
    # the next batches while NER works on the first ones.
    documents, entity_parts, quantities = [], [], []
    with reporting_progress(DocumentProgress(ingested.n_documents), logger) as progress:
        submitted = []
        for batch in ingested.batches:
            cleaned = clean.submit(batch=batch, work_dir=work_dir, cache_version=version)
            # The numbers stage is fast and finds the quantities whose sentences NER parses.
            numeric = numbers.submit(documents=cleaned, work_dir=work_dir, default_fx_date=settings.default_fx_date,
                                     cache_version=version)
            entity = entities.submit(documents=cleaned, quantities=numeric, work_dir=work_dir, cache_version=version)
            submitted.append((batch, cleaned, entity, numeric))
        for number, (batch, cleaned, entity, numeric) in enumerate(submitted, start=1):
            documents.append(_intact_result(cleaned, clean, summary, "clean", result_dir,
                                            batch=batch, work_dir=work_dir, cache_version=version))
            quantities.append(_intact_result(numeric, numbers, summary, "numbers", result_dir,
                                             documents=documents[-1], work_dir=work_dir,
                                             default_fx_date=settings.default_fx_date, cache_version=version))
            entity_parts.append(_intact_result(entity, entities, summary, "entities", result_dir,
                                               documents=documents[-1], quantities=quantities[-1], work_dir=work_dir,
                                               cache_version=version))
            progress.finish(documents[-1].label, documents[-1].n_rows)
            logger.info("batch %d of %d done: %s", number, len(ingested.batches), batch.label)

    parts = TableParts(documents, entity_parts, quantities, ingested.errors_path, ingested.n_inputs,
                       ingested.sources_path, plan.removed, ingested.unchanged_path, None if base is None else base.id,
                       state_version, plan.listing_key)
    write_inputs = dict(parts=parts, processed_dir=settings.processed_dir, keep_snapshots=settings.keep_snapshots,
                        max_rows_per_file=settings.max_rows_per_file, cache_version=version)
    published = _intact_result(write.submit(**write_inputs), write, summary, "write", result_dir,
                               **write_inputs)
    summary.rows, summary.snapshot_id = published.rows, published.snapshot_id
    summary.documents_computed = ingested.n_documents
    summary.accounting = (published.n_inputs, published.rows["documents"], published.n_rejected)
    stage_errors = {"ingest": ingested.n_errors} | {
        stage: sum(output.n_errors for output in outputs)
        for stage, outputs in (("clean", documents), ("entities", entity_parts), ("numbers", quantities))
    }
    publish_run_report(stage_rows(summary.computed, summary.cached, summary.rows, ingested.n_documents, stage_errors),
                       published.summary)
    if published.n_rejected:
        logger.warning("%d inputs were rejected: see the errors table", published.n_rejected)
    logger.info("run summary\n%s", summary.render())


def _unchanged(settings: Settings, latest: Snapshot, summary: RunSummary) -> RunSummary:
    """The summary of a run that found nothing new, changed or deleted since the latest snapshot
    (no task runs). If a killed publish left a table folder unlike the snapshot, it is repaired."""
    location = Location(settings.processed_dir)
    if not table_folders_match(location, latest):
        get_run_logger().warning("the table folders were not those of snapshot %d: repaired", latest.id)
        sync_table_folders(location, latest)
    summary.rows, summary.snapshot_id = dict(latest.rows), latest.id
    summary.accounting = published_accounting(latest)
    get_run_logger().info("run summary\n%s", summary.render())
    return summary


def make_task_runner(kind: str, workers: int | None = None, dask_address: str | None = None) -> TaskRunner:
    """The task runner that runs the batches: threads (default; NER goes to a pool of spaCy
    processes), a process pool, or Dask (an existing cluster at `dask_address`, else a local
    one). `workers` (default: the core count) sets the processes, threads or Dask workers; with
    threads it sets the NER processes, and when it is not given NEWSFLOW_NER_PROCESSES does."""
    if kind == "threads":
        if workers is not None:
            os.environ["NEWSFLOW_NER_PROCESSES"] = str(workers)
        # A thread waits in each entities task while the NER processes work: with twice as many
        # threads as NER processes, and one more, NER always has a batch queued and cleaning and
        # numbers go on beside it.
        return ThreadPoolTaskRunner(max_workers=2 * ner_processes() + 1)
    workers = workers or os.cpu_count() or 1
    # Tasks run in worker processes: each runs NER itself rather than starting a NER pool.
    os.environ["NEWSFLOW_NER_PROCESSES"] = "1"
    if kind == "processes":
        return ProcessPoolTaskRunner(max_workers=workers, initializer=exit_with_parent, initargs=(os.getpid(),))
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if dask_address:
            return DaskTaskRunner(address=dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})
    raise ValueError(f"unknown task runner {kind!r}: choose one of {', '.join(TASK_RUNNERS)}")


@contextmanager
def prefect_api() -> Iterator[None]:
    """Use the configured Prefect API, or start Prefect's temporary server for this run.

    Started here rather than lazily by Prefect so that its address is in PREFECT_API_URL for
    every worker process; otherwise each process would start a temporary server of its own.
    """
    if PREFECT_API_URL.value():
        yield
        return
    # Imported here: the server's modules take seconds to import, and a configured API needs none.
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    timeout = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
    print(f"starting Prefect's temporary server (waiting up to {timeout} s: a first start in a new Prefect home "
          "creates its database)", file=sys.stderr, flush=True)
    started = time.monotonic()
    with every(10, lambda: print(f"still waiting for Prefect's temporary server: {time.monotonic() - started:.0f} s",
                                 file=sys.stderr, flush=True)):
        try:
            server.start(timeout)  # stopped at exit by Prefect, after its log and event workers are flushed
        except RuntimeError as error:
            raise RuntimeError(
                f"Prefect's temporary server did not answer within {timeout} s. Set "
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS higher, or start a server (make server) and "
                f"set PREFECT_API_URL. Prefect said: {error}") from error
    print(f"Prefect's temporary server is ready after {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    # ... unless this process is killed: then flows/reaper.py stops it. In a session of its own,
    # so that a Ctrl-C in the terminal goes to the run and the server only, and with no output
    # that would hold a pipe open after the run. Not a Popen: nothing here ever waits for it.
    os.posix_spawn(sys.executable, [sys.executable, str(Path(__file__).with_name("reaper.py")), str(os.getpid()),
                                    str(server.server_process.pid), str(server.port)],
                   os.environ, setsid=True, file_actions=[(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0)
                                                          for fd in (0, 1, 2)])
    os.environ["PREFECT_API_URL"] = server.api_url
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield


def clear_cache(cache_dir: str) -> int:
    """Delete everything in the cache folder, unless a run is using it (exit status 1)."""
    cache = Location(cache_dir)
    if cache.exists(""):
        running = live_run(cache, time.time())
        if running:
            print(f"a newsflow run ({running}) is using {cache_dir}; try again once it has finished", file=sys.stderr)
            return 1
        for path in cache.fs.ls(cache.root, detail=False):
            cache.fs.rm(path, recursive=True)
    print(f"cleared {cache_dir}")
    return 0


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed command line (flows/__main__.py parses it); exit status 0 when the run
    completed, 1 when it failed."""
    # The temporary server's telemetry heartbeat races its own SQLite writes at start-up and logs
    # a "database is locked" traceback; newsflow sends no telemetry anyway.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if args.command == "clear-cache":
        return clear_cache(args.cache_dir)
    parameters = {"raw_dir": args.raw_dir, "processed_dir": args.processed_dir, "cache_dir": args.cache_dir}
    if args.command == "serve":
        schedule = {"interval": args.interval} if args.interval else {"cron": args.cron}
        absolute = {name: normalize_url(folder) for name, folder in parameters.items()}
        news_pipeline.serve(name="newsflow-scheduled", parameters=absolute, **schedule)
        return 0
    if args.dask_address and not PREFECT_API_URL.value():
        print("newsflow run: a Dask cluster's workers report to the Prefect server, and the temporary server "
              "this command would start is local to it: start a server (make server, or prefect server start on a "
              "host they reach) and set PREFECT_API_URL", file=sys.stderr)
        return 2
    runner = make_task_runner(args.task_runner, args.workers, args.dask_address)
    try:
        with prefect_api():
            summary = news_pipeline.with_options(task_runner=runner)(**parameters)
    except Exception as error:  # the flow run already logged the details
        print(f"newsflow run failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(summary.render())
    return 0
