"""Error rows: how every stage reports an input it rejects or a document it cannot process."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


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
    # Imported here: the NER worker processes import this module for ErrorRecord only, and
    # pyarrow would add a tenth of a second to their start.
    from tasks.schemas import ERRORS, records_table

    return records_table(records, ERRORS)


class InputError(Exception):
    """An input that cannot become a document; its `error_type` goes in the errors table."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type
