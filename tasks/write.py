"""Write: merge the batches' Arrow files into the published tables, and publish them as a snapshot.

The tables are rebuilt from the batches of this run, so a deleted source file's rows disappear
and a changed file's rows are replaced; tasks/snapshots.py publishes them, partitioned by month,
with a manifest that records which parts they were built from, so the flow can tell whether the
published tables are the ones a cached write produced.

Duplicates are flagged here, where every batch is merged (tasks/duplicates.py; the clean stage
computed each text's word hash and MinHash): `documents.duplicate_of` names the canonical copy (the one with
the smallest `source`) of an article saved twice or published by two sites. Nothing is dropped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from prefect import get_run_logger, task
from prefect.runtime import flow_run

from tasks.duplicates import find_duplicates
from tasks.schemas import CLEAN_DOCUMENTS, DOCUMENT_ENTITIES, DOCUMENTS, PUBLISHED_TABLES
from tasks.snapshots import latest_snapshot, publish, table_folders_match
from tasks.storage import Location, StageOutput, read_arrow
from tasks.tasking import STAGE_TASK_OPTIONS

REJECTING_STAGES = ["ingest", "clean"]  # stages whose errors drop the input
KEEP_NULLS = pc.ScalarAggregateOptions(skip_nulls=False)  # "first" means the first row's value
SORT_KEYS = {
    "documents": [("source", "ascending")],
    "entities": [("doc_id", "ascending"), ("start_char", "ascending")],
    "document_entities": [("doc_id", "ascending"), ("first_start_char", "ascending"), ("label", "ascending")],
    "quantities": [("doc_id", "ascending"), ("start_char", "ascending")],
    "errors": [("source", "ascending"), ("stage", "ascending"), ("error_type", "ascending")],
}


@dataclass(frozen=True)
class PublishedTables:
    """What the write task returns: where the tables are, what they were built from, their sizes."""

    processed_dir: str
    parts_key: str
    snapshot_id: int
    rows: dict[str, int]
    n_inputs: int
    n_rejected: int
    summary: str  # markdown: totals, money by currency, top entities, errors (the run's artifact)

    def is_intact(self) -> bool:
        """True while the latest snapshot holds the tables this write produced and the table
        folders hold its files (a rollback, a killed publish or a deleted file make it False)."""
        location = Location(self.processed_dir)
        latest = latest_snapshot(location)
        return latest is not None and latest.built_from == self.parts_key and table_folders_match(location, latest)


@dataclass(frozen=True)
class TableParts:
    """The files that make up each published table in this run."""

    documents: list[StageOutput]
    entities: list[StageOutput]
    quantities: list[StageOutput]
    ingest_errors_path: str
    n_inputs: int

    def files(self) -> dict[str, list[str]]:
        stage_outputs = self.documents + self.entities + self.quantities
        return {
            "documents": [output.path for output in self.documents],
            "entities": [output.path for output in self.entities],
            "quantities": [output.path for output in self.quantities],
            "errors": [self.ingest_errors_path] + [output.errors_path for output in stage_outputs],
        }

    def key(self) -> str:
        """A hash of every part's content: equal keys mean equal tables."""
        hashes = [output.content_sha256 for output in self.documents + self.entities + self.quantities]
        return hashlib.sha256(json.dumps(hashes + [self.ingest_errors_path, self.n_inputs]).encode()).hexdigest()


def merge_table(name: str, files: list[str]) -> pa.Table:
    """One table from its parts, in the published schema (documents: the clean stage's, with
    `words_sha256` and `text_minhash`) and a stable row order."""
    schema = CLEAN_DOCUMENTS if name == "documents" else PUBLISHED_TABLES[name]
    parts = [read_arrow(path).cast(schema) for path in files]
    table = pa.concat_tables(parts) if parts else schema.empty_table()
    return table.sort_by(SORT_KEYS[name])


def roll_up_entities(entities: pa.Table) -> pa.Table:
    """document_entities: one row per (doc_id, canonical, label) with its mention count."""
    grouped = entities.group_by(["doc_id", "canonical", "label"], use_threads=False).aggregate(
        [("start_char", "count"), ("start_char", "min")]
    )
    table = grouped.rename_columns(["doc_id", "canonical", "label", "mentions", "first_start_char"])
    return table.select(DOCUMENT_ENTITIES.names).cast(DOCUMENT_ENTITIES).sort_by(SORT_KEYS["document_entities"])


def flag_duplicates(documents: pa.Table) -> pa.Table:
    """The documents table (sorted by source) with `duplicate_of` filled in, from the clean
    stage's `words_sha256` and `text_minhash` columns when they are there; the published columns only."""
    documents = documents.sort_by(SORT_KEYS["documents"])
    stored = {"words_sha256", "text_minhash"} <= set(documents.column_names)
    duplicate_of = find_duplicates(
        documents["doc_id"].to_pylist(), documents["text"].to_pylist(),
        minhashes=documents["text_minhash"].to_pylist() if stored else None,
        digests=documents["words_sha256"].to_pylist() if stored else None,
    )
    column = documents.schema.get_field_index("duplicate_of")
    flagged = documents.set_column(column, documents.schema.field(column), pa.array(duplicate_of, pa.string()))
    return flagged.select(DOCUMENTS.names)


