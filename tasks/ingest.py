"""Ingest: read the articles under the raw folder, decode them, attach metadata, batch them.

Inputs (found by tasks/listing.py: recursively, symlinks not followed, hidden files ignored):
- ``*.txt`` / ``*.md``: one article per file, with an optional ``NAME.meta.json`` sidecar.
- ``*.html`` / ``*.htm``: one saved web page per file; trafilatura extracts the main text and the
  page's title, date, canonical URL and site name from the markup alone (it fetches nothing).
  A sidecar works as for text files, and its fields win over the page's.
- ``*.jsonl``: one article per line (``text`` required; ``id``, ``title``, ``published``, ``url``,
  ``source`` optional).
Every other file becomes an error row. Every article becomes a document or an error row.

Text and HTML files are decoded (tasks/encodings.py) by their byte-order mark, else as UTF-8 when
they are valid UTF-8, else in the encoding their folder declares (NEWSFLOW_FOLDER_ENCODINGS),
else in the encoding detection finds; a sidecar's ``encoding`` field overrides all of these.
Detection records in `encoding_doubtful` a choice it could not make with confidence. JSONL
files are UTF-8 (or UTF-16/32, which json recognises), as JSON Lines requires.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from operator import attrgetter
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
from prefect import get_run_logger, task

from tasks.encodings import DeclaredEncoding, decode_bytes, decode_declared, folder_encoding
from tasks.errors import ErrorRecord, InputError, errors_table
from tasks.listing import STAGE, SourceFile, SourceListing, ingest_errors_path
from tasks.plan import published_inputs, sources_table
from tasks.schemas import INGESTED, records_table
from tasks.settings import ARROW_SUFFIX, text_codec
from tasks.stage_files import read_arrow, url_exists, write_arrow
from tasks.storage import Location
from tasks.tasking import STAGE_TASK_OPTIONS

TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
ARTICLE_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES  # files a sidecar can belong to
JSONL_SUFFIX = ".jsonl"
SIDECAR_SUFFIX = ".meta.json"
METADATA_KEYS = ("title", "published", "url", "source", "language")
# The page's date comes from its markup (meta tags, <time>, URL) only: htmldate's extensive search
# would guess from dates in the text, which the clean stage does with its own documented rules.
HTML_DATE_EXTRACTION = {"extensive_search": False, "original_date": True}


@dataclass(frozen=True)
class RawDocument:
    """One decoded article with its metadata (a row of the internal `INGESTED` table)."""

    doc_id: str
    source: str
    raw_text: str  # the decoded text; for an HTML page, the main text trafilatura extracted
    content_sha256: str
    encoding: str
    encoding_doubtful: bool = False  # detection chose between readings without confidence
    title: str | None = None
    published_date: date | None = None
    url: str | None = None
    publisher: str | None = None
    language: str | None = None
    input_sha256: str = ""  # set by with_input_sha256 once the document is complete


def with_input_sha256(document: RawDocument) -> RawDocument:
    """The document with `input_sha256`: a hash of every field (content_sha256 standing for the
    text), which decides whether a published document of the same doc_id is unchanged."""
    fields = asdict(document)
    del fields["raw_text"], fields["input_sha256"]
    digest = hashlib.sha256(json.dumps(fields, default=str, sort_keys=True).encode()).hexdigest()
    return replace(document, input_sha256=digest)


@dataclass(frozen=True)
class Batch:
    """A group of documents that later stages process (and cache) together."""

    key: str
    path: str
    n_docs: int
    label: str


@dataclass(frozen=True)
class IngestOutput:
    """What the ingest task returns (small: the batch files hold the documents)."""

    batches: list[Batch]  # the documents to compute; new batches first (see write_batches)
    errors_path: str
    sources_path: str  # the files read, with the inputs each holds (tasks/plan.py's SOURCES)
    unchanged_path: str  # doc_ids of the documents read whose published rows stay (tasks/plan.py)
    n_documents: int  # in the batches
    n_errors: int
    n_inputs: int
    n_new_batches: int  # batches no earlier run has seen: they will need cleaning and NER

    def files(self) -> list[str]:
        """Every file this output names."""
        return [batch.path for batch in self.batches] + [self.errors_path, self.sources_path, self.unchanged_path]

    def is_intact(self) -> bool:
        """True when every file this output names still exists."""
        return all(url_exists(url) for url in self.files())


def doc_id_for(source: str) -> str:
    """The stable id of the article at `source`."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def parse_published(value: object) -> date:
    """An ISO date or datetime (string) as a date; raises ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"published must be an ISO date string, got {type(value).__name__}")
    text = value.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def _optional_str(metadata: dict, key: str) -> str | None:
    value = metadata.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string, got {type(value).__name__}")
    return value.strip() or None


def metadata_fields(metadata: dict) -> dict:
    """RawDocument fields from a metadata mapping; raises ValueError naming the bad field."""
    published = metadata.get("published")
    return {
        "title": _optional_str(metadata, "title"),
        "published_date": parse_published(published) if published not in (None, "") else None,
        "url": _optional_str(metadata, "url"),
        "publisher": _optional_str(metadata, "source"),
        "language": _optional_str(metadata, "language"),
    }


def _make_document(source: str, text: str, encoding: str, metadata: dict, encoding_doubtful: bool = False
                   ) -> RawDocument:
    if not text.strip():
        raise InputError("empty_document", "the article has no text (empty or whitespace only)")
    return RawDocument(
        doc_id=doc_id_for(source),
        source=source,
        raw_text=text,
        content_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        encoding=encoding,
        encoding_doubtful=encoding_doubtful,
        **metadata,
    )


def _read_limited(raw: Location, relpath: str, max_bytes: int) -> bytes:
    data = raw.read_bytes(relpath, limit=max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError("file_too_large", f"larger than the limit of {max_bytes} bytes")
    return data


def _read_sidecar(raw: Location, relpath: str, errors: list[ErrorRecord]) -> tuple[dict, DeclaredEncoding | None]:
    """Metadata fields from the sidecar, and the article's encoding when the sidecar declares one
    (`encoding`: a Python codec name); a bad sidecar (an unknown encoding too) is an error row,
    no metadata and no encoding."""
    try:
        metadata = json.loads(raw.read_bytes(relpath))
        if not isinstance(metadata, dict):
            raise ValueError("the sidecar must hold a JSON object")
        encoding = metadata.get("encoding")
        if encoding is not None and not isinstance(encoding, str):
            raise ValueError(f"'encoding' must be a string, got {type(encoding).__name__}")
        declared = None if encoding is None else DeclaredEncoding(text_codec(encoding), f"its sidecar {relpath}")
        return metadata_fields(metadata), declared
    except (ValueError, UnicodeDecodeError) as error:
        errors.append(ErrorRecord(relpath, STAGE, "invalid_metadata", f"sidecar ignored: {error}"))
        return {}, None


def extract_html_article(markup: str) -> tuple[str, dict]:
    """The main text of an HTML page and its metadata fields (title, published date, URL, site
    name as publisher), by trafilatura from `markup` alone. Raises InputError when no text is found."""
    import trafilatura  # imported when a page needs it: it takes a second to import

    extracted = trafilatura.bare_extraction(
        markup, with_metadata=True, include_comments=False, date_extraction_params=HTML_DATE_EXTRACTION
    )
    if extracted is None or not (extracted.text or "").strip():
        raise InputError("empty_document", "no article text found in the HTML page")
    try:
        published = parse_published(extracted.date) if extracted.date else None
    except ValueError:
        published = None  # a malformed date in the markup is no date, not a rejected page
    return extracted.text, {
        "title": extracted.title or None,
        "published_date": published,
        "url": extracted.url or None,
        "publisher": extracted.sitename or None,
    }


def read_file_article(raw: Location, relpath: str, max_bytes: int, errors: list[ErrorRecord], sidecars: set[str],
                      folder_encodings: Iterable[tuple[str, str]] = ()) -> RawDocument:
    """The article in a text or HTML file, with its sidecar's metadata when there is one (in
    `sidecars`, the sidecars listed beside the files read), decoded in the encoding its sidecar
    declares, else as decode_bytes finds (`folder_encodings`: the folder defaults of
    NEWSFLOW_FOLDER_ENCODINGS)."""
    data = _read_limited(raw, relpath, max_bytes)
    sidecar = relpath.rsplit(".", 1)[0] + SIDECAR_SUFFIX
    sidecar_metadata: dict = {}
    declared = None
    if sidecar in sidecars:
        sidecar_metadata, declared = _read_sidecar(raw, sidecar, errors)
    if declared is None:
        decoded = decode_bytes(data, folder_encoding(relpath, folder_encodings))
    else:
        decoded = decode_declared(data, declared)
    text, metadata = decoded.text, {}
    if relpath.lower().endswith(HTML_SUFFIXES):
        text, metadata = extract_html_article(text)
    metadata |= {key: value for key, value in sidecar_metadata.items() if value is not None}
    return _make_document(relpath, text, decoded.encoding, metadata, decoded.doubtful)


def read_jsonl_articles(raw: Location, relpath: str, max_bytes: int, errors: list[ErrorRecord]) -> list[RawDocument]:
    """One document per non-empty line; a bad line is an error row and the other lines are kept."""
    documents: list[RawDocument] = []
    seen_ids: set[str] = set()
    with raw.open(relpath) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            line_source = f"{relpath}#line={number}"
            try:
                if len(line) > max_bytes:
                    raise InputError("record_too_large", f"line larger than the limit of {max_bytes} bytes")
                try:
                    record = json.loads(line)
                except ValueError as error:
                    raise InputError("invalid_json", f"not valid JSON: {error}") from error
                if not isinstance(record, dict):
                    raise InputError("invalid_record", "a JSONL line must hold a JSON object")
                text = record.get("text")
                if not isinstance(text, str):
                    raise InputError("missing_text", "the record has no string field 'text'")
                record_id = record.get("id")
                source = line_source if record_id is None else f"{relpath}#id={record_id}"
                if source in seen_ids:
                    raise InputError("duplicate_id", f"id {record_id!r} already used earlier in the file")
                try:
                    metadata = metadata_fields(record)
                except ValueError as error:
                    errors.append(ErrorRecord(source, STAGE, "invalid_metadata", f"metadata ignored: {error}"))
                    metadata = {}
                documents.append(_make_document(source, text, "utf-8", metadata))
                seen_ids.add(source)
            except InputError as error:
                errors.append(ErrorRecord(line_source, STAGE, error.error_type, str(error)))
    return documents


def read_source(raw: Location, source: SourceFile, max_bytes: int, errors: list[ErrorRecord], listed: Listed,
                folder_encodings: Iterable[tuple[str, str]] = ()) -> list[RawDocument]:
    """The documents in one source file (`listed`: the files read with it); problems become
    error rows, never exceptions.

    OSError is the exception: it is transient (retried by the task) unless the file is gone or
    unreadable, which is reported as an error row.
    """
    name = source.relpath.lower()
    try:
        if source.is_link:
            raise InputError("symlink_ignored", "symbolic links are not followed")
        if name.endswith(SIDECAR_SUFFIX):
            if has_article_beside(source.relpath, listed.files):
                return []
            raise InputError("orphan_metadata", "a .meta.json sidecar with no .txt, .md or .html article beside it")
        if name.endswith(ARTICLE_SUFFIXES):
            return [read_file_article(raw, source.relpath, max_bytes, errors, listed.sidecars, folder_encodings)]
        if name.endswith(JSONL_SUFFIX):
            return read_jsonl_articles(raw, source.relpath, max_bytes, errors)
        raise InputError("unsupported_file_type", "not .txt, .md, .html, .htm or .jsonl")
    except (FileNotFoundError, PermissionError, IsADirectoryError) as error:
        errors.append(ErrorRecord(source.relpath, STAGE, "unreadable", f"{type(error).__name__}: {error.strerror}"))
    except InputError as error:
        errors.append(ErrorRecord(source.relpath, STAGE, error.error_type, str(error)))
    return []


@dataclass(frozen=True)
class Listed:
    """The paths of the files read together (an article and its sidecar are always read
    together: tasks/plan.py), and of the sidecars among them that are not symbolic links."""

    files: frozenset[str]
    sidecars: frozenset[str]

    @classmethod
    def of(cls, sources: Iterable[SourceFile]) -> Listed:
        sources = list(sources)
        return cls(frozenset(source.relpath for source in sources),
                   frozenset(source.relpath for source in sources
                             if not source.is_link and source.relpath.endswith(SIDECAR_SUFFIX)))


def has_article_beside(sidecar: str, files: frozenset[str]) -> bool:
    """True when `NAME.meta.json` has its article (`NAME.txt`, `.md`, `.html`, `.htm`) among `files`."""
    article = sidecar[: -len(SIDECAR_SUFFIX)]
    return any(article + suffix in files for suffix in ARTICLE_SUFFIXES)


def count_inputs_by_file(raw_dir: str | Path, sources: Iterable[SourceFile]) -> dict[str, int]:
    """How many inputs of each file must end up as a document or a rejection: one for every file
    except a sidecar that sits beside an article (none), and one for every non-empty line of a
    JSONL file (counted on its own, independently of the reading code, for the accounting check)."""
    raw, sources = Location(raw_dir), list(sources)
    listed = Listed.of(sources)
    counts = {}
    for source in sources:
        name = source.relpath.lower()
        if name.endswith(SIDECAR_SUFFIX):
            counts[source.relpath] = int(not has_article_beside(source.relpath, listed.files))
        elif name.endswith(JSONL_SUFFIX) and not source.is_link:
            try:
                with raw.open(source.relpath) as lines:
                    counts[source.relpath] = sum(1 for line in lines if line.strip())
            except (FileNotFoundError, IsADirectoryError):  # gone since it was listed: one "unreadable" error
                counts[source.relpath] = 1
        else:
            counts[source.relpath] = 1
    return counts


def count_inputs(raw_dir: str | Path, sources: Iterable[SourceFile]) -> int:
    """How many inputs the files hold in all (count_inputs_by_file)."""
    return sum(count_inputs_by_file(raw_dir, sources).values())


Item = TypeVar("Item")


def content_defined_groups(items: Sequence[Item], hex_key: Callable[[Item], str], target_size: int) -> list[list[Item]]:
    """Split items into groups that stay stable when items are added or changed.

    Items are ordered by `hex_key` (a hex hash, such as a doc_id; items with equal keys keep their
    input order and always share a group), and a group ends after a key that is 0 modulo
    target_size / 2, once the group holds at least target_size / 2 items (at most 2 x target_size,
    unless one key has more items). Adding, removing or changing one item changes the group it
    falls in and rarely the next one, while fixed-size slicing would shift every later group. The
    minimum keeps group sizes even, so parallel workers stay busy.
    """
    smallest = divisor = max(1, target_size // 2)
    keys = [hex_key(item) for item in items]
    order = sorted(range(len(items)), key=keys.__getitem__)
    groups: list[list[Item]] = []
    current: list[Item] = []
    for key, positions in itertools.groupby(order, key=keys.__getitem__):
        current.extend(items[position] for position in positions)
        boundary = len(current) >= smallest and int(key, 16) % divisor == 0
        if boundary or len(current) >= 2 * target_size:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def duplicate_group_keys(ids: Sequence[str], texts: Sequence[str]) -> list[str]:
    """Each item's key for content_defined_groups: its id, or for a text that several items share,
    the smallest of their ids, so that exact duplicates fall in one batch (where NER parses their
    text once: news corpora repeat syndicated articles, and BBC's has 98 copies)."""
    smallest: dict[str, str] = {}
    for id_, text in zip(ids, texts):
        if text not in smallest or id_ < smallest[text]:
            smallest[text] = id_
    return [smallest[text] for text in texts]


def group_into_batches(documents: list[RawDocument], target_size: int) -> list[list[RawDocument]]:
    """Split documents into batches of about `target_size` that stay stable when documents are
    added or changed (content_defined_groups on doc_id), with exact copies of a text together."""
    documents = sorted(documents, key=attrgetter("doc_id"))
    keys = dict(zip((d.doc_id for d in documents),
                    duplicate_group_keys([d.doc_id for d in documents], [d.raw_text for d in documents])))
    return content_defined_groups(documents, lambda document: keys[document.doc_id], target_size)


def ingest_sources(raw_dir: str | Path, sources: Iterable[SourceFile], max_bytes: int,
                   folder_encodings: Iterable[tuple[str, str]] = ()) -> tuple[list[RawDocument], list[ErrorRecord]]:
    """Read every source (files of the raw folder, a path or URL): the documents found, and an
    error row for every rejected input."""
    raw, sources = Location(raw_dir), list(sources)
    listed = Listed.of(sources)
    documents: list[RawDocument] = []
    errors: list[ErrorRecord] = []
    for source in sources:
        documents.extend(read_source(raw, source, max_bytes, errors, listed, folder_encodings))
    return [with_input_sha256(document) for document in documents], errors


def split_unchanged(documents: list[RawDocument], published: dict[str, str]) -> tuple[list[RawDocument], list[str]]:
    """The documents to compute, and the doc_ids of those whose input_sha256 equals the
    published document's (`published`: doc_id -> input_sha256), whose published rows stay."""
    changed, unchanged = [], []
    for document in documents:
        if published.get(document.doc_id) == document.input_sha256:
            unchanged.append(document.doc_id)
        else:
            changed.append(document)
    return changed, sorted(unchanged)


UNCHANGED = pa.schema([pa.field("doc_id", pa.string(), nullable=False)])


def write_unchanged(doc_ids: list[str], work: Location) -> str:
    """The unchanged documents' ids in a file named by its content (two runs with the same files
    but another base snapshot can have different ones: a cached result must not see the
    other's); its URL."""
    path = f"{STAGE}/{hashlib.sha256(' '.join(doc_ids).encode()).hexdigest()}.unchanged{ARROW_SUFFIX}"
    if not work.exists(path):
        write_arrow(pa.table([pa.array(doc_ids, pa.string())], schema=UNCHANGED), work, path, durable=True)
    return work.url_of(path)


def read_unchanged(path: str) -> pa.Array:
    """The doc_ids that write_unchanged wrote (none for "": a run before this existed)."""
    return read_arrow(path)["doc_id"].combine_chunks() if path else pa.array([], pa.string())


def write_batches(documents: list[RawDocument], target_size: int, work: Location) -> tuple[list[Batch], int]:
    """Write each batch once to a file named by its content key, and describe the batches, the
    new ones first: the flow submits batches in this order, and only new batches have work to do.
    Also returns how many batch files were new."""
    new: list[Batch] = []
    seen: list[Batch] = []
    for group in group_into_batches(documents, target_size):
        key = hashlib.sha256("".join(document.input_sha256 for document in group).encode()).hexdigest()
        path = f"{STAGE}/{key}{ARROW_SUFFIX}"
        label = f"{group[0].doc_id[:6]}..{group[-1].doc_id[:6]} ({len(group)} docs)"
        batch = Batch(key=key, path=work.url_of(path), n_docs=len(group), label=label)
        if work.exists(path):
            seen.append(batch)
        else:
            write_arrow(records_table(group, INGESTED), work, path, durable=True)
            new.append(batch)
    return new + seen, len(new)


@task(name="ingest", task_run_name="ingest {raw_dir}", **STAGE_TASK_OPTIONS)
def ingest_task(
    raw_dir: str, sources: SourceListing, work_dir: str, target_batch_size: int, max_bytes: int, cache_version: str,
    folder_encodings: tuple[tuple[str, str], ...] = (), processed_dir: str = "", base_snapshot: int | None = None,
) -> IngestOutput:
    """Read these raw files (the new and changed ones: tasks/plan.py) into content-addressed batch
    files of the documents that are not unchanged in snapshot `base_snapshot` of `processed_dir`
    (cached on the files' sizes and change tags, the base, and `folder_encodings`,
    Settings.folder_encodings: a task input so that changing it re-reads)."""
    work = Location(work_dir)
    documents, errors = ingest_sources(raw_dir, sources, max_bytes, folder_encodings)
    published = published_inputs(processed_dir, base_snapshot, (source.relpath for source in sources))
    documents, unchanged = split_unchanged(documents, published)
    unchanged_path = write_unchanged(unchanged, work)
    batches, n_new_batches = write_batches(documents, target_batch_size, work)
    errors_relative = ingest_errors_path(sources, cache_version)
    errors_path = write_arrow(errors_table(errors), work, errors_relative, durable=True)
    n_inputs = count_inputs_by_file(raw_dir, sources)
    sources_path = write_arrow(sources_table(sources, n_inputs, {}), work,
                               errors_relative.replace(".errors", ".sources"), durable=True)
    get_run_logger().info(
        "read %d files: %d documents to compute in %d batches (%d new), %d unchanged; %d rejected inputs or metadata",
        len(sources), len(documents), len(batches), n_new_batches, len(unchanged), len(errors),
    )
    return IngestOutput(batches=batches, errors_path=errors_path, sources_path=sources_path,
                        unchanged_path=unchanged_path,
                        n_documents=len(documents), n_errors=len(errors), n_inputs=sum(n_inputs.values()),
                        n_new_batches=n_new_batches)
