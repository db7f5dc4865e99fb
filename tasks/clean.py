"""Clean: repair Unicode and whitespace, drop caption credits, find title and date.

The clean text is what every character offset in the other tables refers to.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import ftfy
import pyarrow as pa
from prefect import get_run_logger, task

from tasks.dates import infer_published_date
from tasks.errors import ErrorRecord, errors_table, utc_now
from tasks.ingest import Batch
from tasks.schemas import DOCUMENTS
from tasks.settings import PIPELINE_VERSION, model_version
from tasks.storage import StageOutput, read_table, write_stage_output
from tasks.tasking import STAGE_TASK_OPTIONS

STAGE = "clean"

# Compatibility forms whose NFKC mapping keeps the meaning: full-width and half-width forms
# (common in Chinese sources: "１２３％"), no-break spaces, ligatures. Superscripts, fractions
# and circled numbers are left alone because NFKC would change their meaning ("m²" -> "m2").
SAFE_COMPATIBILITY_TAGS = ("<wide>", "<narrow>", "<noBreak>")
SAFE_COMPAT_CHARS = {chr(c) for c in range(0xFB00, 0xFB07)}  # ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ

# Photo and video credits such as "[Photo/Xinhua]", "[Photo by Zhang Wei/China Daily]",
# "(Photo: Reuters)", "[Video/CGTN]".
CAPTION_CREDIT = re.compile(
    r"\s*[\[(](?:Photo|Photos|Video|Image|Picture|File photo)\b[^\[\]()\n]{0,80}[\])]",
    re.IGNORECASE,
)
INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
HORIZONTAL_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
BLANK_LINES = re.compile(r"\n{3,}")
HTML_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+\d*);")
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class CleanDocument:
    """A documents-table row before entities and numbers run on its text."""

    doc_id: str
    source: str
    title: str | None
    published_date: date | None
    date_source: str
    text: str
    content_sha256: str
    n_words: int
    url: str | None
    publisher: str | None
    language: str | None
    encoding: str
    model: str
    pipeline_version: str
    processed_at: datetime


def _safe_nfkc(char: str) -> str:
    decomposition = unicodedata.decomposition(char)
    if char in SAFE_COMPAT_CHARS or decomposition.startswith(SAFE_COMPATIBILITY_TAGS):
        return unicodedata.normalize("NFKC", char)
    return char


def normalize_unicode(text: str) -> str:
    """Fix mojibake and HTML entities, straighten curly quotes, apply the safe part of NFKC."""
    if HTML_ENTITY.search(text):
        text = html.unescape(text)
    text = ftfy.fix_text(text, normalization="NFC")
    return "".join(_safe_nfkc(char) if ord(char) > 0x7F else char for char in text)


def clean_text(raw_text: str) -> str:
    """The clean text of an article: repaired Unicode, no caption credits, tidy whitespace."""
    text = normalize_unicode(raw_text.replace("\r\n", "\n").replace("\r", "\n"))
    text = INVISIBLE.sub("", text)
    text = CONTROL.sub(" ", text)
    text = CAPTION_CREDIT.sub("", text)
    lines = [HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def headline(text: str) -> str | None:
    """The first line when it reads as a headline: short, more lines follow, no final stop."""
    first, _, rest = text.partition("\n")
    if rest.strip() and 0 < len(first) <= MAX_TITLE_CHARS and not first.endswith((".", ":", ";", ",")):
        return first
    return None


def clean_document(row: dict, processed_at: datetime) -> CleanDocument:
    """Turn one ingested row into a clean document; raises ValueError if nothing is left."""
    text = clean_text(row["raw_text"])
    if not text:
        raise ValueError("no text left after cleaning")
    published_date, date_source = infer_published_date(text, row["published_date"])
    return CleanDocument(
        doc_id=row["doc_id"],
        source=row["source"],
        title=row["title"] or headline(text),
        published_date=published_date,
        date_source=date_source,
        text=text,
        content_sha256=row["content_sha256"],
        n_words=len(text.split()),
        url=row["url"],
        publisher=row["publisher"],
        language=row["language"],
        encoding=row["encoding"],
        model=model_version(),
        pipeline_version=PIPELINE_VERSION,
        processed_at=processed_at,
    )


def clean_batch(rows: list[dict]) -> tuple[list[CleanDocument], list[ErrorRecord]]:
    """Clean every ingested row; a document that fails becomes an error row."""
    processed_at = utc_now()
    documents, errors = [], []
    for row in rows:
        try:
            documents.append(clean_document(row, processed_at))
        except ValueError as error:
            errors.append(ErrorRecord(row["source"], STAGE, "empty_after_cleaning", str(error), row["doc_id"]))
    return documents, errors


def documents_table(documents: list[CleanDocument]) -> pa.Table:
    return pa.Table.from_pylist([vars(document) for document in documents], schema=DOCUMENTS)


@task(name="clean", task_run_name="clean {batch.label}", **STAGE_TASK_OPTIONS)
def clean_task(batch: Batch, work_dir: str, cache_version: str) -> StageOutput:
    """Clean one batch of ingested documents into rows of the `documents` table."""
    documents, errors = clean_batch(read_table(batch.path).to_pylist())
    get_run_logger().info("cleaned %d documents (%d errors)", len(documents), len(errors))
    return write_stage_output(documents_table(documents), errors_table(errors), Path(work_dir) / STAGE, batch.label)
