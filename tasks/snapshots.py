"""Snapshots: each run's published tables, partitioned by month, with one small manifest.

The processed folder:

    <table>/published_month=2021-12/part-<hash>.parquet         the latest snapshot (a copy)
    _files/<table>/published_month=2021-12/part-<hash>.parquet  the files of every kept snapshot
    _snapshots/000000000042.json                                one manifest per snapshot

Publishing writes the new files of the months a run changes under `_files/` (which files a
month gets, the write stage decides: tasks/write.py), named by their content (a file already
there is not written again; the base snapshot's other files are listed as they are), then creates the
next manifest, which must not exist yet: that one small write publishes the snapshot, and of two
runs that race for it one fails (an exclusive create on disk, a conditional PUT on S3). Then it
makes the table folders equal to the snapshot (copies new files in, deletes replaced ones), and
deletes the manifests beyond the newest `keep` and the files that no kept manifest lists.

A reader that follows a manifest (read_tables, or the file lists in its JSON) reads the files of
exactly one snapshot, which stay in `_files/` as long as the manifest is kept: it never mixes
runs, even while one publishes. A reader of a table folder sees the latest snapshot whenever no
run is publishing. Nothing here renames, links or locks, so it works the same on object storage.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.errors import utc_now
from tasks.schemas import PUBLISHED_TABLES, SORT_KEYS
from tasks.storage import Location

MONTH = "published_month"  # the partition column: the article's month, YYYY-MM
UNDATED = "undated"  # the partition of articles without a date, and of errors about no article
SNAPSHOTS = "_snapshots"
FILES = "_files"
STATE = "_state"  # under _files/: a snapshot's internal tables (tasks/plan.py, tasks/write.py)
FORMAT = 2  # of the manifest
ROW_GROUP_SIZE = 64 * 1024
SINGLE_FILE_MANIFEST = "_manifest.json"  # the layout before snapshots (one file per table)


class SnapshotConflict(RuntimeError):
    """Another run published a snapshot while this one was publishing."""


@dataclass(frozen=True)
class Snapshot:
    """One published state of the six tables: a manifest in `_snapshots/`."""

    id: int
    created_at: str  # UTC, ISO 8601
    note: str  # what made it: the flow run, or a rollback
    built_from: str  # the key of the stage results the tables were built from (tasks/write.py)
    rows: dict[str, int]
    files: dict[str, list[str]]  # per table: its files, relative to the processed folder
    state: dict[str, list[str]]  # internal tables: the raw files and the documents' fingerprints
    version: str  # Settings.state_version of the run that built it
    listing_key: str  # the raw folder's listing it was built from (tasks/listing.py)
    n_inputs: int = 0  # articles (files and JSONL lines) of those raw files: documents + rejections
    n_rejected: int = 0

    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT, **asdict(self)}, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Snapshot:
        """The snapshot a manifest describes; ValueError for one that is incomplete (a run was
        killed while writing it, or is writing it now) or of another format."""
        manifest = json.loads(data)
        if not isinstance(manifest, dict) or manifest.pop("format", None) != FORMAT:
            raise ValueError(f"not a newsflow snapshot manifest of format {FORMAT}")
        snapshot = cls(**manifest)
        if set(snapshot.files) != set(PUBLISHED_TABLES):
            raise ValueError("the manifest does not list every table")
        return snapshot


def manifest_path(snapshot_id: int) -> str:
    return f"{SNAPSHOTS}/{snapshot_id:012d}.json"


def _manifest_ids(location: Location) -> list[int]:
    """The ids of every manifest file, complete or not, in ascending order."""
    names = (Path(path).name for path in location.sizes(SNAPSHOTS))
    return sorted(int(name.removesuffix(".json")) for name in names
                  if name.endswith(".json") and name.removesuffix(".json").isdigit())


def load_snapshot(location: Location, snapshot_id: int) -> Snapshot:
    """The snapshot with this id; LookupError when it is not kept (or its manifest is incomplete)."""
    try:
        return Snapshot.from_json(location.read_bytes(manifest_path(snapshot_id)))
    except (FileNotFoundError, ValueError, TypeError):
        raise LookupError(f"no snapshot {snapshot_id} in {location.url}: `newsflow snapshots` lists "
                          "the kept ones") from None


def list_snapshots(location: Location) -> list[Snapshot]:
    """The kept snapshots, oldest first (incomplete manifests are skipped)."""
    snapshots = []
    for snapshot_id in _manifest_ids(location):
        try:
            snapshots.append(load_snapshot(location, snapshot_id))
        except LookupError:
            continue
    return snapshots


def latest_snapshot(location: Location) -> Snapshot | None:
    """The newest complete snapshot, or None when nothing was published yet."""
    for snapshot_id in reversed(_manifest_ids(location)):
        try:
            return load_snapshot(location, snapshot_id)
        except LookupError:
            continue  # a manifest being written (or left incomplete by a killed run)
    return None


def document_months(documents: pa.Table) -> pa.Array:
    """Each document's partition: its published month (YYYY-MM), or `undated`."""
    months = pc.strftime(documents["published_date"].combine_chunks(), format="%Y-%m")
    return pc.fill_null(months, UNDATED)


