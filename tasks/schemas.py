"""Arrow schemas of every table newsflow writes: the column contract, in one place.

Each field carries a ``description`` in its metadata; `docs/schema.md` is generated from the same
definitions (``python -m tasks.schemas``) so the docs cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")


def _field(name: str, type_: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


def _schema(description: str, *fields: pa.Field) -> pa.Schema:
    return pa.schema(list(fields), metadata={"description": description})


DOCUMENTS = _schema(
    "One row per article that was read successfully.",
    _field("doc_id", pa.string(), "Stable id: first 16 hex digits of sha256(source).", False),
    _field("source", pa.string(), "Path relative to the raw dir; JSONL records add #id=<id> or #line=<n>.", False),
    _field("title", pa.string(), "From metadata (sidecar, JSONL record or HTML page), else the headline of a scraped page's header, else the first line when it looks like a headline."),
    _field("published_date", pa.date32(), "Publication date (drives the FX rate date)."),
    _field("date_source", pa.string(), "How published_date was found: metadata, dateline (the page's dateline, or one that opens the text), text or none.", False),
    _field("dateline_place", pa.string(), "Place of a wire opener in the text (\"BEIJING, Nov. 18 (Xinhua) --\" -> BEIJING)."),
    _field("text", pa.string(), "Clean text: the article without site chrome; every start_char/end_char refers to it. Empty for a page whose body was not saved (a video page), which keeps its title and date.", False),
    _field("raw_text", pa.string(), "The article as read, before cleaning: the decoded file or JSONL text, or for HTML pages the main text trafilatura extracted. Compare with text to see what was dropped.", False),
    _field("chars_removed", pa.int32(), "Characters of raw_text (after Unicode and whitespace repair) that are not in text: page header, page tail, menus, code, credits.", False),
    _field("content_sha256", pa.string(), "sha256 of raw_text.", False),
    _field("duplicate_of", pa.string(), "doc_id of the canonical copy (the one with the smallest source) when this article duplicates or nearly duplicates another; null otherwise. Nothing is dropped.", True),
    _field("n_words", pa.int32(), "Whitespace-separated words in text.", False),
    _field("url", pa.string(), "From metadata (for HTML pages, the page's canonical URL)."),
    _field("publisher", pa.string(), "The metadata's `source` field (the outlet; for HTML pages, the site name)."),
    _field("language", pa.string(), "From metadata."),
    _field("encoding", pa.string(), "Character encoding the raw bytes were decoded from (a Python codec name).", False),
    _field("encoding_doubtful", pa.bool_(), "True when encoding detection chose between readings of the bytes without confidence: another reading with different text came close, the text was too short to tell (under 4 CJK characters), or no reading looked like real text. Check such a document's text. Always false for a byte-order mark, valid UTF-8, JSONL, and an encoding declared by a sidecar or NEWSFLOW_FOLDER_ENCODINGS.", False),
    _field("model", pa.string(), "spaCy model name and version used for entities.", False),
    _field("pipeline_version", pa.string(), "newsflow pipeline version that produced the row.", False),
    _field("processed_at", UTC_TIMESTAMP, "When this document was cleaned (UTC): a document unchanged since an earlier run keeps that run's time.", False),
)

ENTITIES = _schema(
    "One row per named-entity mention.",
    _field("doc_id", pa.string(), "The document (documents.doc_id).", False),
    _field("text", pa.string(), "The mention as it appears in the clean text.", False),
    _field("label", pa.string(), "spaCy label: PERSON, ORG, GPE, LOC, NORP, ...", False),
    _field("start_char", pa.int32(), "Start offset in documents.text.", False),
    _field("end_char", pa.int32(), "End offset (exclusive) in documents.text.", False),
    _field("sentence", pa.int32(), "Index of the sentence holding the mention (0-based).", False),
    _field("canonical", pa.string(), "Canonical name of the entity within its document.", False),
    _field("label_source", pa.string(), "How the label was decided: model (spaCy's), document (the person's "
           "full name elsewhere in the document, or the name that a short form in brackets stands for) or rule "
           "(a personal title; a surname or short form the model missed).", False),
    _field("country_code", pa.string(), "ISO 3166-1 alpha-2 code of the country a GPE, LOC or NORP mention names, "
           "lies in or is the people of (null for other labels and for places in no single country)."),
)

DOCUMENT_ENTITIES = _schema(
    "One row per distinct entity (canonical name and label) per document: the entities table rolled up.",
    _field("doc_id", pa.string(), "The document (documents.doc_id).", False),
    _field("canonical", pa.string(), "Canonical name (entities.canonical).", False),
    _field("label", pa.string(), "spaCy label.", False),
    _field("mentions", pa.int32(), "Number of mentions of this entity in the document.", False),
    _field("first_start_char", pa.int32(), "Start offset of the first mention.", False),
    _field("country_code", pa.string(), "The country of a place (entities.country_code)."),
)

QUANTITIES = _schema(
    "One row per money amount, percentage, percentage-point change or count.",
    _field("doc_id", pa.string(), "The document (documents.doc_id).", False),
    _field("text", pa.string(), "The surface span in the clean text.", False),
    _field("start_char", pa.int32(), "Start offset in documents.text.", False),
    _field("end_char", pa.int32(), "End offset (exclusive) in documents.text.", False),
    _field("kind", pa.string(), "money, percent, percentage_points or count.", False),
    _field("value", pa.float64(), "The number with its scale applied (2.44 trillion -> 2.44e12).", False),
    _field("currency", pa.string(), "ISO 4217 code (money only)."),
    _field("fraction", pa.float64(), "value / 100 (percent only)."),
    _field("value_usd", pa.float64(), "value * fx_rate (money only; null when no rate applies)."),
    _field("fx_rate", pa.float64(), "US dollars per unit of currency."),
    _field("fx_rate_date", pa.date32(), "Date of the rate used (the ECB business day on or before the wanted date)."),
    _field("fx_rate_source", pa.string(), "ecb, ecb_default_date (document has no date), fixed_peg, euro_legacy_fixed (a euro legacy currency such as DEM or ESP after its euro adoption: the irrevocable conversion rate times the ECB's EUR/USD), identity (USD), or a reason there is no rate."),
    _field("approximate", pa.bool_(), "A qualifier such as about, around, nearly, some.", False),
    _field("bound", pa.string(), "lower (more than, at least, over), upper (up to, less than) or null."),
    _field("amount_id", pa.int32(), "Number of the amount within the document; rows that state one amount in several currencies (\"481.42m yuan ($58.16m; £30.7m)\") share it.", False),
    _field("stated_usd", pa.float64(), "The article's own USD figure for this amount (non-USD rows of a linked amount)."),
    _field("usd_mismatch", pa.bool_(), "value_usd and stated_usd differ by more than 2% (a typo or a different rate date)."),
    _field("sentence_start", pa.int32(), "Start offset of the sentence that holds the quantity (null when the entities stage failed on the document)."),
    _field("sentence_end", pa.int32(), "End offset (exclusive) of that sentence."),
    _field("subject", pa.string(), "The noun phrase the quantity measures, as written (\"China's total R&D spending\"); null when the sentence does not say, and for a count in a sentence with no money or percentage (those sentences are not parsed)."),
    _field("speaker", pa.string(), "Canonical name (entities.canonical) of the person or organisation the sentence or its quote attributes the quantity to (\"Hu Zucai ... said\", \"according to the IMF\"); null when nobody is named. A count in a sentence with no money or percentage gets one from its quote or \"according to\" only."),
)

QUOTATIONS = _schema(
    "One row per direct quote (the text between double quotes).",
    _field("doc_id", pa.string(), "The document (documents.doc_id).", False),
    _field("text", pa.string(), "The quoted words, without the quote marks.", False),
    _field("start_char", pa.int32(), "Start offset in documents.text (after the opening mark).", False),
    _field("end_char", pa.int32(), "End offset (exclusive): the closing mark, or the paragraph's end for a quote that runs on.", False),
    _field("speaker", pa.string(), "Canonical name (entities.canonical) of who said it, from the attribution around the quote (\"...,\" said Liu Hua); a quote with none that continues the previous quote takes its speaker. Null when nobody is named."),
    _field("verb", pa.string(), "The attribution's verb as written (said, told, added, according to, ...); null when there is none."),
    _field("partial", pa.bool_(), "True when the author's sentence runs into the quote (called it \"a big step\"), false for a quote that stands as its own sentence or clause.", False),
)

# The quantities' columns that the entities stage finds (tasks/attribution.py); the write stage
# joins them to the numbers stage's rows by (doc_id, start_char, end_char).
QUANTITY_KEY = ["doc_id", "start_char", "end_char"]
CONTEXT_COLUMNS = ["sentence_start", "sentence_end", "subject", "speaker"]
QUANTITY_CONTEXTS = _schema(
    "The context of each quantity, from the entities stage (not a published table).",
    *(QUANTITIES.field(name) for name in QUANTITY_KEY + CONTEXT_COLUMNS),
)
# The numbers stage's rows (not a published table): the quantities without their context.
FOUND_QUANTITIES = _schema(
    "Quantities as the numbers stage finds them (not a published table).",
    *(field for field in QUANTITIES if field.name not in CONTEXT_COLUMNS),
)

ERRORS = _schema(
    "One row per rejected input or per failure of a stage on one document.",
    _field("source", pa.string(), "Path relative to the raw dir (with #id= or #line= for JSONL).", False),
    _field("doc_id", pa.string(), "The document, when the error concerns one that was read."),
    _field("stage", pa.string(), "ingest, clean, entities or numbers.", False),
    _field("error_type", pa.string(), "A short machine-readable reason, e.g. empty_document.", False),
    _field("message", pa.string(), "What went wrong, for a person.", False),
    _field("recorded_at", UTC_TIMESTAMP, "When the error was recorded (UTC).", False),
)

INPUT_SHA256 = _field("input_sha256", pa.string(), "SHA-256 of the ingested row (metadata and raw text): "
                      "a document whose input is unchanged keeps its published rows (tasks/plan.py).")
# The clean stage's batch files (not a published table): the documents table plus each text's
# word hash and MinHash signature (tasks/duplicates.py), which the write stage uses, and the
# document's input hash, which the next run's ingest compares.
CLEAN_DOCUMENTS = DOCUMENTS.append(
    _field("words_sha256", pa.string(), "SHA-256 of the text's comparable words (exact duplicates); null for an empty text.")
).append(
    _field("text_minhash", pa.list_(pa.uint32()), "MinHash signature of the text's 5-word shingles; null for an empty text.")
).append(INPUT_SHA256)

# Internal hand-off from ingest to clean (not a published table).
INGESTED = _schema(
    "Decoded articles with their metadata, before cleaning.",
    _field("doc_id", pa.string(), "", False),
    _field("source", pa.string(), "", False),
    _field("title", pa.string(), ""),
    _field("published_date", pa.date32(), ""),
    _field("url", pa.string(), ""),
    _field("publisher", pa.string(), ""),
    _field("language", pa.string(), ""),
    _field("encoding", pa.string(), "", False),
    _field("encoding_doubtful", pa.bool_(), "", False),
    _field("raw_text", pa.string(), "", False),
    _field("content_sha256", pa.string(), "", False),
    INPUT_SHA256,
)

PUBLISHED_TABLES: dict[str, pa.Schema] = {
    "documents": DOCUMENTS,
    "entities": ENTITIES,
    "document_entities": DOCUMENT_ENTITIES,
    "quantities": QUANTITIES,
    "quotations": QUOTATIONS,
    "errors": ERRORS,
}
# The order of each table's rows within a file, and of read_tables' rows within a month.
SORT_KEYS = {
    "documents": [("source", "ascending")],
    "entities": [("doc_id", "ascending"), ("start_char", "ascending")],
    "document_entities": [("doc_id", "ascending"), ("first_start_char", "ascending"), ("label", "ascending")],
    "quantities": [("doc_id", "ascending"), ("start_char", "ascending")],
    "quotations": [("doc_id", "ascending"), ("start_char", "ascending")],
    "errors": [("source", "ascending"), ("stage", "ascending"), ("error_type", "ascending")],
}


def one_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as one array (an empty one for a column of no chunks, which older pyarrow
    versions cannot combine)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    return values


def records_table(records: Sequence[object], schema: pa.Schema) -> pa.Table:
    """Records (dataclass instances with an attribute per column) as a table of `schema`, built
    column by column: dataclasses.asdict deep-copies every value, over a second for the 90,000
    entity mentions of the BBC corpus."""
    return pa.Table.from_pydict({name: [getattr(record, name) for record in records] for name in schema.names},
                                schema=schema)


FOLDERS_AND_SNAPSHOTS = """## Folders, partitions and files

