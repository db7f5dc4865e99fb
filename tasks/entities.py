"""Entities: named entities of each batch, by spaCy NER on a pool of worker processes.

The NER and naming rules are in tasks/ner.py, which the worker processes import without Prefect;
the pool is in tasks/ner_pool.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from prefect import get_run_logger, task

from tasks.errors import errors_table
from tasks.ner import NLP_BATCH_SIZE, STAGE, EntitiesResult, extract_entities, extract_in_worker, load_nlp
from tasks.ner_pool import ner_pool, pool_running, wait_for_started_workers
from tasks.progress import documents_done
from tasks.schemas import ENTITIES, QUANTITY_CONTEXTS, QUOTATIONS, records_table
from tasks.settings import ner_processes
from tasks.stage_files import StageOutput, read_arrow, write_stage_output
from tasks.storage import Location
from tasks.tasking import STAGE_TASK_OPTIONS


# Up to this many documents, and with no pool running, NER runs in the calling process (about
# 12,000 words, a second of NER): loading the model here (under a second) beats starting worker
# processes then (1-4 s, as they compete for the cores). When ingest was to run, a worker has
# been started already (start_ner_workers) and small work goes to it.
IN_PROCESS_NER_DOCUMENTS = 32
# Documents per NER job (one nlp.pipe call): two of spaCy's batches, and a batch of 512
# documents still makes eight jobs to share between the workers.
NER_JOB_DOCUMENTS = 2 * NLP_BATCH_SIZE

def ner_jobs(documents: list[dict], size: int = NER_JOB_DOCUMENTS) -> list[list[dict]]:
    """The documents in consecutive jobs of `size` (the last may be smaller)."""
    return [documents[start:start + size] for start in range(0, len(documents), size)]


def extract_entities_by_job(jobs: list[list[dict]], processes: int) -> Iterator[EntitiesResult]:
    """extract_entities of each job, in order: on the pool's `processes` cores, unless there is
    one process or the work is small and no pool is running (see IN_PROCESS_NER_DOCUMENTS)."""
    small = sum(len(job) for job in jobs) <= IN_PROCESS_NER_DOCUMENTS
    if processes <= 1 or (small and not pool_running(processes)):
        nlp = load_nlp()
        return (extract_entities(nlp, job) for job in jobs)
    if small:
        # Wait for the workers that are loading the model: the pool starts another process
        # whenever none is idle, and one more model load competing for the cores is slower.
        wait_for_started_workers(processes)
    return ner_pool(processes).map(extract_in_worker, jobs)


def batch_entities(documents: list[dict], batch: str = "") -> EntitiesResult:
    """The mentions, quantity contexts, quotes and error rows of a batch of clean documents;
    each job's documents count as done in the run's progress of `batch` (tasks/progress.py) as
    NER returns them."""
    jobs = ner_jobs(documents)
    result = EntitiesResult()
    for job, job_result in zip(jobs, extract_entities_by_job(jobs, ner_processes())):
        documents_done(batch, len(job))
        result.extend(job_result)
    return result


@task(name="entities", task_run_name="entities {documents.label}", **STAGE_TASK_OPTIONS)
def entities_task(documents: StageOutput, quantities: StageOutput, work_dir: str, cache_version: str) -> StageOutput:
    """Named entities, the quantities' sentences, subjects and speakers, and the quotes of one
    batch of clean documents, whose quantities the numbers stage found (`quantities`). The rows
    are the entities; `more` holds `quantity_contexts` (which the write stage joins to the
    quantities) and `quotations`."""
    rows = read_arrow(documents.path, ["doc_id", "source", "text"]).to_pylist()
    spans = read_arrow(quantities.path, ["doc_id", "start_char", "end_char", "amount_id", "kind"]).to_pylist()
    by_document: dict[str, list[tuple[int, int, int, str]]] = {}
    for span in spans:
        by_document.setdefault(span["doc_id"], []).append(
            (span["start_char"], span["end_char"], span["amount_id"], span["kind"]))
    found = batch_entities([row | {"quantities": by_document.get(row["doc_id"], [])} for row in rows], documents.label)
    get_run_logger().info("found %d entity mentions and %d quotes in %d documents", len(found.mentions),
                          len(found.quotations), documents.n_rows)
    more = {"quantity_contexts": records_table(found.quantity_contexts, QUANTITY_CONTEXTS),
            "quotations": records_table(found.quotations, QUOTATIONS)}
    return write_stage_output(records_table(found.mentions, ENTITIES), errors_table(found.errors), Location(work_dir),
                              STAGE, documents.label, more)