def months_of_rows(table: pa.Table, doc_ids: pa.Array | pa.ChunkedArray, months: pa.Array | pa.ChunkedArray
                   ) -> pa.Array:
    """The partition of each row of `table`: the month of its `doc_id` among `doc_ids` (whose
    months are `months`), `undated` for a row about no such document (a rejected file's error)."""
    return pc.fill_null(pc.take(months, pc.index_in(table["doc_id"], doc_ids)), UNDATED)


def split_rows(table: pa.Table, months: pa.Array) -> dict[str, pa.Table]:
    """The rows of `table` by their month, in their order."""
    order = pc.sort_indices(months)  # a stable sort: rows keep their order within a month
    table, months = table.take(order), months.take(order)
    parts, start = {}, 0
    for count in pc.value_counts(months):  # in a sorted array, in ascending order
        month, length = count["values"].as_py(), count["counts"].as_py()
        parts[month] = table.slice(start, length)
        start += length
    return parts


def split_by_month(tables: dict[str, pa.Table]) -> dict[str, dict[str, pa.Table]]:
    """Each table's rows by partition, in their order: documents by published month, the other
    tables by their document's; errors about no document (a rejected file) are `undated`."""
    documents = tables["documents"]
    doc_months = document_months(documents)
    return {name: split_rows(table, months_of_rows(table, documents["doc_id"], doc_months))
            for name, table in tables.items()}


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", row_group_size=ROW_GROUP_SIZE)
    return sink.getvalue().to_pybytes()


