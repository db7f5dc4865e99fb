"""The pipeline against its limit, on the BBC corpus: throughput, caching, parallelism, memory.

In one run, against one Prefect server started here (as in production; a cold start of Prefect's
temporary server would add 7-20 s to every run), each step in a subprocess whose process tree's
peak RSS is sampled and whose CPU time (user + system, the process and its children) is read:
1. bare `nlp.pipe` with the lean components and the same process count (n_process): the limit;
2. the flow, cold (empty cache);
3. the flow again, nothing changed (three times; the median run is reported);
3'. alternating with step 3, a Prefect flow that does nothing (bench/empty_flow.py, median of
   three): the floor that any flow run started as a new process pays, which the reruns are
   compared with;
4. the flow after adding one article (a new text: the last article with a sentence added; three
   times, one more article each time; the median run is reported);
5. the flow, cold, with one worker pinned to one core, for the parallel speed-up, and bare
   `nlp.pipe` in one process on one core, for the limit's own speed-up on this machine;
6. the flow, cold, on the first 300 articles, for memory against corpus size.
Steps 1 and 2 run twice, alternating (bare, cold, ..., bare, cold), and the ratios use the faster
of each pair: on a shared machine one slow minute otherwise decides the limit or the cold time.

    .venv/bin/python bench/pipeline_bench.py [--limit N] [--workers 2] [--json bench/results/pipeline.json]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.sorting import FlowRunSort
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_API_URL, temporary_settings

from figures import report
from tasks.settings import corpora_dir

REPO = Path(__file__).resolve().parent.parent
CORPUS = corpora_dir() / "bbc"
BARE_PIPE = """
import sys
from pathlib import Path
from tasks.clean import clean_text
from tasks.ner import NLP_BATCH_SIZE, load_nlp
texts = [clean_text(p.read_text(encoding="utf-8", errors="replace")) for p in sorted(Path(sys.argv[1]).glob("*.txt"))]
for _ in load_nlp().pipe(texts, batch_size=NLP_BATCH_SIZE, n_process=int(sys.argv[2])):
    pass
