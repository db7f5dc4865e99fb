"""Shared test set-up: one Prefect test harness per session, isolated from the user's ~/.prefect.

The environment is set before Prefect is imported, so nothing here touches the user's Prefect
home, result storage or the repo's data/cache.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_prefect_home = Path(tempfile.mkdtemp(prefix="newsflow-prefect-home-"))
os.environ["PREFECT_HOME"] = str(_prefect_home)
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(_prefect_home / "storage")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["NEWSFLOW_RETRY_BACKOFF_SECONDS"] = "0.01"

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "seeds" / "000_8a74b926aa5c5ac4.txt"


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API for the whole session (it takes 10-20 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_prefect_home, ignore_errors=True)
