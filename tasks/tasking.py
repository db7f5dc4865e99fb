"""Task options shared by every stage: caching across runs, where results are kept, and retries
of transient faults."""

from __future__ import annotations

import hashlib
from pathlib import Path

import botocore.exceptions
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.filesystems import RemoteFileSystem, WritableFileSystem
from prefect.tasks import exponential_backoff

from tasks.settings import RETRIES, RETRY_BACKOFF_SECONDS, RETRY_JITTER_FACTOR
from tasks.storage import FILE_SYSTEM_OPTIONS, Location

# Faults that another attempt cannot mend: access denied, a missing bucket or file, a path that
# is a folder. Every other OSError is retried: on disk, a full disk or an I/O error; on S3, what
# s3fs raises once the client's own retries gave up on an HTTP 500 or 503 (SlowDown: 25
# attempts in about 40 s; the others: 5). A connection cut without an answer surfaces as one of
# botocore's own errors, which is retried too.
PERMANENT_ERRORS = (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError)
TRANSIENT_ERRORS = (OSError, botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)


def retry_only_transient_errors(task, task_run, state) -> bool:
    """Retry transient I/O faults; a bad document is handled inside the stage, never retried."""
    try:
        state.result()
    except PERMANENT_ERRORS:
        return False
    except TRANSIENT_ERRORS:
        return True
    except BaseException:
        return False
    return False


# INPUTS + TASK_SOURCE, without the flow-run id of Prefect's default policy, so cache hits work
# across runs and processes. Every task also takes a `cache_version` input (tasks/settings.py)
# because TASK_SOURCE does not see the helpers a task calls. Inputs are file URLs and content
# hashes, never spaCy objects (they hash differently in every process).
STAGE_TASK_OPTIONS = dict(
    cache_policy=INPUTS + TASK_SOURCE,
    persist_result=True,
    retries=RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=RETRY_BACKOFF_SECONDS),
    retry_jitter_factor=RETRY_JITTER_FACTOR,
    retry_condition_fn=retry_only_transient_errors,
)


def result_storage(url: str) -> Path | WritableFileSystem:
    """Where Prefect keeps the stages' results (small pickles: URLs and counts), beside the
    cache. A local folder is given as a path. Elsewhere Prefect needs a saved block (an unsaved
    one is refused, a URL string is read as a block's name): a RemoteFileSystem block named
    after the URL, created on the Prefect server the first time and loaded once per run (a
    block's name given to a task is looked up again on every task run, about 150 ms each).
    The block holds the URL only: credentials come from the standard chain (environment,
    config file, instance role) wherever a task runs."""
    location = Location(url)
    if location.is_local:
        return Path(location.root)
    name = "newsflow-results-" + hashlib.sha256(location.url.encode()).hexdigest()[:16]
    try:
        block = RemoteFileSystem.load(name)
        if (block.basepath, block.settings) == (location.url, FILE_SYSTEM_OPTIONS):
            return block
    except ValueError:  # no such block yet
        pass
    block = RemoteFileSystem(basepath=location.url, settings=FILE_SYSTEM_OPTIONS)
    block.save(name, overwrite=True)
    return block
