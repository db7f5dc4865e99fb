"""Task options shared by every stage: caching across runs and retries of transient faults."""

from __future__ import annotations

from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.tasks import exponential_backoff

from tasks.settings import RETRIES, RETRY_BACKOFF_SECONDS, RETRY_JITTER_FACTOR


def retry_only_os_errors(task, task_run, state) -> bool:
    """Retry I/O faults (OSError); a bad document is handled inside the stage, never retried."""
    try:
        state.result()
    except OSError:
        return True
    except BaseException:
        return False
    return False


# INPUTS + TASK_SOURCE, without the flow-run id of Prefect's default policy, so cache hits work
# across runs and processes. Every task also takes a `cache_version` input (tasks/settings.py)
# because TASK_SOURCE does not see the helpers a task calls. Inputs are file paths and content
# hashes, never spaCy objects (they hash differently in every process).
STAGE_TASK_OPTIONS = dict(
    cache_policy=INPUTS + TASK_SOURCE,
    persist_result=True,
    retries=RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=RETRY_BACKOFF_SECONDS),
    retry_jitter_factor=RETRY_JITTER_FACTOR,
    retry_condition_fn=retry_only_os_errors,
)
