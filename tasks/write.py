"""Write: publish what this run computed as the next snapshot, rewriting only the months it changes.

The run's stage outputs hold the rows of the new and changed documents only (tasks/plan.py).
The write stage takes the latest snapshot (the base), drops the rows of the changed and deleted
files' documents (but those ingest found unchanged) from the months that hold them, adds the new
rows in their months, and publishes the result (tasks/snapshots.py); the other months keep their
files. When the plan is a rebuild (no snapshot of this version), nothing of the base is kept.

Memory: the new rows are first written to a temporary Arrow file per table and month, one stage
output (a batch) at a time; then each changed month is built (its kept rows and its new rows),
written and let go before the next. So publishing holds one batch or one month of one table,
plus one small row per document (fingerprints, 0.7 kB each) and the run's error rows, never a
whole table or the corpus's texts.

Duplicates are flagged here (tasks/duplicates.py): `documents.duplicate_of` names the canonical
copy (the one with the smallest `source`) of an article saved twice or published by two sites.
Each snapshot keeps every document's fingerprint (`words_sha256`, `text_minhash`) and
`duplicate_of` in an internal table, so a run decides anew only the documents linked to what
changed, and reads only their texts. Nothing is dropped.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
from prefect import get_run_logger, task
from prefect.runtime import flow_run

from tasks.duplicates import find_duplicates, matrix_partners, minhash_matrix
from tasks.fingerprints import (
    StoredFingerprints, document_fingerprints, linked_documents, source_files, updated_buckets, with_duplicates,
)
from tasks.ingest import read_unchanged
from tasks.plan import SOURCES
from tasks.schemas import (
    CLEAN_DOCUMENTS, CONTEXT_COLUMNS, DOCUMENT_ENTITIES, DOCUMENTS, ENTITIES, PUBLISHED_TABLES, QUANTITIES, QUANTITY_KEY,
    QUOTATIONS, SORT_KEYS, one_array,
)
from tasks.snapshots import (
    MONTH, UNDATED, MonthFiles, Publication, Snapshot, SnapshotConflict, latest_snapshot, load_snapshot,
    months_of_rows, partition_month, partition_rows, publish_partitions, read_parquet, read_partition,
    read_state_table, split_rows, table_folders_match, write_state_table,
)
from tasks.stage_files import ARROW_FILE_OPTIONS, StageOutput, read_arrow
from tasks.storage import Location
from tasks.tasking import STAGE_TASK_OPTIONS

REJECTING_STAGES = ["ingest", "clean"]  # stages whose errors drop the input
# A month's files: a change adds a file of its rows and rewrites the files holding rows it
# replaces; when a month has more than MAX_SMALL_FILES files under max_rows_per_file /
# SMALL_FILE_SHARE rows, they are merged (compacted).
SMALL_FILE_SHARE = 4
MAX_SMALL_FILES = 8
# The documents' columns the write stage holds for every new document (not the texts).
PRINTED_COLUMNS = ["doc_id", "source", "published_date", "words_sha256", "text_minhash", "input_sha256"]
KEEP_NULLS = pc.ScalarAggregateOptions(skip_nulls=False)  # "first" means the first row's value


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
    """What this run computed (the new and changed raw files' rows) and what it replaces."""

    documents: list[StageOutput]
    entities: list[StageOutput]
    quantities: list[StageOutput]
    ingest_errors_path: str
    n_inputs: int  # of the files read (the unchanged documents' among them)
    sources_path: str = ""  # the files read (tasks/plan.py's SOURCES), from ingest
    removed: tuple[str, ...] = ()  # raw files whose published rows go (changed and deleted ones) ...
    unchanged_path: str = ""  # ... but those of these documents (ingest found their input unchanged)
    base_snapshot: int | None = None  # the snapshot the plan was made against; None: rebuild
    version: str = ""  # Settings.state_version
    listing_key: str = ""

    def files(self) -> dict[str, list[str]]:
        stage_outputs = self.documents + self.entities + self.quantities
        return {
            "documents": [output.path for output in self.documents],
            "entities": [output.path for output in self.entities],
            "quantities": [output.path for output in self.quantities],
            # each batch's quantity contexts, in the batches' order (one per quantities file)
            "quantity_contexts": [output.more["quantity_contexts"] for output in self.entities],
            "quotations": [output.more["quotations"] for output in self.entities],
            "errors": [self.ingest_errors_path] + [output.errors_path for output in stage_outputs],
        }

    def key(self) -> str:
        """A hash of every part's content: equal keys mean equal tables."""
        hashes = [output.content_sha256 for output in self.documents + self.entities + self.quantities]
        return hashlib.sha256(json.dumps(hashes + [self.ingest_errors_path, self.n_inputs, self.sources_path,
                                                   list(self.removed), self.unchanged_path, self.base_snapshot, self.version,
                                                   self.listing_key]).encode()).hexdigest()


def _read_outputs(paths: list[str], schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    """These stage output files as one table in `schema` (all its columns, or these)."""
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
    parts = [read_arrow(path, columns).cast(schema) for path in paths]
    return pa.concat_tables(parts) if parts else schema.empty_table()


def with_contexts(quantities: pa.Table, contexts: pa.Table) -> pa.Table:
    """The numbers stage's rows of a batch with each one's sentence, subject and speaker from
    the entities stage's (null where that stage failed on the document)."""
    joined = quantities.join(contexts.select(QUANTITY_KEY + CONTEXT_COLUMNS), QUANTITY_KEY, join_type="left outer",
                             use_threads=False)
    return joined.select(QUANTITIES.names).cast(QUANTITIES).sort_by(SORT_KEYS["quantities"])


def _new_rows(outputs: dict[str, list[str]], errors: pa.Table, duplicate_of: dict[str, str | None]
              ) -> dict[str, Iterator[pa.Table]]:
    """This run's rows of each published table, one stage output (a batch) at a time."""
    def documents(path: str) -> pa.Table:
        clean = with_duplicates(read_arrow(path).cast(CLEAN_DOCUMENTS), duplicate_of)
        return clean.select(DOCUMENTS.names).cast(DOCUMENTS)

    return {
        "documents": (documents(path) for path in outputs["documents"]),
        "entities": (read_arrow(path).cast(ENTITIES) for path in outputs["entities"]),
        # A batch's entities are all its documents' mentions: rolled up batch by batch.
        "document_entities": (roll_up_entities(read_arrow(path).cast(ENTITIES)) for path in outputs["entities"]),
        "quantities": (with_contexts(read_arrow(path), read_arrow(contexts))
                       for path, contexts in zip(outputs["quantities"], outputs["quantity_contexts"], strict=True)),
        "quotations": (read_arrow(path).cast(QUOTATIONS) for path in outputs["quotations"]),
        "errors": iter([errors]),
    }


def spill_by_month(tables: Iterable[pa.Table], doc_ids: pa.ChunkedArray, months: pa.ChunkedArray, folder: Path
                   ) -> dict[str, str]:
    """Write the rows of `tables` (read one at a time) to an Arrow file per month under
    `folder`, each row in the month of its document (`doc_ids` with their `months`; `undated`
    for a row about no document); return each month's file."""
    folder.mkdir(parents=True)
    sinks: dict[str, tuple[pa.NativeFile, ipc.RecordBatchFileWriter]] = {}
    try:
        for table in tables:
            for month, rows in split_rows(table, months_of_rows(table, doc_ids, months)).items():
                if month not in sinks:
                    sink = pa.OSFile(str(folder / f"{month}.arrow"), "wb")
                    sinks[month] = sink, ipc.new_file(sink, table.schema, options=ARROW_FILE_OPTIONS)
                sinks[month][1].write_table(rows)
    finally:
        for sink, writer in sinks.values():
            writer.close()
            sink.close()
    return {month: str(folder / f"{month}.arrow") for month in sinks}


def _run_totals(spilled: dict[str, dict[str, str]], documents: pa.Table, errors: pa.Table) -> dict[str, pa.Table]:
    """What summary_markdown needs of this run's rows, read back one month at a time: the
    money quantities, the mentions per entity, the errors and the documents."""
    money, mentions = [], []
    for path in spilled["quantities"].values():
        quantities = read_arrow(path, ["doc_id", "amount_id", "kind", "currency", "value_usd"])
        money.append(quantities.filter(pc.equal(quantities["kind"], "money")))
    for path in spilled["document_entities"].values():
        entities = read_arrow(path, ["canonical", "label", "mentions"])
        mentions.append(entities.group_by(["canonical", "label"], use_threads=False).aggregate([("mentions", "sum")])
                        .rename_columns(["canonical", "label", "mentions"]))
    empty_money = pa.schema([QUANTITIES.field(name) for name in ("doc_id", "amount_id", "kind", "currency",
                                                                  "value_usd")]).empty_table()
    empty_mentions = pa.schema([DOCUMENT_ENTITIES.field("canonical"), DOCUMENT_ENTITIES.field("label"),
                                pa.field("mentions", pa.int64())]).empty_table()
    return {"quantities": pa.concat_tables(money) if money else empty_money,
            "document_entities": pa.concat_tables(mentions) if mentions else empty_mentions,
            "errors": errors, "documents": documents}


def roll_up_entities(entities: pa.Table) -> pa.Table:
    """document_entities: one row per (doc_id, canonical, label) with its mention count."""
    # A document gives all mentions of one canonical name one country (tasks/places.py).
    grouped = entities.group_by(["doc_id", "canonical", "label", "country_code"], use_threads=False).aggregate(
        [("start_char", "count"), ("start_char", "min")]
    )
    table = grouped.rename_columns(["doc_id", "canonical", "label", "country_code", "mentions", "first_start_char"])
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


def summary_markdown(tables: dict[str, pa.Table], snapshot: Snapshot, n_inputs: int, n_rejected: int,
                     n_removed_files: int, top: int = 10) -> str:
    """The published totals, then what this run read (`tables`, of the new and changed files:
    at least the money quantities, mentions per entity and label, the errors, and one row per
    document): money by currency in USD, the most mentioned entities and the error reasons."""
    quantities, entities, errors = tables["quantities"], tables["document_entities"], tables["errors"]
    totals = snapshot.rows
    lines = [
        "# newsflow run",
        "",
        f"Snapshot {snapshot.id}: **{totals['documents']} documents**, {n_rejected} rejected inputs ({n_inputs} "
        f"inputs in all), {totals['document_entities']} distinct entities per document, {totals['quantities']} "
        f"quantities, {totals['errors']} error rows.",
        "",
        f"This run read {tables['documents'].num_rows} new or changed documents and replaced or removed the rows of "
        f"{n_removed_files} files; the rest of this summary is about what it read.",
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


def decide_duplicates(linked: pa.Table, new: pa.Table, texts_of: Callable[[list[str]], list[str]]
                      ) -> dict[str, str | None]:
    """duplicate_of of every new document, and of each linked one whose value changes, given the
    FINGERPRINTS rows of the new documents and of the published ones linked to them and to the
    removed ones (tasks/fingerprints.py's linked_documents). `texts_of` gives documents' texts:
    asked only for those with a near-duplicate candidate among these documents."""
    members = pa.concat_tables([linked, new]).sort_by([("source", "ascending")])
    doc_ids = members["doc_id"].to_pylist()
    partners = matrix_partners(*minhash_matrix(members["text_minhash"]))
    wanted = sorted(partners)
    fetched = dict(zip(wanted, texts_of([doc_ids[number] for number in wanted]))) if wanted else {}
    texts = [fetched.get(number, "") for number in range(len(doc_ids))]  # the others' are never read
    decided = find_duplicates(doc_ids, texts, digests=members["words_sha256"].to_pylist(), partners=partners)
    before = dict(zip(linked["doc_id"].to_pylist(), linked["duplicate_of"].to_pylist()))
    new_ids = set(new["doc_id"].to_pylist())
    return {doc_id: value for doc_id, value in zip(doc_ids, decided) if doc_id in new_ids or before.get(doc_id) != value}


def _rejections_by_file(errors: pa.Table) -> dict[str, int]:
    is_rejection = pc.and_(pc.is_in(errors["stage"], pa.array(REJECTING_STAGES)),
                           pc.not_equal(errors["error_type"], "invalid_metadata"))
    files = source_files(errors.filter(is_rejection)["source"])
    return {row["values"]: row["counts"] for row in pc.value_counts(files).to_pylist()} if len(files) else {}


def compacted(location: Location, name: str, month: MonthFiles, max_rows_per_file: int) -> MonthFiles:
    """The month with its small files merged into one (sorted) when it has more than
    MAX_SMALL_FILES of them (fewer than max_rows_per_file / SMALL_FILE_SHARE rows): runs that
    each add a few articles to a month add a small file each, and about every MAX_SMALL_FILES
    runs they are merged, so that files stay few and a run rewrites a small part of a month."""
    floor = max_rows_per_file // SMALL_FILE_SHARE
    small_kept = [path for path in month.kept if partition_rows(location, [path]) < floor]
    small_new = [table for table in month.new if table.num_rows < floor]
    if len(small_kept) + len(small_new) <= MAX_SMALL_FILES:
        return month
    merged = pa.concat_tables([read_parquet(location, path).cast(PUBLISHED_TABLES[name]) for path in small_kept]
                              + small_new).sort_by(SORT_KEYS[name])
    return MonthFiles([path for path in month.kept if path not in small_kept],
                      [table for table in month.new if table.num_rows >= floor] + [merged])


def _kept_rows(name: str, table: pa.Table, removed_ids: pa.Array, removed_files: pa.Array, unchanged: pa.Array
               ) -> pa.Table:
    """A base partition's rows that stay: not of a removed document; errors: not of a removed
    file, unless about an unchanged document (ingest's errors, about files, are read anew)."""
    if name == "errors":
        of_unchanged = pc.fill_null(pc.is_in(table["doc_id"], unchanged), False)
        return table.filter(pc.or_(pc.invert(pc.is_in(source_files(table["source"]), removed_files)), of_unchanged))
    return table.filter(pc.invert(pc.is_in(table["doc_id"], removed_ids)))


def publish_tables(parts: TableParts, processed_dir: str, keep_snapshots: int, max_rows_per_file: int,
                   note: str = "") -> PublishedTables:
    """Publish the base snapshot with this run's changes as the next snapshot (see the module's
    docstring), after checking that every input read is one document or one rejection."""
    location = Location(processed_dir)
    latest = latest_snapshot(location)
    base = None if parts.base_snapshot is None else load_snapshot(location, parts.base_snapshot)
    if latest is not None and parts.base_snapshot is not None and latest.id != parts.base_snapshot:
        raise SnapshotConflict(f"another run published snapshot {latest.id} of {processed_dir} since this run "
                               f"planned its work on snapshot {parts.base_snapshot}; run it again")
    outputs = parts.files()
    new_documents = _read_outputs(outputs["documents"], CLEAN_DOCUMENTS, PRINTED_COLUMNS)  # all but the texts
    new_errors = _read_outputs(outputs["errors"], PUBLISHED_TABLES["errors"])
    unchanged = read_unchanged(parts.unchanged_path)
    check_accounting(new_documents, new_errors, parts.n_inputs - len(unchanged))
    removed_files = pa.array(sorted(parts.removed), pa.string())
    stored = StoredFingerprints(location, base)
    new_prints = document_fingerprints(new_documents)
    # The published documents of the files read now and of the removed ones: those of the
    # removed files go (but the documents ingest found unchanged), and no new one may have
    # the doc_id of one that stays.
    touched_prints = stored.of_files(parts.removed + tuple(source_files(new_prints["source"]).to_pylist()))
    is_gone = pc.and_(pc.is_in(source_files(touched_prints["source"]), removed_files),
                      pc.invert(pc.is_in(touched_prints["doc_id"], unchanged)))
    gone_prints = touched_prints.filter(is_gone)
    if pc.any(pc.is_in(new_prints["doc_id"], touched_prints.filter(pc.invert(is_gone))["doc_id"])).as_py():
        raise AccountingError("a new document has the doc_id of a published one: refusing to publish")

    base_files = {} if base is None else base.files
    linked = linked_documents(pa.concat_tables([new_prints, gone_prints]), stored)
    months_of = dict(zip(linked["doc_id"].to_pylist(), linked[MONTH].to_pylist()))

    def texts_of(doc_ids: list[str]) -> list[str]:
        wanted = pa.array(doc_ids, pa.string())
        texts: dict[str, str] = {}
        for path in outputs["documents"]:  # the new documents' texts, one batch at a time
            batch = read_arrow(path, ["doc_id", "text"])
            batch = batch.filter(pc.is_in(batch["doc_id"], wanted))
            texts |= dict(zip(batch["doc_id"].to_pylist(), batch["text"].to_pylist()))
        for month in sorted({months_of[doc_id] for doc_id in doc_ids if doc_id not in texts}):
            paths = [path for path in base_files["documents"] if partition_month(path) == month]
            stored_texts = read_partition(location, "documents", paths).select(["doc_id", "text"])
            texts |= dict(zip(stored_texts["doc_id"].to_pylist(), stored_texts["text"].to_pylist()))
        return [texts[doc_id] for doc_id in doc_ids]

    duplicate_of = decide_duplicates(linked, new_prints, texts_of)
    changed_months = (set(gone_prints[MONTH].to_pylist()) | set(new_prints[MONTH].to_pylist())
                      | {months_of[doc_id] for doc_id in duplicate_of if doc_id in months_of}
                      | ({UNDATED} if parts.removed else set()))
    removed_ids = one_array(gone_prints["doc_id"])
    state = updated_buckets(stored, gone_prints, new_prints, linked, duplicate_of)
    n_documents = (base.rows["documents"] if base is not None else 0) - gone_prints.num_rows + new_prints.num_rows
    sources = read_state_table(location, base, "sources") if base is not None else None
    sources = SOURCES.empty_table() if sources is None else sources
    read_now = read_arrow(parts.sources_path) if parts.sources_path else SOURCES.empty_table()
    rejections = _rejections_by_file(new_errors)
    read_now = read_now.set_column(read_now.schema.get_field_index("n_rejected"), SOURCES.field("n_rejected"),
                                   pa.array([rejections.get(path, 0) for path in read_now["source_file"].to_pylist()],
                                            pa.int64()))
    sources = pa.concat_tables([
        sources.filter(pc.invert(pc.is_in(sources["source_file"], pa.concat_arrays(
            [removed_files, read_now["source_file"].combine_chunks()])))),
        read_now.cast(SOURCES),
    ]).sort_by([("source_file", "ascending")])
    n_inputs, n_rejected = pc.sum(sources["n_inputs"]).as_py() or 0, pc.sum(sources["n_rejected"]).as_py() or 0
    if n_documents + n_rejected != n_inputs:
        raise AccountingError(f"{n_inputs} inputs but {n_documents} documents + {n_rejected} rejections: "
                              "refusing to publish")

    with tempfile.TemporaryDirectory(prefix="newsflow-publish-") as folder:
        # This run's rows go to a file per table and month first (one batch in memory at a
        # time), so that publishing then holds one month of one table at a time.
        new_rows = _new_rows(outputs, new_errors, duplicate_of)
        spilled = {name: spill_by_month(tables, new_prints["doc_id"], new_prints[MONTH], Path(folder) / name)
                   for name, tables in new_rows.items()}

        redecided = pa.array(sorted(doc_id for doc_id in duplicate_of if doc_id in months_of), pa.string())

        def month_of(name: str, month: str) -> MonthFiles:
            """The month's base files that hold none of the rows that change stay as they are;
            the others are rewritten without those rows, and the new rows go to a new file."""
            kept, new = [], []
            for path in (path for path in base_files.get(name, []) if partition_month(path) == month):
                keys = read_parquet(location, path, ["doc_id", "source"] if name == "errors" else ["doc_id"])
                if (_kept_rows(name, keys, removed_ids, removed_files, unchanged).num_rows == keys.num_rows
                        and not (name == "documents" and pc.any(pc.is_in(keys["doc_id"], redecided)).as_py())):
                    kept.append(path)
                    continue
                rows = _kept_rows(name, read_parquet(location, path), removed_ids, removed_files, unchanged)
                if name == "documents":
                    rows = with_duplicates(rows, duplicate_of)
                if rows.num_rows:
                    new.append(rows.cast(PUBLISHED_TABLES[name]))
            if month in spilled[name]:
                new.append(read_arrow(spilled[name][month]).sort_by(SORT_KEYS[name]))
            return compacted(location, name, MonthFiles(kept, new), max_rows_per_file)

        months = {name: sorted(changed_months | set(spilled[name])) for name in PUBLISHED_TABLES}
        state["sources"] = write_state_table(location, "sources", sources)
        publication = Publication(months, month_of, base, state, parts.key(), parts.version, parts.listing_key,
                                  n_inputs, n_rejected)
        snapshot = publish_partitions(location, publication, note, keep_snapshots, max_rows_per_file)
        summary = summary_markdown(_run_totals(spilled, new_prints, new_errors), snapshot, n_inputs, n_rejected,
                                   len(parts.removed))
    return PublishedTables(processed_dir, parts.key(), snapshot.id, snapshot.rows, n_inputs, n_rejected, summary)


@task(name="write", task_run_name="write tables to {processed_dir}", **STAGE_TASK_OPTIONS)
def write_task(parts: TableParts, processed_dir: str, keep_snapshots: int, max_rows_per_file: int,
               cache_version: str) -> PublishedTables:
    """Publish the tables (the flow reruns it when the published tables are not the cached ones)."""
    published = publish_tables(parts, processed_dir, keep_snapshots, max_rows_per_file, f"flow run {flow_run.name}")
    rows = ", ".join(f"{count} {name}" for name, count in published.rows.items())
    get_run_logger().info("published snapshot %d of %s: %s", published.snapshot_id, processed_dir, rows)
    return published
