"""Operating newsflow against a real Prefect server: a served deployment on a short schedule,
a run triggered through the API, the Parquet outputs and the artifacts read back."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.conftest import REPO, SEED, descendants, process_running, wait_until

DEPLOYMENT = "newsflow/newsflow-scheduled"
# Every test here needs the real server (and the flow): CI runs them on every supported Python.
pytestmark = pytest.mark.e2e
# The runners look for due runs every second instead of 10 s (serve) and 2 s (the worker).
FAST_POLLING = {"PREFECT_RUNNER_POLL_FREQUENCY": "1", "PREFECT_WORKER_QUERY_SECONDS": "1"}


def _scheduled_runs(api_url: str) -> list:
    """Completed runs of the served deployment that its schedule started (none while it is not
    registered yet)."""
    async def runs():
        async with get_client() as client:
            try:
                deployment = await client.read_deployment_by_name(DEPLOYMENT)
            except (ObjectNotFound, PrefectHTTPStatusError):  # not registered yet, or the server is busy
                return []
            return await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.COMPLETED]))),
            )

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        return [run for run in asyncio.run(runs()) if run.auto_scheduled]


def _registered(api_url: str, name: str) -> bool:
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        try:
            return bool(asyncio.run(_deployment(name)))
        except (ObjectNotFound, PrefectHTTPStatusError):  # not registered yet, or the server is busy
            return False


def test_served_deployment_runs_on_schedule_and_on_demand(prefect_server, tmp_path: Path):
    api_url, env = prefect_server
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEED, raw / SEED.name)
    serve = subprocess.Popen(
        [sys.executable, "-m", "flows", "serve", "--interval", "20", "--raw-dir", str(raw),
         "--processed-dir", str(tmp_path / "processed"), "--cache-dir", str(tmp_path / "cache")],
        cwd=REPO, env=env | FAST_POLLING, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _registered(api_url, DEPLOYMENT), 120, "the served deployment", interval=0.5)
        # On demand first, while the schedule's first run (--interval 20) is not due yet.
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            # Its own output folders: the schedule keeps starting runs, and two runs on one folder
            # exclude each other (the run lease).
            manual = {"raw_dir": str(raw), "processed_dir": str(tmp_path / "manual"), "cache_dir": str(tmp_path / "mcache")}
            triggered = run_deployment(DEPLOYMENT, parameters=manual, timeout=180, poll_interval=1)
            assert triggered.state.is_completed(), triggered.state

            async def artifacts():
                async with get_client() as client:
                    return await client.read_artifacts(
                        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[triggered.id])),
                        artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["newsflow-summary", "newsflow-stages"])),
                    )

            found = {artifact.key: artifact for artifact in asyncio.run(artifacts())}
        assert set(found) == {"newsflow-summary", "newsflow-stages"}
        assert "Xi Jinping" in found["newsflow-summary"].data
        documents = pd.read_parquet(tmp_path / "manual" / "documents")
        assert documents.source.tolist() == [SEED.name]
        scheduled = wait_until(lambda: _scheduled_runs(api_url), 180, "a scheduled run to complete", interval=0.5)
        assert scheduled[0].state.is_completed() and scheduled[0].id != triggered.id
        flow_run_processes = descendants(serve.pid)  # serve runs each flow run in a process of its own
    finally:
        serve.kill()
        serve.wait(timeout=30)
    # Each of them exits (with its NER workers) once its flow run is over, even with serve gone.
    wait_until(lambda: not [pid for pid in flow_run_processes if process_running(pid)], 90,
               "the served flow runs' processes to exit")


def test_deployment_from_prefect_yaml_runs_on_a_process_worker(prefect_server, tmp_path: Path):
    """The deploy + worker path: the commands of `make deploy` and `make worker`, against the
    test server. The deployment's working folder (NEWSFLOW_HOME) is a temporary one that links to
    the repo's code, so that a scheduled run falling due during the test writes nothing in the repo."""
    api_url, env = prefect_server
    home = tmp_path / "home"
    home.mkdir()
    for package in ("flows", "tasks"):
        (home / package).symlink_to(REPO / package)
    env = env | {"NEWSFLOW_HOME": str(home)} | FAST_POLLING
    prefect = str(Path(sys.executable).parent / "prefect")
    subprocess.run([prefect, "work-pool", "create", "newsflow-process", "--type", "process", "--overwrite"],
                   cwd=REPO, env=env, check=True, capture_output=True)
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEED, raw / SEED.name)
    # The worker starts while the deployment is made (it polls the pool until there is work).
    worker = subprocess.Popen([prefect, "worker", "start", "--pool", "newsflow-process"], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        subprocess.run([prefect, "--no-prompt", "deploy", "--name", "newsflow-hourly"],
                       cwd=REPO, env=env, check=True, capture_output=True)
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            deployment = asyncio.run(_deployment("newsflow/newsflow-hourly"))
            assert [schedule.schedule.cron for schedule in deployment.schedules] == ["0 * * * *"]
            parameters = {"raw_dir": str(raw), "processed_dir": str(tmp_path / "processed"),
                          "cache_dir": str(tmp_path / "cache")}
            triggered = run_deployment("newsflow/newsflow-hourly", parameters=parameters, timeout=180,
                                       poll_interval=1)
        assert triggered.state.is_completed(), triggered.state
        documents = pd.read_parquet(tmp_path / "processed" / "documents")
        assert documents.source.tolist() == [SEED.name]
        # The worker runs the flow in a process of its own, which must exit with its NER workers.
        wait_until(lambda: not [pid for pid in descendants(worker.pid) if process_running(pid)], 60,
                   "the flow run's processes to exit")
    finally:
        worker.terminate()
        worker.wait(timeout=30)


async def _deployment(name: str):
    async with get_client() as client:
        return await client.read_deployment_by_name(name)


def test_the_container_deployment_registers_with_its_image_and_s3_locations(prefect_server):
    """prefect.yaml's second deployment, as docs/production.md makes it: a Docker work pool (the
    server knows the type without prefect-docker), the image and the S3 prefix from the
    environment, the code's folder in the image. (No container runtime runs it here.)"""
    api_url, env = prefect_server
    env = env | {"NEWSFLOW_IMAGE": "registry.example.com/newsflow:test", "NEWSFLOW_S3": "s3://news"}
    prefect = str(Path(sys.executable).parent / "prefect")
    subprocess.run([prefect, "work-pool", "create", "newsflow-docker", "--type", "docker", "--overwrite"],
                   cwd=REPO, env=env, check=True, capture_output=True)
    subprocess.run([prefect, "--no-prompt", "deploy", "--name", "newsflow-hourly-s3"],
                   cwd=REPO, env=env, check=True, capture_output=True)
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        deployment = asyncio.run(_deployment("newsflow/newsflow-hourly-s3"))
    assert deployment.parameters == {"raw_dir": "s3://news/raw", "processed_dir": "s3://news/processed",
                                     "cache_dir": "s3://news/cache"}
    assert deployment.job_variables["image"] == "registry.example.com/newsflow:test"
    assert deployment.work_pool_name == "newsflow-docker"
    assert deployment.pull_steps == [{"prefect.deployments.steps.set_working_directory":
                                      {"directory": "/opt/newsflow"}}]
    assert [schedule.schedule.cron for schedule in deployment.schedules] == ["0 * * * *"]


def test_the_dockerfile_copies_what_the_package_needs(tmp_path: Path):
    """The files the Dockerfile copies build the package (pip installs it from them) with every
    module of flows/ and tasks/, and the deployment's entrypoint is among them."""
    dockerfile = (REPO / "Dockerfile").read_text()
    copied = [name for line in dockerfile.splitlines() if line.startswith("COPY ")
              for name in line.split()[1:-1]]
    (tmp_path / "context").mkdir()
    for name in copied:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / "context" / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(tmp_path / "wheel"), str(tmp_path / "context")], check=True, capture_output=True)
    [wheel] = (tmp_path / "wheel").glob("newsflow-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = {name for name in archive.namelist() if name.endswith(".py")}
    assert {f"{path.parent.name}/{path.name}" for package in ("flows", "tasks")
            for path in (REPO / package).glob("*.py")} <= packaged
    assert (tmp_path / "context" / "flows" / "news_pipeline.py").is_file() and "WORKDIR /opt/newsflow" in dockerfile
