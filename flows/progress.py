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
from collections.abc import Iterator
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
    stop = threading.Event()
    started = time.monotonic()

    def watch() -> None:
        shown, next_log = 0, started + log_interval
        while not stop.wait(REFRESH_SECONDS):
            done = progress.done
            if bar is not None:
                bar.update(done - shown)
                shown = done
            if time.monotonic() >= next_log:
                logger.info(describe(done, progress.total, time.monotonic() - started))
                next_log += log_interval
        if bar is not None:
            bar.update(progress.done - shown)

    track(progress)
    watcher = threading.Thread(target=watch, name="newsflow-progress", daemon=True)
    watcher.start()
    # Console log lines go through tqdm while the bar is shown, so that they print above it.
    with logging_redirect_tqdm() if bar is not None else nullcontext():
        try:
            yield progress
        finally:
            track(None)
            stop.set()
            watcher.join()
            if bar is not None:
                bar.close()
