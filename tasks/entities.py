"""Entities: named entities of each batch, by spaCy NER on a pool of worker processes.

The NER and naming rules are in tasks/ner.py, which the worker processes import without Prefect;
the pool is in tasks/ner_pool.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

from prefect import get_run_logger, task

from tasks.chunks import CHUNKS_FOLDER, ChunkResult, compute_by_chunk
from tasks.errors import errors_table
from tasks.ner import NLP_BATCH_SIZE, STAGE, ChunkMentions, extract_entities_of_chunks, extract_in_worker, load_nlp
from tasks.ner_pool import ner_pool, pool_running, wait_for_started_workers
from tasks.progress import documents_done
from tasks.schemas import ENTITIES, ERRORS, records_table
from tasks.settings import ner_processes
from tasks.storage import StageOutput, read_arrow, write_stage_output
from tasks.tasking import STAGE_TASK_OPTIONS


# Up to this many documents to compute (about 12,000 words, a second of NER), and with no pool
# running, NER runs in the calling process: loading the model here (under a second) beats
# starting worker processes then (1-4 s, as they compete for the cores). When ingest was to run,
# a worker has been started already (start_ner_workers) and small work goes to it.
IN_PROCESS_NER_DOCUMENTS = 32
# Documents per NER job (one nlp.pipe call): two of spaCy's batches, and a batch of 512
# documents still makes eight jobs to share between the workers.
NER_JOB_DOCUMENTS = 2 * NLP_BATCH_SIZE


def ner_jobs(chunks: list[list[dict]], size: int = NER_JOB_DOCUMENTS) -> list[list[list[dict]]]:
    """Consecutive chunks grouped into jobs of at least `size` documents (the last may be smaller)."""
    jobs: list[list[list[dict]]] = []
    in_last_job = size  # documents in the last job: full, so the first chunk starts a job
    for chunk in chunks:
        if in_last_job >= size:
            jobs.append([])
            in_last_job = 0
        jobs[-1].append(chunk)
        in_last_job += len(chunk)
    return jobs


def extract_entities_by_chunk(chunks: list[list[dict]], processes: int) -> Iterator[ChunkMentions]:
    """extract_entities of each chunk, in order, run in jobs of NER_JOB_DOCUMENTS documents: on
    the pool's `processes` cores, unless there is one process or the work is small and no pool
    is running (see IN_PROCESS_NER_DOCUMENTS)."""
    jobs = ner_jobs(chunks)
    small = sum(len(chunk) for chunk in chunks) <= IN_PROCESS_NER_DOCUMENTS
    if processes <= 1 or (small and not pool_running(processes)):
        nlp = load_nlp()
        results = (extract_entities_of_chunks(nlp, job) for job in jobs)
    else:
        if small:
            # Wait for the workers that are loading the model: the pool starts another process
            # whenever none is idle, and one more model load competing for the cores is slower.
            wait_for_started_workers(processes)
        results = ner_pool(processes).map(extract_in_worker, jobs)
    return (chunk_result for job_results in results for chunk_result in job_results)


def entities_by_chunk(chunks: list[list[dict]], batch: str = "") -> Iterator[ChunkResult]:
    """The entities table rows and error rows of each chunk of clean documents; each chunk's
    documents count as done in the run's progress of `batch` (tasks/progress.py)."""
    for chunk, (mentions, errors) in zip(chunks, extract_entities_by_chunk(chunks, ner_processes())):
        documents_done(batch, len(chunk))
        yield records_table(mentions, ENTITIES), errors_table(errors)


@task(name="entities", task_run_name="entities {documents.label}", **STAGE_TASK_OPTIONS)
def entities_task(documents: StageOutput, work_dir: str, cache_version: str) -> StageOutput:
    """Named entities of one batch of clean documents."""
    folder = Path(work_dir) / STAGE
    result = compute_by_chunk(
        read_arrow(documents.path, ["doc_id", "source", "text"]).to_pylist(),
        f"{STAGE}/{cache_version}", folder / CHUNKS_FOLDER, partial(entities_by_chunk, batch=documents.label),
        (ENTITIES, ERRORS),
        text_column="text",
    )
    get_run_logger().info("found %d entity mentions; %d of %d documents reused from earlier runs",
                          result.rows.num_rows, documents.n_rows - result.n_computed, documents.n_rows)
    return write_stage_output(result.rows, result.errors, folder, documents.label, result.chunk_files)
