"""End-to-end on object storage: the real flow with raw articles, tables and cache on a real S3
server on loopback (moto's server mode: the `s3_bucket` fixture), in this process, in fresh
processes that share no disk with it, and on a Dask cluster of separate processes."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from flows.news_pipeline import make_task_runner, news_pipeline
from tasks.snapshots import read_tables
from tasks.storage import Location
from tasks.sweep import read_records
from tests.conftest import S3_TEST_SECRET, SEED, free_port, wait_until
from tests.s3_faults import FaultProxy

# Columns that say when a row was made, which differ between any two runs.
RUN_TIME_COLUMNS = ("processed_at", "created_at")


SECOND_ARTICLE = "Acme Corp hired Jane Doe in London on Monday, 3 March 2021, for $2m a year."
OUTPUTS: list[str] = []  # what every newsflow process of this file printed (scanned for the secret key)


@pytest.fixture(autouse=True)
def prefect_api(prefect_harness: str) -> str:
    return prefect_harness


def comparable(processed: str) -> dict[str, pa.Table]:
    """The latest snapshot's tables without the columns of when they were made."""
    return {name: table.drop_columns([c for c in RUN_TIME_COLUMNS if c in table.column_names])
            for name, table in read_tables(processed).items()}


@pytest.fixture(scope="module")
def local_tables(tmp_path_factory) -> dict[str, pa.Table]:
    """The seed article's tables from a run on local folders with the default task runner."""
    folder = tmp_path_factory.mktemp("local")
    (folder / "raw").mkdir()
    shutil.copy(SEED, folder / "raw" / SEED.name)
    news_pipeline(raw_dir=str(folder / "raw"), processed_dir=str(folder / "processed"),
                  cache_dir=str(folder / "cache"))
    return comparable(str(folder / "processed"))


@pytest.fixture
def s3_prefix(s3_bucket: str) -> str:
    """A prefix of its own in the test bucket, with the seed article under raw/."""
    prefix = f"{s3_bucket}/e2e-{uuid.uuid4().hex[:8]}"
    Location(prefix).write_bytes(f"raw/{SEED.name}", SEED.read_bytes())
    return prefix


def fresh_process_env(root: Path, api_url: str) -> dict[str, str]:
    """The environment of a process on a machine of its own: new empty HOME, Prefect home and
    temporary folder (under `root`), the same Prefect server and S3 settings."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("PREFECT_", "NEWSFLOW_CACHE"))}
    for folder in ("home", "prefect-home", "tmp", "cwd"):
        (root / folder).mkdir(parents=True)
    return env | {"HOME": str(root / "home"), "PREFECT_HOME": str(root / "prefect-home"), "TMPDIR": str(root / "tmp"),
                  "PREFECT_API_URL": api_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def files_beneath(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def computed_task_runs(output: str) -> dict[str, int]:
    """Per stage, the task runs computed (not cached), from a run's summary."""
    line = next(line for line in output.splitlines() if line.startswith("task runs (computed/cached):"))
    return {stage: int(computed) for stage, computed in re.findall(r"(\w+) (\d+)/\d+", line)}


@pytest.mark.e2e
def test_the_seed_on_s3_gives_the_local_tables_and_fresh_processes_compute_nothing(
        local_tables, s3_prefix: str, prefect_api: str, tmp_path: Path):
    raw, cache = f"{s3_prefix}/raw", f"{s3_prefix}/cache"
    summary = news_pipeline(raw_dir=raw, processed_dir=f"{s3_prefix}/processed", cache_dir=cache)
    assert summary.rows["documents"] == 1 and summary.computed_anything
    assert comparable(f"{s3_prefix}/processed") == local_tables
    assert Location(cache).sizes("prefect-results") and Location(cache).sizes("work/entities")

    def run_elsewhere(name: str, processed: str) -> str:
        """`newsflow run` in a new process with its own empty working folder, HOME, Prefect home
        and temporary folder: all it may leave on local disk is temporary files."""
        root = tmp_path / name
        env = fresh_process_env(root, prefect_api)
        result = subprocess.run([sys.executable, "-m", "flows", "run", "--raw-dir", raw, "--processed-dir", processed,
                                 "--cache-dir", cache], cwd=root / "cwd", env=env, capture_output=True, text=True,
                                timeout=600)
        OUTPUTS.append(result.stdout + result.stderr)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        for folder in ("cwd", "home", "prefect-home"):
            assert files_beneath(root / folder) == [], folder
        return result.stdout

    # The same processed location: nothing changed, no task runs.
    assert "no task ran" in run_elsewhere("unchanged", f"{s3_prefix}/processed")
    # A new processed location: every stage's task runs. Clean, entities and numbers come from
    # the cache on S3; ingest (which compares with the processed location's snapshot) and write
    # (which publishes there) have another location among their inputs, and run.
    output = run_elsewhere("new-tables", f"{s3_prefix}/processed-2")
    assert computed_task_runs(output) == {"ingest": 1, "clean": 0, "entities": 0, "numbers": 0, "write": 1}, output
    assert comparable(f"{s3_prefix}/processed-2") == local_tables
    # Its run record names the cache files it used, on S3 as on disk (the sweep keeps those).
    records, unreadable = read_records(Location(cache))
    used = max(records, key=lambda record: record.finished).used
    assert not unreadable and {path.split("/")[0] for path in used} == {"prefect-results", "work"}
    assert set(used) <= set(Location(cache).sizes(""))