Each table is a folder of Parquet files (zstd, row groups of 65,536 rows), partitioned
Hive-style by the article's month: `data/processed/entities/published_month=2021-12/part-<hash>.parquet`.
Articles without a `published_date` are in `published_month=undated`, and so are the error rows
of inputs that were rejected (no article). The partition column `published_month` (`YYYY-MM` or
`undated`, a string) is in the folder names, not inside the files: readers that understand Hive
partitions add it. Other tables' rows are in their article's month, so a document whose date
changes moves partition with all its rows. An empty table is one empty file in
`published_month=undated`, so that readers still find its columns.

A run reads only the raw files that are new or changed since the latest snapshot, and writes
only in the partitions that hold their rows (or held them, for a changed or deleted file): it
adds a file of its new rows, and rewrites the files that held rows it replaces or removes; every
other file stays. A file is named by the hash of its content and holds all the rows of its
documents, sorted (documents by `source`, the others by `doc_id` and position). No file holds
more than `NEWSFLOW_MAX_ROWS_PER_FILE` rows (1,000,000; a larger set of rows is split into equal
files, none less than half full), and when a partition would have more than 8 files under a
quarter of that, they are merged into one: hourly runs of a few articles add a small file each,
and about every eighth run in a month merges them. A partition's files hold its rows in no particular order
between files: sort by the columns above, or read through `read_tables`, which does.

