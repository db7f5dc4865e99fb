"""The pool of NER worker processes that the entities stage sends its jobs to, and the
workers' own start-up and exit.

Imports neither Prefect nor pyarrow: the command line starts a worker from here before it
imports them (flows/__main__.py), and the flow's entities tasks use the same pool later in that
process; the workers import this module and tasks/ner.py.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, wait

from tasks.ner import load_nlp
from tasks.places import place_index


def exit_with_parent(parent: int) -> None:
    """Make this worker process exit once `parent`, the process that started it, is gone.

    Pool workers (these NER workers, and those of Prefect's process pool) wait for jobs on a
    queue whose write end they hold themselves, so a worker whose parent died without shutting
    the pool down (SIGKILL, or Prefect re-raising SIGTERM after it marks the run Crashed or
    Cancelled) would wait forever, with the model in memory. A daemon thread checks once a
    second that `parent` is still the parent (given, not read here: it may be gone already).
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def start_worker(parent: int) -> None:
    """Initializer of a NER worker process started by `parent`: exit with it, load the pipeline
    and the index of place names (tasks/places.py), while the flow reads and cleans the batches."""
    exit_with_parent(parent)
    load_nlp()
    place_index()


def model_loaded() -> bool:
    """A call that returns once the worker's initializer (start_worker) has run."""
    return True


_pools: dict[int, ProcessPoolExecutor] = {}
_pools_lock = threading.Lock()
_warming_up: dict[int, list[Future]] = {}  # per pool: the model loads start_ner_workers asked for


def ner_pool(processes: int) -> ProcessPoolExecutor:
    """Worker processes that each load the lean pipeline once, kept for the life of the process.

    Started lazily (a fully cached run never pays for them) with the spawn method, which is
    safe in a process that runs threads, as Prefect's flow process does.
    """
    with _pools_lock:
        if processes not in _pools:
            _pools[processes] = ProcessPoolExecutor(
                max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
                initializer=start_worker, initargs=(os.getpid(),),
            )
        return _pools[processes]


def pool_running(processes: int) -> bool:
    """True when this process has started the pool of `processes` workers."""
    return processes in _pools


def start_ner_workers(processes: int, count: int) -> None:
    """Have `count` of the NER pool's processes started (up to `processes`; those started by an
    earlier call count), without waiting, so that they load the model on the other cores while
    the batches are read and cleaned (the pool starts the others when it has work for them).
    Does nothing when NER runs in the calling process."""
    if processes > 1:
        pool = ner_pool(processes)
        started = _warming_up.setdefault(processes, [])
        # Each submission to a pool with no idle process starts one: one per worker wanted.
        started += [pool.submit(model_loaded) for _ in range(min(count, processes) - len(started))]


def release_ner_workers() -> None:
    """Shut this process's NER pools down when this process was started by multiprocessing, as
    Prefect's runner starts the flow runs of `newsflow serve` and of a process worker. Such a
    process joins its child processes before the interpreter's exit hooks run, and those hooks
    are what shuts a pool down: its idle workers, waiting for jobs, would keep the process from
    ever exiting. The shutdown waits for the workers to exit (0.2-0.5 s): without waiting, the
    process's exit closes the pool's queue before the workers are told to stop. Elsewhere the
    pools stay up for the process's next flow run and are shut down at exit."""
    if multiprocessing.parent_process() is None:
        return
    with _pools_lock:
        for pool in _pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        _pools.clear()
        _warming_up.clear()


def wait_for_started_workers(processes: int) -> None:
    """Return once the workers that start_ner_workers started have loaded the model."""
    wait(_warming_up.get(processes, []))