@pytest.fixture
def dask_cluster(tmp_path: Path, prefect_api: str):
    """`dask scheduler` and two `dask worker` processes on loopback, each started in an empty
    working folder with a temporary folder of its own; the scheduler's address."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes = []
    try:
        for name, command in [("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(port)]),
                              *[(f"worker-{n}", ["worker", address, "--nthreads", "1", "--nworkers", "1",
                                                 "--local-directory", str(tmp_path / f"worker-{n}" / "tmp")])
                                for n in (1, 2)]]:
            env = fresh_process_env(tmp_path / name, prefect_api)
            processes.append(subprocess.Popen(
                [str(Path(sys.executable).with_name("dask")), *command, "--no-dashboard"],
                cwd=tmp_path / name / "cwd", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout=60) as client:
            wait_until(lambda: len(client.scheduler_info()["workers"]) == 2, 120, "two Dask workers")
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.mark.e2e
def test_a_dask_cluster_of_separate_processes_on_s3_gives_the_default_runners_tables(
        local_tables, s3_prefix: str, dask_cluster: str, tmp_path: Path):
    runner = make_task_runner("dask", dask_address=dask_cluster)
    news_pipeline.with_options(task_runner=runner)(
        raw_dir=f"{s3_prefix}/raw", processed_dir=f"{s3_prefix}/processed", cache_dir=f"{s3_prefix}/cache")
    assert comparable(f"{s3_prefix}/processed") == local_tables
    for name in ("worker-1", "worker-2"):
        assert files_beneath(tmp_path / name / "cwd") == []


def start_run(prefix: str, root: Path, api_url: str, endpoint: str | None = None, **env: str) -> subprocess.Popen:
    """`newsflow run` on raw/, processed/ and cache/ under `prefix`, in a process of its own (and
    its own process group) with a fresh environment under `root`, reaching S3 at `endpoint`."""
    environment = fresh_process_env(root, api_url) | env
    if endpoint:
        environment["AWS_ENDPOINT_URL"] = endpoint
    return subprocess.Popen([sys.executable, "-m", "flows", "run", "--raw-dir", f"{prefix}/raw", "--processed-dir",
                             f"{prefix}/processed", "--cache-dir", f"{prefix}/cache"], cwd=root / "cwd",
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def finish(process: subprocess.Popen) -> tuple[int, str]:
    """Its exit status and everything it printed, once it has ended."""
    out, err = process.communicate(timeout=600)
    OUTPUTS.append(out + err)
    return process.returncode, out + err


def s3_path(prefix: str) -> str:
    """The request path of a prefix in S3's path-style URLs (what the proxy's rules match)."""
    return "/" + prefix.removeprefix("s3://")


@pytest.fixture
def proxy():
    with FaultProxy(upstream=os.environ["AWS_ENDPOINT_URL"]) as proxy:
        yield proxy


@pytest.mark.e2e
def test_a_burst_of_503s_is_retried_and_the_run_completes(local_tables, s3_prefix: str, proxy: FaultProxy,
                                                          prefect_api: str, tmp_path: Path):
    # Two attempts per request in the S3 client (instead of 5), so that the burst of five gets past
    # it twice and the task's own retries (tasks/tasking.py) take over.
    proxy.fail(s3_path(s3_prefix) + "/cache/work/clean/", times=5, status=503, code="ServiceUnavailable",
               method="PUT")
    status, output = finish(start_run(s3_prefix, tmp_path, prefect_api, proxy.url,
                                      AWS_MAX_ATTEMPTS="2", AWS_RETRY_MODE="standard"))
    assert status == 0, output
    assert [seen.status for seen in proxy.requests
            if seen.method == "PUT" and "/work/clean/" in seen.path] == [503] * 5 + [200, 200]
    assert "Retry 2/3" in output and "Traceback" not in output
    assert comparable(f"{s3_prefix}/processed") == local_tables


@pytest.mark.e2e
def test_access_denied_fails_the_run_at_once_naming_the_location(s3_prefix: str, proxy: FaultProxy,
                                                                 prefect_api: str, tmp_path: Path):
    proxy.deny(s3_path(s3_prefix) + "/processed/")
    status, output = finish(start_run(s3_prefix, tmp_path, prefect_api, proxy.url))
    assert status == 1
    assert f"access denied to the processed folder {s3_prefix}/processed" in output
    assert len([seen for seen in proxy.requests if seen.status == 403]) <= 2  # no retries
    assert not Location(s3_prefix).sizes("cache")  # stopped before it used the cache


@pytest.mark.e2e
@pytest.mark.parametrize("missing", ["raw", "processed", "cache"])
def test_a_missing_bucket_fails_the_run_at_once_naming_the_location(missing: str, s3_prefix: str):
    locations = {name: f"{s3_prefix}/{name}" for name in ("raw", "processed", "cache")}
    locations[missing] = f"s3://newsflow-no-such-bucket/{missing}"
    with pytest.raises(FileNotFoundError, match=f"{missing} folder not found: {locations[missing]}"):
        news_pipeline(raw_dir=locations["raw"], processed_dir=locations["processed"], cache_dir=locations["cache"])
    assert not Location(s3_prefix).sizes("processed/_snapshots")


@pytest.mark.e2e
@pytest.mark.parametrize("held_write", ["_files/", "_snapshots/"])
def test_kill_9_while_publishing_leaves_the_previous_snapshot_and_the_rerun_equals_a_clean_run(
        held_write: str, s3_bucket: str, s3_prefix: str, proxy: FaultProxy, prefect_api: str, tmp_path: Path):
    processed = f"{s3_prefix}/processed"
    news_pipeline(raw_dir=f"{s3_prefix}/raw", processed_dir=processed, cache_dir=f"{s3_prefix}/cache")
    before = comparable(processed)
    Location(s3_prefix).write_bytes("raw/second.txt", SECOND_ARTICLE.encode())
    held = proxy.hold(s3_path(processed) + "/" + held_write, method="PUT")
    run = start_run(s3_prefix, tmp_path, prefect_api, proxy.url)
    try:
        assert held.arrived.wait(300), "the run never published"
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        finish(run)
    assert comparable(processed) == before  # readers still get the previous snapshot, whole

    news_pipeline(raw_dir=f"{s3_prefix}/raw", processed_dir=processed, cache_dir=f"{s3_prefix}/cache")
    clean = f"{s3_bucket}/clean-{uuid.uuid4().hex[:8]}"
    for name in (SEED.name, "second.txt"):
        Location(clean).write_bytes(f"raw/{name}", Location(s3_prefix).read_bytes(f"raw/{name}"))
    news_pipeline(raw_dir=f"{clean}/raw", processed_dir=f"{clean}/processed", cache_dir=f"{clean}/cache")
    assert comparable(processed) == comparable(f"{clean}/processed")


@pytest.mark.e2e
def test_two_runs_at_once_on_one_processed_location_never_both_publish(s3_prefix: str, prefect_api: str,
                                                                       tmp_path: Path):
    runs = [start_run(s3_prefix, tmp_path / name, prefect_api) for name in ("first", "second")]
    results = [finish(run) for run in runs]
    assert sorted(Location(f"{s3_prefix}/processed").sizes("_snapshots")) == ["_snapshots/000000000001.json"]
    assert 0 in [status for status, _ in results]
    for status, output in results:
        assert status == 0 or re.search(r"another newsflow run .* is writing|another run published", output), output


@pytest.mark.e2e
def test_the_secret_key_is_in_no_log_artifact_parameter_block_or_stored_file(s3_bucket: str):
    """Last in this file: what the runs above logged, made and stored."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter

    with get_client(sync_client=True) as client:
        found = [log.message for log in client.read_logs(LogFilter(), limit=200)]
        offset = len(found)
        while True:
            page = [log.message for log in client.read_logs(LogFilter(), limit=200, offset=offset)]
            if not page:
                break
            found += page
            offset += len(page)
        artifacts = [str(artifact.data) + str(artifact.description) for artifact in client.read_artifacts()]
        runs = [repr(run.parameters) + repr(run.state) for run in client.read_flow_runs()]
        blocks = [repr(block.data) for block in client.read_block_documents(include_secrets=True)]
    assert len(found) > 50 and artifacts and runs and blocks and OUTPUTS
    stored = Location(s3_bucket)
    files = stored.sizes("")
    assert any(path.endswith(".parquet") for path in files) and any("/prefect-results/" in path for path in files)
    for what, texts in [("log", found), ("artifact", artifacts), ("flow run", runs), ("block", blocks),
                        ("process output", OUTPUTS)]:
        assert not [text for text in texts if S3_TEST_SECRET in text], what
    assert not [path for path in files if S3_TEST_SECRET.encode() in stored.read_bytes(path)]