"""


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                ppid = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total


def measure(command: list[str], env: dict, cores: set[int] | None = None) -> dict:
    """Wall seconds, CPU seconds and peak RSS (MB, whole process tree) of a command, on the given
    cores (default: all); fails loudly on error."""
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    pin = (lambda: os.sched_setaffinity(0, cores)) if cores else None
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=pin)
    peak = 0
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout))
    reader.start()
    while process.poll() is None:
        peak = max(peak, tree_rss_bytes(process.pid))
        time.sleep(0.1)
    reader.join()
    seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{''.join(output)[-3000:]}")
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(peak / 2**20),
            "output": output}


def flow(raw: Path, state: Path, workers: int, env: dict, cores: set[int] | None = None) -> dict:
    command = [sys.executable, "-m", "flows", "run", "--raw-dir", str(raw),
               "--processed-dir", str(state / "processed"), "--cache-dir", str(state / "cache"),
               "--workers", str(workers)]
    result = measure(command, env, cores)
    summary = [line.strip() for line in result.pop("output") if line.startswith("task runs")]
    flow_run_seconds = last_flow_run_seconds(env["PREFECT_API_URL"])
    return result | {"flow_run_seconds": flow_run_seconds, "task_runs": summary[-1] if summary else None}


def last_flow_run_seconds(api_url: str) -> float:
    """Duration of the latest newsflow flow run as Prefect recorded it (start to end, as the UI
    shows it): the process's time without Python's start-up, imports and exit."""
    newsflow = FlowFilter(name=FlowFilterName(any_=["newsflow"]))  # not the empty flow's runs
    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        run = client.read_flow_runs(flow_filter=newsflow, sort=FlowRunSort.START_TIME_DESC, limit=1)[0]
    return round((run.end_time - run.start_time).total_seconds(), 2)


def median_run(runs: list[dict]) -> dict:
    """The run with the median wall time, with every run's wall time (and flow run time) beside
    it: a rerun takes a few seconds, and one slow second on this shared machine would otherwise
    decide it."""
    median = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
    each = {"seconds_of_each_run": [run["seconds"] for run in runs]}
    if "flow_run_seconds" in median:
        each["flow_run_seconds_of_each_run"] = [run["flow_run_seconds"] for run in runs]
    return median | each


def copy_corpus(paths: list[Path], raw: Path) -> int:
    raw.mkdir(parents=True)
    for path in paths:
        shutil.copy(path, raw / f"{path.parent.name}_{path.name}")
    return sum(len(path.read_text(encoding="utf-8", errors="replace").split()) for path in paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="use the first N BBC articles (default: all 2,225)")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    paths = sorted(CORPUS.glob("*/*.txt"))
    corpus, extra = paths[: args.limit], paths[-1]
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # its heartbeat races SQLite at start-up
    server = SubprocessASGIServer()
    server.start()
    env = os.environ | {"PREFECT_API_URL": server.api_url}
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-") as folder:
        work = Path(folder)
        words = copy_corpus(corpus, work / "raw")
        copy_corpus(corpus[:300], work / "raw300")
        bare = [sys.executable, "-c", BARE_PIPE, str(work / "raw"), str(args.workers)]
        steps = {
            "bare_nlp_pipe": measure(bare, env),
            "flow_cold": flow(work / "raw", work / "state", args.workers, env),
        }
        unchanged, empty = [], []
        for _ in range(3):
            unchanged.append(flow(work / "raw", work / "state", args.workers, env))
            empty.append(measure([sys.executable, str(REPO / "bench" / "empty_flow.py")], env))
            empty[-1].pop("output")
        steps["flow_unchanged"], steps["empty_prefect_flow"] = median_run(unchanged), median_run(empty)
        added = [work / "raw" / f"extra_article_{number}.txt" for number in range(3)]
        one_added = []
        for number, path in enumerate(added):
            # A new text, not a copy: NER parses an exact copy's text once (see docs/architecture.md).
            path.write_text(extra.read_text(encoding="utf-8", errors="replace")
                            + f"\nThis article was updated {number + 1} times on Friday.\n", encoding="utf-8")
            one_added.append(flow(work / "raw", work / "state", args.workers, env))
        steps["flow_one_added"] = median_run(one_added)
        for path in added:
            path.unlink()  # the second pair runs on the same articles as the first
        steps["bare_nlp_pipe_again"] = measure(bare, env)
        steps["flow_cold_again"] = flow(work / "raw", work / "state-again", args.workers, env)
        # One worker pinned to one core: unpinned, numpy's threads and the flow's own threads
        # spread a one-worker run over 1.4 cores.
        steps["flow_cold_one_core"] = flow(work / "raw", work / "state1", 1, env, cores={0})
        steps["bare_nlp_pipe_one_core"] = measure(bare[:-1] + ["1"], env, cores={0})
        steps["flow_cold_300_articles"] = flow(work / "raw300", work / "state300", args.workers, env)
    for name in ("bare_nlp_pipe", "bare_nlp_pipe_again", "bare_nlp_pipe_one_core"):
        steps[name].pop("output")
    bare_seconds = min(steps["bare_nlp_pipe"]["seconds"], steps["bare_nlp_pipe_again"]["seconds"])
    cold_step = min(steps["flow_cold"], steps["flow_cold_again"], key=lambda step: step["seconds"])
    cold = cold_step["seconds"]
    figures = {
        "articles": len(corpus), "words": words, "workers": args.workers, "cores": os.cpu_count(),
        "steps": steps,
        "words_per_second": {name: round(words / step["seconds"]) for name, step in steps.items()
                             if name.startswith(("bare_nlp_pipe", "flow_cold")) and "300" not in name},
        "bare_seconds_best_of_two": bare_seconds,
        "cold_seconds_best_of_two": cold,
        "cold_flow_vs_bare": round(bare_seconds / cold, 3),
        # CPU seconds (both processes' trees) are less sensitive than wall time to other load
        "cold_flow_vs_bare_cpu": round(
            min(steps[name]["cpu_seconds"] for name in ("bare_nlp_pipe", "bare_nlp_pipe_again"))
            / min(steps[name]["cpu_seconds"] for name in ("flow_cold", "flow_cold_again")), 3),
        "unchanged_rerun_share_of_cold": round(steps["flow_unchanged"]["seconds"] / cold, 3),
        "one_added_share_of_cold": round(steps["flow_one_added"]["seconds"] / cold, 3),
        # The same two reruns less what an empty Prefect flow costs as a process: newsflow's own share.
        "empty_prefect_flow_share_of_cold": round(steps["empty_prefect_flow"]["seconds"] / cold, 3),
        "unchanged_rerun_beyond_empty_flow_share_of_cold": round(
            (steps["flow_unchanged"]["seconds"] - steps["empty_prefect_flow"]["seconds"]) / cold, 3),
        "one_added_beyond_empty_flow_share_of_cold": round(
            (steps["flow_one_added"]["seconds"] - steps["empty_prefect_flow"]["seconds"]) / cold, 3),
        "unchanged_rerun_share_of_cold_flow_run": round(steps["flow_unchanged"]["flow_run_seconds"]
                                                         / cold_step["flow_run_seconds"], 3),
        "one_added_share_of_cold_flow_run": round(steps["flow_one_added"]["flow_run_seconds"]
                                                   / cold_step["flow_run_seconds"], 3),
        "speedup_vs_one_core": round(steps["flow_cold_one_core"]["seconds"] / cold, 2),
        "bare_speedup_vs_one_core": round(steps["bare_nlp_pipe_one_core"]["seconds"] / bare_seconds, 2),
        "peak_rss_ratio_full_vs_300": round(steps["flow_cold"]["peak_rss_mb"]
                                            / steps["flow_cold_300_articles"]["peak_rss_mb"], 2),
    }
    report(figures, args.json)


if __name__ == "__main__":
    main()