def write_partition_files(location: Location, name: str, month: str, partition: pa.Table, max_rows_per_file: int,
                          present: dict[str, int]) -> list[str]:
    """Write a table's month under `_files/` and return its file paths (none for an empty
    partition). A partition of more than `max_rows_per_file` rows is split into equal files, so
    that no file grows without bound and none is less than half full. Files are named by their
    content: one already in `present` (same name, same size) is not written again, and one a
    killed run left short is rewritten."""
    n_files = max(1, math.ceil(partition.num_rows / max_rows_per_file))
    bounds = [partition.num_rows * index // n_files for index in range(n_files + 1)]
    return [_write_file(location, f"{FILES}/{name}/{MONTH}={month}", partition.slice(start, end - start), present)
            for start, end in zip(bounds, bounds[1:]) if end > start]


def _write_file(location: Location, folder: str, table: pa.Table, present: dict[str, int]) -> str:
    data = _parquet_bytes(table)
    path = f"{folder}/part-{hashlib.sha256(data).hexdigest()[:32]}.parquet"
    if present.get(path) != len(data):
        location.write_bytes(path, data)
    return path


def write_parquet_file(location: Location, folder: str, table: pa.Table) -> str:
    """Write `table` as a Parquet file in `folder`, named by its content; return its path."""
    return _write_file(location, folder, table, {})


def write_state_table(location: Location, name: str, table: pa.Table) -> list[str]:
    """Write one of a snapshot's internal tables (one file, named by its content)."""
    return [write_parquet_file(location, f"{FILES}/{STATE}/{name}", table)]


def read_parquet(location: Location, path: str, columns: list[str] | None = None) -> pa.Table:
    """One Parquet file (all columns or these). Through ParquetFile, not pq.read_table, whose
    dataset machinery costs 0.43 s to import in a process that has not used it (a run that reads
    one small file)."""
    with location.fs.open(location.path(path), "rb") as source:
        return pq.ParquetFile(source).read(columns)


def read_state_table(location: Location, snapshot: Snapshot, name: str, columns: list[str] | None = None
                     ) -> pa.Table | None:
    """One of the snapshot's internal tables (all columns or these), or None when it has none
    of that name."""
    paths = snapshot.state.get(name)
    if not paths:
        return None
    return pa.concat_tables(read_parquet(location, path, columns) for path in paths)


def partition_month(path: str) -> str:
    """The month of a table file (`_files/t/published_month=2021-12/part-x.parquet` -> `2021-12`)."""
    return path.split(f"/{MONTH}=", 1)[1].split("/", 1)[0]


def partition_rows(location: Location, paths: list[str]) -> int:
    """The rows of these Parquet files, from their footers."""
    rows = 0
    for path in paths:
        with location.fs.open(location.path(path), "rb") as source:
            rows += pq.ParquetFile(source).metadata.num_rows
    return rows


def read_partition(location: Location, table: str, paths: list[str]) -> pa.Table:
    """The rows of a partition's files (without the partition column)."""
    parts = [read_parquet(location, path) for path in paths]
    return pa.concat_tables(parts) if parts else PUBLISHED_TABLES[table].empty_table()


def table_folder_path(stored: str) -> str:
    """Where a stored file is copied for the table folder (`_files/t/m/f` -> `t/m/f`)."""
    return stored.removeprefix(f"{FILES}/")


def _folder_differences(location: Location, snapshot: Snapshot, table: str) -> tuple[list[str], list[str]]:
    """The stored files to copy into the table folder, and the files there to delete, for the
    folder to hold exactly the snapshot's files."""
    stored_sizes = location.sizes(f"{FILES}/{table}")
    present = location.sizes(table)
    wanted = {table_folder_path(stored): stored for stored in snapshot.files[table]}
    to_copy = [stored for path, stored in wanted.items() if present.get(path) != stored_sizes.get(stored)]
    return to_copy, [path for path in present if path not in wanted]


def table_folders_match(location: Location, snapshot: Snapshot) -> bool:
    """True when each table folder holds exactly the snapshot's files."""
    return all(_folder_differences(location, snapshot, table) == ([], []) for table in PUBLISHED_TABLES)


def sync_table_folders(location: Location, snapshot: Snapshot) -> None:
    """Make each table folder hold exactly the snapshot's files: new ones are copied in before
    replaced ones are deleted, and so are files a killed run left there."""
    for table in PUBLISHED_TABLES:
        to_copy, to_delete = _folder_differences(location, snapshot, table)
        for stored in to_copy:
            location.copy(stored, table_folder_path(stored))
        location.delete(to_delete)
        location.remove_empty_folders(table)
    location.delete([SINGLE_FILE_MANIFEST])


def expire_snapshots(location: Location, keep: int) -> None:
    """Delete the manifests older than the newest `keep` complete ones, and the stored files
    that no kept manifest lists (also those a killed run wrote and never published)."""
    kept = list_snapshots(location)[-keep:]
    if not kept:
        return
    location.delete([manifest_path(snapshot_id) for snapshot_id in _manifest_ids(location)
                     if snapshot_id < kept[0].id])
    needed = {path for snapshot in kept for paths in [*snapshot.files.values(), *snapshot.state.values()]
              for path in paths}
    location.delete([path for path in location.sizes(FILES) if path not in needed])
    location.remove_empty_folders(FILES)


def commit(location: Location, template: Snapshot, note: str) -> Snapshot:
    """Publish a snapshot of files already stored (those of `template`): create the next
    manifest, which must not exist. SnapshotConflict when another run created it first."""
    ids = _manifest_ids(location)
    snapshot = replace(template, id=ids[-1] + 1 if ids else 1, note=note,
                       created_at=utc_now().isoformat(timespec="seconds"))
    try:
        location.create(manifest_path(snapshot.id), snapshot.to_json())
    except FileExistsError:
        raise SnapshotConflict(f"another run published snapshot {snapshot.id} of {location.url} while this run "
                               "was publishing; this run's tables were not published (run it again)") from None
    return snapshot


@dataclass(frozen=True)
class MonthFiles:
    """A month of a table in the next snapshot: the files of the base snapshot it keeps as they
    are, and the rows of its new files (each written as one or more files)."""

    kept: list[str]
    new: list[pa.Table]


@dataclass(frozen=True)
class Publication:
    """What a run publishes: for each table, the months it changes (months not named keep the
    base snapshot's files) and `month_of(table, month)`, what each becomes, on top of `base`
    (None: nothing is kept), and the snapshot's internal tables and keys. month_of is called
    once per month, one after the other, so that a publication holds one month's new rows at a
    time, not a whole table."""

    months: dict[str, list[str]]
    month_of: Callable[[str, str], MonthFiles]
    base: Snapshot | None
    state: dict[str, list[str]]  # the files of the internal tables, written already
    built_from: str
    version: str = ""
    listing_key: str = ""
    n_inputs: int = 0
    n_rejected: int = 0


def publish_partitions(location: Location, publication: Publication, note: str, keep: int, max_rows_per_file: int
                       ) -> Snapshot:
    """Write the publication's files and publish them as the latest snapshot (see the module's
    docstring); return it. When nothing differs from the latest snapshot, none is added; the
    table folders are still made to match it."""
    base = publication.base
    files, rows = {}, {}
    for name in PUBLISHED_TABLES:
        kept = {} if base is None else {path: partition_month(path) for path in base.files[name]}
        replaced = set(publication.months.get(name, []))
        present = location.sizes(f"{FILES}/{name}")
        paths, new_rows = [path for path, month in kept.items() if month not in replaced], 0
        for month in sorted(replaced):
            month_files = publication.month_of(name, month)
            paths += month_files.kept
            for table in month_files.new:
                written = write_partition_files(location, name, month, table, max_rows_per_file, present)
                paths += written
                if not set(written) & kept.keys():  # (a file equal to one of the base's is counted there)
                    new_rows += table.num_rows
        if not paths:  # an empty table is one empty file, so that readers find its columns
            paths = [_write_file(location, f"{FILES}/{name}/{MONTH}={UNDATED}", PUBLISHED_TABLES[name].empty_table(),
                                 present)]
        files[name] = sorted(set(paths))
        dropped = [path for path in kept if path not in files[name]]
        rows[name] = ((base.rows[name] - partition_rows(location, dropped)) if base is not None else 0) + new_rows
    template = Snapshot(0, "", "", publication.built_from, rows, files, publication.state, publication.version,
                        publication.listing_key, publication.n_inputs, publication.n_rejected)
    latest = latest_snapshot(location)
    if latest is None or replace(latest, id=0, created_at="", note="") != template:
        latest = commit(location, template, note)
    sync_table_folders(location, latest)
    expire_snapshots(location, keep)
    return latest


def publish(location: Location, tables: dict[str, pa.Table], built_from: str, note: str, keep: int,
            max_rows_per_file: int) -> Snapshot:
    """Publish five whole tables as the latest snapshot (no internal tables); return it."""
    partitions = split_by_month(tables)
    publication = Publication({name: sorted(months) for name, months in partitions.items()},
                              lambda name, month: MonthFiles([], [partitions[name][month]]), None, {}, built_from)
    return publish_partitions(location, publication, note, keep, max_rows_per_file)


def rollback(location: Location, snapshot_id: int, keep: int) -> Snapshot:
    """Publish an earlier snapshot's tables again, as a new snapshot (the later ones stay listed
    until they expire), and return it."""
    target = load_snapshot(location, snapshot_id)
    snapshot = commit(location, target, f"rollback to snapshot {snapshot_id}")
    sync_table_folders(location, snapshot)
    expire_snapshots(location, keep)
    return snapshot


def _read_files(location: Location, table: str, paths: list[str]) -> pa.Table:
    """The rows of a table's files with their month, in the order of SORT_KEYS within each month
    (a month of several files, after runs that changed it, reads as one that was written whole)."""
    schema = PUBLISHED_TABLES[table].append(pa.field(MONTH, pa.string(), nullable=False))
    parts = []
    for path in paths:
        part = read_parquet(location, path)
        month = partition_month(path)
        parts.append(part.append_column(schema.field(MONTH), pa.array([month] * part.num_rows, pa.string())))
    if not parts:
        return schema.empty_table()
    return pa.concat_tables(parts).cast(schema).sort_by([(MONTH, "ascending"), *SORT_KEYS[table]])


def read_tables(processed_dir: str | Path, tables: list[str] | None = None, snapshot_id: int | None = None
                ) -> dict[str, pa.Table]:
    """The published tables of one snapshot (the latest unless `snapshot_id` says which), each
    with its `published_month` column: all of one run, never a mix, even while a run publishes.

    >>> tables = read_tables("data/processed")
    >>> tables["quantities"].to_pandas()
    """
    location = Location(processed_dir)
    names = list(PUBLISHED_TABLES) if tables is None else tables
    unknown = set(names) - set(PUBLISHED_TABLES)
    if unknown:
        raise ValueError(f"no table {sorted(unknown)[0]!r}: the tables are {', '.join(PUBLISHED_TABLES)}")
    while True:
        snapshot = latest_snapshot(location) if snapshot_id is None else load_snapshot(location, snapshot_id)
        if snapshot is None:
            raise FileNotFoundError(f"no tables published in {processed_dir} yet: run newsflow first")
        try:
            return {name: _read_files(location, name, snapshot.files[name]) for name in names}
        except FileNotFoundError:
            # The snapshot expired while it was read (runs published `keep` more meanwhile):
            # read the latest one instead. A snapshot asked for by id is not replaced.
            if snapshot_id is not None or latest_snapshot(location) == snapshot:
                raise


def read_table(processed_dir: str | Path, table: str, snapshot_id: int | None = None) -> pa.Table:
    """One published table of the latest snapshot (or of `snapshot_id`); see read_tables."""
    return read_tables(processed_dir, [table], snapshot_id)[table]
