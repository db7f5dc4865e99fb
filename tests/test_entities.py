"""Tests for tasks/entities.py: NER on a pool of worker processes, which import no Prefect."""

from __future__ import annotations

from operator import attrgetter

from tasks.entities import extract_entities_by_job, ner_jobs
from tasks.ner import extract_entities, load_nlp
from tasks.ner_pool import _pools, _warming_up, start_ner_workers
from tasks.numbers import quantity_spans
from tests.conftest import heavy_imports


def test_worker_module_imports_neither_prefect_nor_pyarrow():
    """The NER workers import tasks.ner only: Prefect would double their start-up time, and
    pyarrow would add a tenth of a second to it."""
    assert heavy_imports("tasks.ner") == []


def test_pool_of_two_finds_what_one_process_finds(seed_text: str):
    documents = [
        {"doc_id": "seed", "source": "seed.txt", "text": seed_text, "quantities": quantity_spans(seed_text)},
        {"doc_id": "short", "source": "short.txt", "text": "Tony Blair met Gordon Brown in London on Monday."},
        {"doc_id": "empty", "source": "empty.txt", "text": ""},
    ]
    jobs = [documents[:1], documents[1:]]
    start_ner_workers(2, 2)  # with no pool running, work this small would run in this process
    assert 2 in _pools
    seed, rest = extract_entities_by_job(jobs, processes=2)
    in_process = extract_entities(load_nlp(), documents)
    key = attrgetter("doc_id", "start_char")
    for table in ("mentions", "quantity_contexts", "quotations"):
        in_parallel = getattr(seed, table) + getattr(rest, table)
        assert sorted(in_parallel, key=key) == sorted(getattr(in_process, table), key=key)
    assert seed.errors == rest.errors == in_process.errors == []
    assert {mention.doc_id for mention in seed.mentions} == {"seed"}  # results come back in the jobs' order
    assert {mention.doc_id for mention in seed.mentions + rest.mentions} == {"seed", "short"}
    assert seed.quantity_contexts and seed.quotations


def test_small_work_waits_for_the_worker_started_early_and_none_starts_twice():
    processes = 3  # a pool of its own, with room for more workers than the one started early
    start_ner_workers(processes, 1)  # as the command line does, when ingest will run
    start_ner_workers(processes, 1)  # as the flow does after ingest: one wanted, one started already
    try:
        jobs = [[{"doc_id": "short", "source": "short.txt", "text": "Tony Blair met Gordon Brown in London."}]]
        [found] = list(extract_entities_by_job(jobs, processes))
        assert {mention.text for mention in found.mentions} >= {"Tony Blair", "Gordon Brown", "London"}
        assert found.errors == []
        assert len(_pools[processes]._processes) == 1  # the busy pool would otherwise start a second
    finally:
        _pools.pop(processes).shutdown()
        _warming_up.pop(processes)


def test_documents_are_cut_into_jobs_of_the_job_size():
    documents = [{"doc_id": str(number)} for number in range(27)]
    jobs = ner_jobs(documents, size=12)
    assert [len(job) for job in jobs] == [12, 12, 3]
    assert [document for job in jobs for document in job] == documents  # order kept, nothing lost
    assert ner_jobs([], size=12) == []
