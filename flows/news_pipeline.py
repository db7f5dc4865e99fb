"""The newsflow flow: ingest -> clean -> entities -> numbers -> Parquet, and its command line.

    newsflow run --raw-dir data/raw --processed-dir data/processed
    python -m flows.news_pipeline run --raw-dir data/raw --processed-dir data/processed
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.states import State

from tasks.clean import clean_task
from tasks.entities import entities_task
from tasks.ingest import discover_sources, ingest_task
from tasks.numbers import numbers_task
from tasks.settings import DEFAULT_CACHE_DIR, DEFAULT_PROCESSED_DIR, DEFAULT_RAW_DIR, Settings, cache_version
from tasks.storage import ensure_private_folder, exclusive_run_lock
from tasks.write import TableParts, write_task


@dataclass
class RunSummary:
    """What a run did: table sizes and, per stage, how many task runs were computed or cached."""

    processed_dir: str
    rows: dict[str, int] = field(default_factory=dict)
    computed: Counter = field(default_factory=Counter)
    cached: Counter = field(default_factory=Counter)
    accounting: tuple[int, int, int] = (0, 0, 0)  # inputs, documents, rejected inputs

    @property
    def computed_anything(self) -> bool:
        return sum(self.computed.values()) > 0

    def render(self) -> str:
        stages = ["ingest", "clean", "entities", "numbers", "write"]
        lines = [
            f"documents: {self.rows.get('documents', 0)}   entities: {self.rows.get('entities', 0)}   "
            f"quantities: {self.rows.get('quantities', 0)}   errors: {self.rows.get('errors', 0)}",
            "inputs accounted for: {1} documents + {2} rejected = {0} of {0}".format(*self.accounting),
            "task runs (computed/cached): "
            + ", ".join(f"{stage} {self.computed[stage]}/{self.cached[stage]}" for stage in stages),
            "nothing changed: every result came from the cache" if not self.computed_anything else "",
            f"tables: {self.processed_dir}/<documents|entities|quantities|errors>/",
        ]
        return "\n".join(line for line in lines if line)


def _run(task, settings: Settings, summary: RunSummary, stage: str, **inputs):
    """Run a task with the cache in `settings`; recompute if a cached output's files are gone."""
    configured = task.with_options(result_storage=settings.result_dir)
    state: State = configured(**inputs, return_state=True)
    output = state.result()
    if not output.is_intact():
        get_run_logger().warning("cached %s output is missing or changed on disk: recomputing", stage)
        state = configured.with_options(refresh_cache=True)(**inputs, return_state=True)
        output = state.result()
    (summary.cached if state.name == "Cached" else summary.computed)[stage] += 1
    return output


@flow(name="newsflow", flow_run_name="newsflow {raw_dir}")
def news_pipeline(
    raw_dir: str = str(DEFAULT_RAW_DIR),
    processed_dir: str = str(DEFAULT_PROCESSED_DIR),
    cache_dir: str = str(DEFAULT_CACHE_DIR),
) -> RunSummary:
    """Turn the articles in `raw_dir` into Parquet tables in `processed_dir`."""
    settings = Settings.from_env(Path(raw_dir).resolve(), Path(processed_dir).resolve(), Path(cache_dir).resolve())
    if not settings.raw_dir.is_dir():
        raise FileNotFoundError(f"raw folder not found: {settings.raw_dir}")
    ensure_private_folder(settings.cache_dir)
    ensure_private_folder(settings.result_dir)
    with exclusive_run_lock(settings.processed_dir):
        return _run_stages(settings)


def _run_stages(settings: Settings) -> RunSummary:
    """The DAG: ingest once, then clean -> entities and numbers per batch, then write."""
    logger = get_run_logger()
    version = cache_version()
    work_dir = str(settings.work_dir)
    summary = RunSummary(processed_dir=str(settings.processed_dir))

    ingested = _run(
        ingest_task, settings, summary, "ingest",
        raw_dir=str(settings.raw_dir), sources=discover_sources(settings.raw_dir), work_dir=work_dir,
        target_batch_size=settings.target_batch_size, max_bytes=settings.max_document_bytes, cache_version=version,
    )
    documents, entities, quantities = [], [], []
    for number, batch in enumerate(ingested.batches, start=1):
        logger.info("batch %d of %d: %s", number, len(ingested.batches), batch.label)
        clean = _run(clean_task, settings, summary, "clean", batch=batch, work_dir=work_dir, cache_version=version)
        documents.append(clean)
        entities.append(_run(entities_task, settings, summary, "entities",
                             documents=clean, work_dir=work_dir, cache_version=version))
        quantities.append(_run(numbers_task, settings, summary, "numbers", documents=clean, work_dir=work_dir,
                               default_fx_date=settings.default_fx_date, cache_version=version))

    parts = TableParts(documents, entities, quantities, ingested.errors_path, ingested.n_inputs)
    published = _run(write_task, settings, summary, "write",
                     parts=parts, processed_dir=str(settings.processed_dir), cache_version=version)
    summary.rows = published.rows
    summary.accounting = (published.n_inputs, published.rows["documents"], published.n_rejected)
    logger.info("run summary\n%s", summary.render())
    return summary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsflow", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the pipeline once")
    clear = commands.add_parser("clear-cache", help="delete cached results (the next run recomputes all)")
    for command in (run, clear):
        command.add_argument("--cache-dir", default=str(DEFAULT_CACHE_DIR), help="cached results (default: %(default)s)")
    run.add_argument("--raw-dir", default=str(DEFAULT_RAW_DIR), help="input articles (default: %(default)s)")
    run.add_argument("--processed-dir", default=str(DEFAULT_PROCESSED_DIR), help="output tables (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; exit status 0 when the run completed, 1 when it failed."""
    args = _parser().parse_args(argv)
    # The temporary server's telemetry heartbeat races its own SQLite writes at start-up and logs
    # a "database is locked" traceback; newsflow sends no telemetry anyway.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if args.command == "clear-cache":
        shutil.rmtree(args.cache_dir, ignore_errors=True)
        print(f"cleared {args.cache_dir}")
        return 0
    try:
        summary = news_pipeline(raw_dir=args.raw_dir, processed_dir=args.processed_dir, cache_dir=args.cache_dir)
    except Exception as error:  # the flow run already logged the details
        print(f"newsflow run failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(summary.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