def summary_markdown(tables: dict[str, pa.Table], n_inputs: int, n_rejected: int, top: int = 10) -> str:
    """Totals, money by currency in USD, the most mentioned entities and the error reasons."""
    quantities, entities, errors = tables["quantities"], tables["document_entities"], tables["errors"]
    n_documents = tables["documents"].num_rows
    lines = [
        "# newsflow run",
        "",
        f"**{n_documents} documents**, {n_rejected} rejected inputs ({n_inputs} inputs in all), "
        f"{entities.num_rows} distinct entities per document, {quantities.num_rows} quantities, "
        f"{errors.num_rows} error rows.",
        "",
        "## Money by currency",
        "",
        "Each amount once, in the currency the article states first (linked conversions are skipped).",
        "",
        "| currency | amounts | total in USD |",
        "|---|---|---|",
    ]
    money = quantities.filter(pc.equal(quantities["kind"], "money"))
    first_statements = money.group_by(["doc_id", "amount_id"], use_threads=False).aggregate(
        [("currency", "first", KEEP_NULLS), ("value_usd", "first", KEEP_NULLS)]
    ).rename_columns(["doc_id", "amount_id", "currency", "value_usd"])
    by_currency = first_statements.group_by("currency").aggregate([
        ("value_usd", "count", pc.CountOptions(mode="all")),
        ("value_usd", "sum", pc.ScalarAggregateOptions(min_count=0)),
    ])
    for row in sorted(by_currency.to_pylist(), key=lambda row: (-row["value_usd_sum"], str(row["currency"]))):
        lines.append(f"| {row['currency']} | {row['value_usd_count']} | {row['value_usd_sum']:,.0f} |")
    lines += ["", "## Top entities", "", "| entity | label | mentions |", "|---|---|---|"]
    totals = entities.group_by(["canonical", "label"]).aggregate([("mentions", "sum")])
    for row in sorted(totals.to_pylist(), key=lambda r: -r["mentions_sum"])[:top]:
        lines.append(f"| {row['canonical']} | {row['label']} | {row['mentions_sum']} |")
    lines += ["", "## Errors", ""]
    reasons = errors.group_by(["stage", "error_type"]).aggregate([("error_type", "count")]).to_pylist()
    lines += [f"- {r['stage']} / {r['error_type']}: {r['error_type_count']}" for r in reasons] or ["none"]
    return "\n".join(lines) + "\n"


class AccountingError(ValueError):
    """The tables would lose or duplicate an input: nothing is published."""


def check_accounting(documents: pa.Table, errors: pa.Table, n_inputs: int) -> int:
    """Every input is one document or one rejection, and no document appears twice.

    Returns the number of rejected inputs. Metadata errors (the article is kept) and errors of
    the entities and numbers stages (the document is kept) are not rejections.
    """
    if pc.count_distinct(documents["doc_id"]).as_py() != documents.num_rows:
        raise AccountingError("duplicate doc_id in documents: refusing to publish")
    is_rejection = pc.and_(pc.is_in(errors["stage"], pa.array(REJECTING_STAGES)),
                           pc.not_equal(errors["error_type"], "invalid_metadata"))
    n_rejected = pc.sum(is_rejection.cast(pa.int64())).as_py() or 0
    if documents.num_rows + n_rejected != n_inputs:
        raise AccountingError(
            f"{n_inputs} inputs but {documents.num_rows} documents + {n_rejected} rejections: refusing to publish"
        )
    return n_rejected


def publish_tables(parts: TableParts, processed_dir: str, keep_snapshots: int, max_rows_per_file: int,
                   note: str = "") -> PublishedTables:
    """Build every table from its parts, check the accounting, and publish them as a snapshot."""
    tables = {name: merge_table(name, files) for name, files in parts.files().items()}
    n_rejected = check_accounting(tables["documents"], tables["errors"], parts.n_inputs)
    tables["documents"] = flag_duplicates(tables["documents"])
    tables["document_entities"] = roll_up_entities(tables["entities"])
    tables = {name: tables[name] for name in PUBLISHED_TABLES}
    parts_key = parts.key()
    snapshot = publish(Location(processed_dir), tables, parts_key, note, keep_snapshots, max_rows_per_file)
    summary = summary_markdown(tables, parts.n_inputs, n_rejected)
    return PublishedTables(processed_dir, parts_key, snapshot.id, snapshot.rows, parts.n_inputs, n_rejected, summary)


@task(name="write", task_run_name="write tables to {processed_dir}", **STAGE_TASK_OPTIONS)
def write_task(parts: TableParts, processed_dir: str, keep_snapshots: int, max_rows_per_file: int,
               cache_version: str) -> PublishedTables:
    """Publish the tables (the flow reruns it when the published tables are not the cached ones)."""
    published = publish_tables(parts, processed_dir, keep_snapshots, max_rows_per_file, f"flow run {flow_run.name}")
    rows = ", ".join(f"{count} {name}" for name, count in published.rows.items())
    get_run_logger().info("published snapshot %d of %s: %s", published.snapshot_id, processed_dir, rows)
    return published
