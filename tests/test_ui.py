"""A real browser check of the Prefect UI: headless Chromium renders a newsflow flow run's page.

Needs Debian's `chromium` (.ci/run installs it); skipped when it is missing. The screenshot is
saved to build/ui/flow-run.png (`make ui-check` runs only this test).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.conftest import REPO, SEED, wait_until

CHROMIUM = shutil.which("chromium")
SCREENSHOT = REPO / "build" / "ui" / "flow-run.png"


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--window-size=1440,1100", "--virtual-time-budget=20000"]
    return subprocess.run([CHROMIUM, *flags, *arguments], capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_flow_run_page_renders_with_its_task_runs(prefect_server, tmp_path: Path):
    api_url, env = prefect_server
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEED, raw / SEED.name)
    run = subprocess.run([sys.executable, "-m", "flows", "run", "--raw-dir", str(raw),
                          "--processed-dir", str(tmp_path / "processed"), "--cache-dir", str(tmp_path / "cache")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr

    # This run's id, from the "View at .../runs/flow-run/<id>" log line (other runs share the server).
    flow_run_id = re.search(r"/runs/flow-run/([0-9a-f-]{36})", run.stdout + run.stderr).group(1)

    async def task_names():
        async with get_client() as client:
            task_runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            return {task_run.name.split()[0] for task_run in task_runs}

    def all_task_runs_recorded() -> bool:  # task run states reach the server as events, a moment later
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            return asyncio.run(task_names()) == {"ingest", "clean", "entities", "numbers", "write"}

    wait_until(all_task_runs_recorded, 60, "the flow run's task runs", interval=0.5)

    # The page draws its timeline on a canvas: the check is the rendered screenshot, whose size
    # tells a drawn page (about 160 KB) from the empty application shell (a few KB).
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    page = f"{api_url.removesuffix('/api')}/runs/flow-run/{flow_run_id}"
    chromium(f"--screenshot={SCREENSHOT}", page, profile=tmp_path / "profile")
    assert SCREENSHOT.stat().st_size > 60_000