## Snapshots

Every run that changes a table publishes a *snapshot*: one manifest,
`data/processed/_snapshots/<id>.json` (ids count up from 1), that lists every file of the five
tables. The files of every kept snapshot are in `data/processed/_files/<table>/...` and never
change; the table folders hold a copy of the latest snapshot's files. Publishing writes the new
files, then creates the next manifest (which must not exist yet, so two runs cannot both
publish), then updates the table folders, then deletes snapshots beyond the newest
`NEWSFLOW_KEEP_SNAPSHOTS` (10) and the files no kept snapshot lists.

- Reading a table folder (`pd.read_parquet("data/processed/documents")`, DuckDB
  `read_parquet('data/processed/documents/**/*.parquet', hive_partitioning = true)`,
  `pl.read_parquet("data/processed/documents")`) gives the latest snapshot whenever no run is
  publishing. While one publishes, or after a run was killed while publishing (until the next
  run), a folder may hold some files of two snapshots.
- Reading through a manifest gives all six tables of one snapshot, never a mix, even while a
  run publishes. The helper does it (and retries if the snapshot expires while it reads):

  ```python
  from tasks.snapshots import read_tables, read_table

  tables = read_tables("data/processed")           # the latest snapshot: {table: pyarrow.Table}
  documents = tables["documents"].to_pandas()
  entities = read_table("data/processed", "entities", snapshot_id=3)   # a kept earlier one
  ```

  Or follow the newest manifest yourself. A manifest is complete when it parses as JSON (a
  run that is writing one, or was killed while writing it, leaves one that does not: take the
  next older):

  ```python
  import glob, json
  import duckdb, pandas as pd, polars as pl

  def latest(processed="data/processed"):
      for path in sorted(glob.glob(f"{processed}/_snapshots/*.json"), reverse=True):
          try:
              return json.load(open(path))
          except ValueError:
              continue

  snapshot = latest()
  files = [f"data/processed/{path}" for path in snapshot["files"]["quantities"]]
  quantities = pd.read_parquet(files)                              # pandas
  quantities = pl.read_parquet(files, hive_partitioning=True)      # Polars
  quantities = duckdb.read_parquet(files, hive_partitioning=True)  # DuckDB
  ```

  A manifest holds `format` (2), `id`, `created_at` (UTC), `note` (the flow run that published
  it, or `rollback to snapshot N`), `rows` and `files` (per table, paths relative to the
  processed folder), `n_inputs` and `n_rejected` (the articles the raw files held, and how many
  of them were rejected), and what the next run plans from: `state` (internal tables in
  `_files/_state/`: the raw files the snapshot was built from, and every document's duplicate
  fingerprint and keys, in buckets), `version` (of the code and settings), `listing_key` and
  `built_from`.
