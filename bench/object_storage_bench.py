"""What does object storage cost a run? The BBC articles with everything on local disk, with
the cache on a local S3 server, and with raw articles, tables and cache all on it: cold, an
unchanged rerun and one article added, each a `newsflow run` in a subprocess.

The S3 server is moto's server mode on loopback (no network latency: the figures are the cost
of the requests themselves, a floor for a real bucket). Against one Prefect server started
here; each step's flow run duration as Prefect recorded it, and the process's wall time. The
unchanged step runs three times (the median is reported).

    .venv/bin/python bench/object_storage_bench.py [--limit N] [--json bench/results/object_storage.json]
    (make bench-object-storage)
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from prefect.server.api.server import SubprocessASGIServer

from figures import report
from pipeline_bench import CORPUS, last_flow_run_seconds, measure, median_run
from tasks.storage import Location

BUCKET = "newsflow-bench"
ADDED = "This article was updated on Friday.\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_s3_server() -> tuple[subprocess.Popen, str]:
    """moto's S3 server on a free loopback port with an empty bucket; the process and its URL."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", endpoint.rsplit(":", 1)[1]],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        try:
            httpx.get(endpoint, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench-secret", AWS_DEFAULT_REGION="us-east-1",
                      AWS_ENDPOINT_URL=endpoint)
    import boto3

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return server, endpoint


def run(locations: dict[str, str], env: dict) -> dict:
    """One `newsflow run` on these locations: its flow run's and its process's seconds."""
    command = [sys.executable, "-m", "flows", "run", "--raw-dir", locations["raw"],
               "--processed-dir", locations["processed"], "--cache-dir", locations["cache"]]
    result = measure(command, env)
    summary = [line.strip() for line in result.pop("output") if line.startswith("task runs")]
    return result | {"flow_run_seconds": last_flow_run_seconds(env["PREFECT_API_URL"]),
                     "task_runs": summary[-1] if summary else None}


def steps(locations: dict[str, str], articles: list[Path], extra: Path, env: dict) -> dict:
    """Cold, unchanged (three times), one added, on these locations (the raw one empty)."""
    raw = Location(locations["raw"])
    for path in articles:
        raw.write_bytes(f"{path.parent.name}_{path.name}", path.read_bytes(), durable=False)
    figures = {"cold": run(locations, env)}
    figures["unchanged"] = median_run([run(locations, env) for _ in range(3)])
    raw.write_bytes("added_article.txt", extra.read_bytes() + b"\n" + ADDED.encode())
    figures["one_added"] = run(locations, env)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="use the first N BBC articles (default: all but one, 2,224)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    paths = sorted(CORPUS.glob("*/*.txt"))
    articles, extra = paths[:-1][: args.limit], paths[-1]
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # its heartbeat races SQLite at start-up
    s3_server, _ = start_s3_server()
    prefect = SubprocessASGIServer()
    prefect.start()
    env = os.environ | {"PREFECT_API_URL": prefect.api_url}
    figures: dict = {"articles": len(articles), "cores": os.cpu_count(), "command": "make bench-object-storage",
                     "s3_server": "moto server mode on loopback"}
    try:
        with tempfile.TemporaryDirectory(prefix="newsflow-object-storage-") as folder:
            setups = {
                "local": {name: f"{folder}/local/{name}" for name in ("raw", "processed", "cache")},
                "cache_on_s3": {"raw": f"{folder}/cache_on_s3/raw", "processed": f"{folder}/cache_on_s3/processed",
                                "cache": f"s3://{BUCKET}/cache_on_s3/cache"},
                "all_on_s3": {name: f"s3://{BUCKET}/all_on_s3/{name}" for name in ("raw", "processed", "cache")},
            }
            for setup, locations in setups.items():
                figures[setup] = steps(locations, articles, extra, env)
    finally:
        s3_server.terminate()
    figures["vs_local"] = {
        setup: {step: round(figures[setup][step]["flow_run_seconds"] / figures["local"][step]["flow_run_seconds"], 2)
                for step in ("cold", "unchanged", "one_added")}
        for setup in ("cache_on_s3", "all_on_s3")
    }
    report(figures, args.json)


if __name__ == "__main__":
    main()
