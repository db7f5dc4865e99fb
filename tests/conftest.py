"""Shared test set-up: one Prefect test harness per session, isolated from the user's ~/.prefect.

The environment is set before Prefect is imported, so nothing here touches the user's Prefect
home, result storage or the repo's data/cache.

The suite runs in worker processes (pytest-xdist, `-n auto` in pyproject.toml): each worker is a
session of its own, with its own Prefect home, harness and server, and runs whole files or
classes (see SAME_WORKER below). The tests of one file run in the pytest process itself.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_prefect_home = Path(tempfile.mkdtemp(prefix="newsflow-prefect-home-"))
os.environ["PREFECT_HOME"] = str(_prefect_home)
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(_prefect_home / "storage")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["NEWSFLOW_RETRY_BACKOFF_SECONDS"] = "0.01"

import httpx  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
S3_TEST_SECRET = "newsflow-test-secret-9f3a7c"  # the test S3 server's secret key: must never show anywhere
SEED = REPO / "seeds" / "000_8a74b926aa5c5ac4.txt"


@pytest.fixture(scope="session")
def prefect_harness() -> str:
    """A temporary Prefect API for the whole session (it takes 10-20 s to start); its URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def load_bench_script(name: str):
    """A script of bench/ as a module (`name` without .py), imported as when it runs: beside
    the modules of its folder."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    if str(REPO / "bench") not in sys.path:
        sys.path.append(str(REPO / "bench"))
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def heavy_imports(module: str, heavy: tuple[str, ...] = ("prefect", "pyarrow")) -> list[str]:
    """Which of the `heavy` modules importing `module` pulls in, in a fresh interpreter."""
    code = f"import sys, {module}; print(*[name for name in {heavy!r} if name in sys.modules])"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.split()


def wait_until(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


def process_running(pid: int) -> bool:
    """The process exists and is not a zombie (a container's init may never reap one)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def descendants(root: int) -> list[int]:
    """Every process below `root`: its children, their children, and so on."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [root]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """A real `prefect server start` on a free loopback port, with its own database: the
    operations and UI tests', and the API of tests/test_news_pipeline.py's TestCommandLine."""
    home = tmp_path_factory.mktemp("server-home")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    # The scheduler looks for due runs every 2 s instead of 60 s, so a schedule shows within seconds.
    env = os.environ | {"PREFECT_HOME": str(home), "PREFECT_API_URL": api_url, "PREFECT_UI_API_URL": api_url,
                        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2"}
    if os.environ.get("NEWSFLOW_TEST_POSTGRES_URL"):  # set by .ci/run, which starts PostgreSQL
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = os.environ["NEWSFLOW_TEST_POSTGRES_URL"]
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _healthy(api_url), 90, "the Prefect server")
        yield api_url, env
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def s3_bucket() -> str:
    """A real S3 server on a free loopback port (moto's server mode, which enforces conditional
    writes) with an empty bucket; returns its s3:// URL. Every client (s3fs, and the processes
    the tests start) finds the server and the test credentials through the standard AWS
    variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...), which stay set for the session."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    settings = {"AWS_ACCESS_KEY_ID": "newsflow-test", "AWS_SECRET_ACCESS_KEY": S3_TEST_SECRET,
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}
    before = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        wait_until(lambda: _answers(endpoint), 30, "the S3 server")
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="newsflow-test")
        yield "s3://newsflow-test"
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.terminate()
        server.wait(timeout=15)


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return True


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_prefect_home, ignore_errors=True)


# Parallel runs (pytest-xdist, --dist loadscope): a file's test functions run in one worker, in
# their order, and so do a class's tests. Tests that use a session fixture that takes long to
# start share a worker (SAME_WORKER): `prefect_harness` (10-30 s), and `prefect_server`, of which
# only one may run (two `prefect server start` on CI's one PostgreSQL database would migrate it and
# schedule its deployments at once). tests/test_news_pipeline.py's TestCommandLine, half of that
# file's time, runs beside the operations tests and uses their server. The longest files go out
# first, so that no worker is left with one near the end while the other idles.
SAME_WORKER = {"tests/test_scraped_pages_flow.py": "tests/test_news_pipeline.py",
               "tests/test_news_pipeline.py::TestCommandLine": "tests/test_operations.py",
               "tests/test_ui.py": "tests/test_operations.py"}
LONGEST_FIRST = ["tests/test_news_pipeline.py", "tests/test_operations.py", "tests/test_ui.py",
                 "tests/test_command_line.py"]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto`: no worker process for the tests of one file (they would run in one worker
    anyway), else one per available core, at most 4; PYTEST_XDIST_AUTO_NUM_WORKERS overrides it."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    paths = {Path(argument.split("::", 1)[0]).resolve() for argument in config.args}
    if len(paths) == 1 and next(iter(paths)).is_file():
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, 4)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)  # the file, or the file::class
            return SAME_WORKER.get(scope, scope)

    config.option.loadscopereorder = False  # the collection's order (pytest_collection_modifyitems)
    return Scheduling(config, log)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file and among the other files is kept
