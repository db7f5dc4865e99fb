"""Error rows: how every stage reports an input it rejects or a document it cannot process."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyarrow as pa

from tasks.schemas import ERRORS, records_table


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ErrorRecord:
    """One row of the `errors` table."""

    source: str
    stage: str
    error_type: str
    message: str
    doc_id: str | None = None
    recorded_at: datetime = field(default_factory=utc_now)


def errors_table(records: list[ErrorRecord]) -> pa.Table:
    """The records as an Arrow table with the `errors` schema."""
    return records_table(records, ERRORS)
