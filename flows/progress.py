"""A long run's progress on the terminal and in the Prefect UI: documents done of the total
(tasks/progress.py counts them), the rate and the time left.

On a terminal, a progress line (tqdm) at the bottom, with the log lines printed above it; nothing
when standard error is not a terminal. For the UI, a log line every `log_interval` seconds,
through the flow run's logger.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from tasks.progress import DocumentProgress, track

LOG_INTERVAL_SECONDS = 15.0
REFRESH_SECONDS = 0.5
BAR_DELAY_SECONDS = 2.0


def describe(done: int, total: int, elapsed: float) -> str:
    """One progress line: documents done of the total, the rate and, once there is a rate, the
    time left at that rate."""
    line = f"entities: {done:,} of {total:,} documents ({done / total:.0%})" if total else "entities: no documents"
    if done and elapsed > 0 and done < total:
        rate = done / elapsed
        line += f", {rate:,.1f} documents/s, about {_duration((total - done) / rate)} left"
    return line


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


@contextmanager
def every(seconds: float, action: Callable[[], None]) -> Iterator[None]:
    """Call `action()` every `seconds`, in a thread, while the body runs."""
    stop = threading.Event()

    def repeat() -> None:
        while not stop.wait(seconds):
            action()

    thread = threading.Thread(target=repeat, name="newsflow-every", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def reporting_progress(progress: DocumentProgress, logger: logging.Logger | logging.LoggerAdapter,
                       log_interval: float = LOG_INTERVAL_SECONDS, terminal: bool | None = None
                       ) -> Iterator[DocumentProgress]:
    """While the body runs (given `progress`): count this process's NER work in it, log it every
    `log_interval` seconds, and show it on the terminal (`terminal`: default, whether standard
    error is one)."""
    if terminal is None:
        terminal = sys.stderr.isatty()
    # The bar shows only if the work lasts BAR_DELAY_SECONDS: a run of a few new articles stays quiet.
    bar = tqdm(total=progress.total, desc="entities", unit=" documents", file=sys.stderr, dynamic_ncols=True,
               smoothing=0.1, delay=BAR_DELAY_SECONDS) if terminal else None
    started = time.monotonic()
    next_log = started + log_interval

    def show() -> None:
        nonlocal next_log
        done = progress.done
        if bar is not None:
            bar.update(done - bar.n)
        if time.monotonic() >= next_log:
            logger.info(describe(done, progress.total, time.monotonic() - started))
            next_log += log_interval

    track(progress)
    # Console log lines go through tqdm while the bar is shown, so that they print above it.
    with logging_redirect_tqdm() if bar is not None else nullcontext():
        try:
            with every(REFRESH_SECONDS, show):
                yield progress
        finally:
            track(None)
            if bar is not None:
                bar.update(progress.done - bar.n)
                bar.close()
