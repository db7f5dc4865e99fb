"""Entities: named entities of each batch, by spaCy NER on a pool of worker processes.

The NER and naming rules are in tasks/ner.py, which the worker processes import without Prefect.
"""

from __future__ import annotations

import functools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
from prefect import get_run_logger, task

from tasks.errors import ErrorRecord, errors_table
from tasks.ner import STAGE, Mention, extract_entities, extract_in_worker, load_nlp, model_loaded
from tasks.schemas import ENTITIES
from tasks.settings import ner_processes
from tasks.storage import StageOutput, read_table, write_stage_output
from tasks.tasking import STAGE_TASK_OPTIONS


@functools.cache
def ner_pool(processes: int) -> ProcessPoolExecutor:
    """Worker processes that each load the lean pipeline once, kept for the life of the run.

    Started lazily (a fully cached run never pays for them) with the spawn method, which is
    safe in a process that runs threads, as Prefect's flow process does.
    """
    return ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
                               initializer=load_nlp)


def start_ner_workers(processes: int) -> None:
    """Start the NER pool's processes now, without waiting, so that they load the model while
    the first batches are cleaned. Does nothing when NER runs in the calling process."""
    if processes > 1:
        pool = ner_pool(processes)
        for _ in range(processes):
            pool.submit(model_loaded)


def extract_entities_in_parallel(documents: list[dict], processes: int) -> tuple[list[Mention], list[ErrorRecord]]:
    """extract_entities on `processes` cores: the documents are dealt round-robin to the pool."""
    if processes <= 1 or len(documents) < 2:
        return extract_entities(load_nlp(), documents)
    shares = [documents[i::processes] for i in range(processes)]
    mentions: list[Mention] = []
    errors: list[ErrorRecord] = []
    for found, failed in ner_pool(processes).map(extract_in_worker, shares):
        mentions += found
        errors += failed
    return mentions, errors


@task(name="entities", task_run_name="entities {documents.label}", **STAGE_TASK_OPTIONS)
def entities_task(documents: StageOutput, work_dir: str, cache_version: str) -> StageOutput:
    """Named entities of one batch of clean documents."""
    rows = read_table(documents.path).select(["doc_id", "source", "text"]).to_pylist()
    mentions, errors = extract_entities_in_parallel(rows, ner_processes())
    get_run_logger().info("found %d entity mentions in %d documents", len(mentions), len(rows))
    table = pa.Table.from_pylist([asdict(mention) for mention in mentions], schema=ENTITIES)
    return write_stage_output(table, errors_table(errors), Path(work_dir) / STAGE, documents.label)