- `newsflow snapshots` lists the kept snapshots; `newsflow rollback ID` publishes snapshot ID's
  tables again as a new snapshot (the files are the same, so the tables are exactly the earlier
  ones). The next run publishes the tables of the raw folder's current articles again.

Why manifests and not Delta Lake or Iceberg: pandas, DuckDB and Polars read plain Parquet files
and a list of them without any extension, while DuckDB's `delta` and `iceberg` extensions are
downloaded at run time (impossible offline), Polars' Delta reader needs the `deltalake` package
and pyiceberg a catalog service or database. A manifest of immutable files is the same idea
(Delta's log entry, Iceberg's snapshot) with nothing to install, and its one create-if-absent
write is what object stores offer (a conditional PUT).

"""


def to_markdown() -> str:
    """The table contract as Markdown (the body of docs/schema.md)."""
    lines = [
        "# Table contract",
        "",
        "Generated from `tasks/schemas.py` by `python -m tasks.schemas > docs/schema.md`.",
        "The same descriptions are stored in each Arrow field's metadata under the key `description`.",
        "",
        FOLDERS_AND_SNAPSHOTS,
        "# The tables",
    ]
    for name, schema in PUBLISHED_TABLES.items():
        lines += ["", f"## `{name}`", "", schema.metadata[b"description"].decode(), ""]
        lines += ["| column | type | nullable | description |", "|---|---|---|---|"]
        for field in schema:
            description = field.metadata[b"description"].decode()
            lines.append(f"| `{field.name}` | {field.type} | {'yes' if field.nullable else 'no'} | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(to_markdown(), end="")
