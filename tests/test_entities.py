"""Tests for tasks/entities.py: NER on a pool of worker processes, which import no Prefect."""

from __future__ import annotations

import subprocess
import sys
from operator import attrgetter

from tasks.entities import extract_entities_in_parallel
from tasks.ner import extract_entities, load_nlp
from tests.conftest import REPO


def test_worker_module_imports_no_prefect():
    """The NER workers import tasks.ner only: Prefect would double their start-up time."""
    check = "import sys, tasks.ner; sys.exit('prefect' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", check], cwd=REPO).returncode == 0


def test_pool_of_two_finds_what_one_process_finds(seed_text: str):
    documents = [
        {"doc_id": "seed", "source": "seed.txt", "text": seed_text},
        {"doc_id": "short", "source": "short.txt", "text": "Tony Blair met Gordon Brown in London on Monday."},
        {"doc_id": "empty", "source": "empty.txt", "text": ""},
    ]
    in_parallel, parallel_errors = extract_entities_in_parallel(documents, processes=2)
    in_process, errors = extract_entities(load_nlp(), documents)
    key = attrgetter("doc_id", "start_char")
    assert sorted(in_parallel, key=key) == sorted(in_process, key=key) and parallel_errors == errors == []
    assert {mention.doc_id for mention in in_parallel} == {"seed", "short"}
