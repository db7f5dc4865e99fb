"""How many documents of a run the entities stage has done, batch by batch.

Entity extraction (spaCy NER) is most of a long run's time, so its documents measure the run's
progress. Where NER runs in the flow's process (the default threads runner), the entities stage
reports each NER job's documents as they come back; the flow reports each batch whole when
its entities task ends, which also covers task runners whose tasks run in other processes (in
whole batches there). Imports nothing heavy: the entities stage calls it per NER job.
"""

from __future__ import annotations

import threading


class DocumentProgress:
    """Documents done of `total`: per batch, what NER reported so far or, once the batch's
    task ended, all of its documents (so a batch is never counted twice)."""

    def __init__(self, total: int):
        self.total = total
        self._done: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, batch: str, documents: int) -> None:
        """NER finished `documents` more documents of `batch`."""
        with self._lock:
            self._done[batch] = self._done.get(batch, 0) + documents

    def finish(self, batch: str, documents: int) -> None:
        """The entities task of `batch`, which holds `documents` documents, ended."""
        with self._lock:
            self._done[batch] = documents

    @property
    def done(self) -> int:
        with self._lock:
            return min(self.total, sum(self._done.values()))


_tracking: DocumentProgress | None = None


def track(progress: DocumentProgress | None) -> None:
    """Count this process's NER work in `progress` from now on (None: stop counting)."""
    global _tracking
    _tracking = progress


def documents_done(batch: str, documents: int) -> None:
    """Called by the entities stage as NER returns `documents` documents of `batch`."""
    if _tracking is not None:
        _tracking.add(batch, documents)
