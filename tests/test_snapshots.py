"""Tests for tasks/snapshots.py: month partitions, snapshots that readers never see mixed, kill -9
while publishing, rollback, and bounded files."""

from __future__ import annotations

import datetime
import multiprocessing
import random
import time
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import tasks.snapshots
from tasks.schemas import PUBLISHED_TABLES
from tasks.snapshots import (
    FILES, MONTH, SNAPSHOTS, SnapshotConflict, commit, latest_snapshot, list_snapshots, manifest_path, publish,
    read_table, read_tables, rollback, split_by_month, table_folders_match,
)
from tasks.storage import Location

UTC_ZERO = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
DATES = {"a": datetime.date(2021, 12, 3), "b": datetime.date(2021, 12, 30), "c": datetime.date(2022, 1, 2), "d": None}


def make_tables(version: int, dates: dict[str, datetime.date | None] = DATES) -> dict[str, pa.Table]:
    """The six tables for documents `dates`, every row tagged with `version` (in a text column),
    and one error row about a rejected file (no document)."""
    tag = f"v{version}"
    docs = sorted(dates)
    rows = {
        "documents": [dict(doc_id=d, source=f"{d}.txt", title=tag, published_date=dates[d], date_source="metadata",
                           text="t", raw_text="t", chars_removed=0, content_sha256="h", n_words=1, encoding="utf-8",
                           encoding_doubtful=False, model="m", pipeline_version="1", processed_at=UTC_ZERO)
                      for d in docs],
        "entities": [dict(doc_id=d, text=tag, label="ORG", start_char=0, end_char=1, sentence=0, canonical=tag,
                          label_source="model")
                     for d in docs for _ in range(2)],
        "document_entities": [dict(doc_id=d, canonical=tag, label="ORG", mentions=2, first_start_char=0) for d in docs],
        "quantities": [dict(doc_id=d, text=tag, start_char=0, end_char=1, kind="count", value=1.0,
                            approximate=False, amount_id=0) for d in docs],
        "quotations": [dict(doc_id=d, text=tag, start_char=0, end_char=1, partial=False) for d in docs],
        "errors": [dict(source="bad.pdf", stage="ingest", error_type="unsupported_file_type", message=tag,
                        recorded_at=UTC_ZERO)]
                  + [dict(source=f"{d}.txt", doc_id=d, stage="numbers", error_type="x", message=tag,
                          recorded_at=UTC_ZERO) for d in docs],
    }
    return {name: pa.Table.from_pylist(rows[name], schema=schema) for name, schema in PUBLISHED_TABLES.items()}


TAG_COLUMNS = {"documents": "title", "entities": "text", "document_entities": "canonical", "quantities": "text",
               "quotations": "text", "errors": "message"}


def versions_seen(tables: dict[str, pa.Table]) -> set[str]:
    """The version tags in every row of every table (one tag: the tables are of one snapshot)."""
    return {tag for name, table in tables.items() for tag in table[TAG_COLUMNS[name]].to_pylist()}


def _publish(processed: Path, tables: dict[str, pa.Table], keep: int = 3, max_rows: int = 1000, key: str = "k"):
    return publish(Location(processed), tables, key, "test", keep, max_rows)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_rows_are_split_by_their_documents_month():
    partitions = split_by_month(make_tables(1))
    assert {name: {month: part.num_rows for month, part in parts.items()} for name, parts in partitions.items()} == {
        "documents": {"2021-12": 2, "2022-01": 1, "undated": 1},
        "entities": {"2021-12": 4, "2022-01": 2, "undated": 2},
        "document_entities": {"2021-12": 2, "2022-01": 1, "undated": 1},
        "quantities": {"2021-12": 2, "2022-01": 1, "undated": 1},
        "quotations": {"2021-12": 2, "2022-01": 1, "undated": 1},
        "errors": {"2021-12": 2, "2022-01": 1, "undated": 2},  # the rejected file has no month
    }
    assert partitions["documents"]["2021-12"]["doc_id"].to_pylist() == ["a", "b"]  # order kept


def test_an_empty_table_is_one_empty_undated_file(tmp_path: Path):
    tables = {name: schema.empty_table() for name, schema in PUBLISHED_TABLES.items()}
    _publish(tmp_path, tables)
    for name in PUBLISHED_TABLES:
        assert [p.parent.name for p in (tmp_path / name).rglob("*.parquet")] == [f"{MONTH}=undated"]
        assert len(pd.read_parquet(tmp_path / name)) == 0


def test_pandas_duckdb_and_polars_read_the_table_folders_and_the_manifest(tmp_path: Path):
    _publish(tmp_path, make_tables(1))
    entities = read_table(tmp_path, "entities").to_pandas()
    columns = sorted(entities.columns)
    assert len(entities) == 8 and sorted(entities[MONTH].unique()) == ["2021-12", "2022-01", "undated"]
    folder = tmp_path / "entities"
    from_pandas = pd.read_parquet(folder)
    from_duckdb = duckdb.sql(f"select * from read_parquet('{folder}/**/*.parquet', hive_partitioning = true)").df()
    from_polars = pl.read_parquet(folder).to_pandas()
    manifest = latest_snapshot(Location(tmp_path))
    files = [str(tmp_path / path) for path in manifest.files["entities"]]
    from_manifest_duckdb = duckdb.sql(f"select * from read_parquet({files}, hive_partitioning = true)").df()
    from_manifest_polars = pl.read_parquet(files, hive_partitioning=True).to_pandas()
    for frame in (from_pandas, from_duckdb, from_polars, from_manifest_duckdb, from_manifest_polars):
        assert sorted(frame.columns) == columns
        frame[MONTH] = frame[MONTH].astype(str)
        key = ["doc_id", "start_char", "text"]
        assert frame[columns].sort_values(key).reset_index(drop=True).equals(
            entities[columns].sort_values(key).reset_index(drop=True).astype(frame[columns].dtypes))


def test_only_changed_partitions_get_new_files_and_moved_or_deleted_rows_leave(tmp_path: Path):
    first = _publish(tmp_path, make_tables(1))
    changed = dict(DATES, a=datetime.date(2022, 1, 5))  # a moves from 2021-12 to 2022-01
    del changed["d"]  # d's file was deleted
    second = _publish(tmp_path, make_tables(1, changed))
    assert second.id == first.id + 1
    for name in PUBLISHED_TABLES:
        before, after = set(first.files[name]), set(second.files[name])
        changed_months = {path.split("/")[2] for path in before ^ after}
        assert changed_months <= {f"{MONTH}=2021-12", f"{MONTH}=2022-01", f"{MONTH}=undated"}
    documents = read_table(tmp_path, "documents")
    assert sorted(zip(documents["doc_id"].to_pylist(), documents[MONTH].to_pylist())) == [
        ("a", "2022-01"), ("b", "2021-12"), ("c", "2022-01")]
    assert not list((tmp_path / "documents").glob(f"{MONTH}=undated"))  # no empty partition folder left
    # An unchanged partition keeps its file: adding a document in March 2022 writes one new
    # file per table, for that month, and no other.
    third = _publish(tmp_path, make_tables(1, changed | {"e": datetime.date(2022, 3, 1)}))
    for name in PUBLISHED_TABLES:
        new = set(third.files[name]) - set(second.files[name])
        assert [path.split("/")[2] for path in new] == [f"{MONTH}=2022-03"], name


def test_the_same_tables_add_no_snapshot(tmp_path: Path):
    first = _publish(tmp_path, make_tables(1))
    assert _publish(tmp_path, make_tables(1)) == first
    assert _publish(tmp_path, make_tables(1), key="built from other results").id == first.id + 1


def test_a_large_partition_is_split_into_equal_files(tmp_path: Path):
    dates = {f"d{i:03}": datetime.date(2022, 1, 1) for i in range(25)}
    snapshot = _publish(tmp_path, make_tables(1, dates), max_rows=10)
    sizes = sorted(pd.read_parquet(tmp_path / path).shape[0] for path in snapshot.files["entities"])
    assert sizes == [10, 10, 10, 10, 10]  # 50 rows: 5 files of 10
    sizes = sorted(pd.read_parquet(tmp_path / path).shape[0] for path in snapshot.files["documents"])
    assert sizes == [8, 8, 9]  # 25 rows: 3 files, none under half full


def test_thirty_small_runs_keep_files_and_snapshots_bounded(tmp_path: Path):
    dates: dict[str, datetime.date | None] = {}
    for run in range(30):
        dates[f"doc{run:02}"] = datetime.date(2022, 1 + run % 3, 1)  # three months
        _publish(tmp_path, make_tables(1, dates), keep=4)
    assert [s.id for s in list_snapshots(Location(tmp_path))] == [27, 28, 29, 30]
    for name in PUBLISHED_TABLES:
        per_partition = [len(list(folder.iterdir())) for folder in (tmp_path / name).iterdir()]
        assert per_partition == [1] * (4 if name == "errors" else 3)  # errors: also the rejected file's
        # what 4 snapshots can hold: at most 3 partitions of each + 1 undated
        assert len(list((tmp_path / FILES / name).rglob("*.parquet"))) <= 4 * 4
    assert read_table(tmp_path, "documents").num_rows == 30


def test_rollback_restores_the_earlier_tables_exactly(tmp_path: Path):
    _publish(tmp_path, make_tables(1))
    before_folder = {name: pd.read_parquet(tmp_path / name) for name in PUBLISHED_TABLES}
    before = read_tables(tmp_path)
    _publish(tmp_path, make_tables(2, dict(DATES, e=datetime.date(2023, 5, 1))))
    assert versions_seen(read_tables(tmp_path)) == {"v2"}
    snapshot = rollback(Location(tmp_path), 1, keep=3)
    assert snapshot.id == 3 and snapshot.note == "rollback to snapshot 1"
    assert read_tables(tmp_path) == before
    for name in PUBLISHED_TABLES:
        sort = list(PUBLISHED_TABLES[name].names[:3])
        assert pd.read_parquet(tmp_path / name).sort_values(sort).reset_index(drop=True).equals(
            before_folder[name].sort_values(sort).reset_index(drop=True))
    assert read_tables(tmp_path, snapshot_id=2)["documents"].num_rows == 5  # the later one is still kept
    with pytest.raises(LookupError, match="no snapshot 9"):
        rollback(Location(tmp_path), 9, keep=3)


def test_an_incomplete_manifest_is_skipped(tmp_path: Path):
    location = Location(tmp_path)
    first = _publish(tmp_path, make_tables(1))
    (tmp_path / manifest_path(2)).write_bytes((tmp_path / manifest_path(1)).read_bytes()[:-40])  # a killed writer
    assert latest_snapshot(location) == first and [s.id for s in list_snapshots(location)] == [1]
    assert read_tables(tmp_path, snapshot_id=1) == read_tables(tmp_path)
    assert _publish(tmp_path, make_tables(2)).id == 3


def test_of_two_runs_that_race_to_publish_one_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import threading

    import tasks.snapshots

    location = Location(tmp_path)
    first = _publish(tmp_path, make_tables(1))
    list_ids = tasks.snapshots._manifest_ids
    both_listed = threading.Barrier(2)

    def list_then_wait(location: Location) -> list[int]:
        ids = list_ids(location)
        both_listed.wait(timeout=10)  # both runs have chosen the next id before either creates it
        return ids

    monkeypatch.setattr(tasks.snapshots, "_manifest_ids", list_then_wait)
    outcomes: list[object] = []

    def run(note: str) -> None:
        try:
            outcomes.append(commit(location, first, note).id)
        except SnapshotConflict as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=run, args=(note,)) for note in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == [2, f"another run published snapshot 2 of {tmp_path} while this run was "
                                            "publishing; this run's tables were not published (run it again)"]


def test_a_single_file_layout_left_by_an_older_newsflow_is_replaced(tmp_path: Path):
    for name in PUBLISHED_TABLES:
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.parquet").write_bytes(b"old")
    (tmp_path / "_manifest.json").write_text("{}")
    _publish(tmp_path, make_tables(1))
    assert not list(tmp_path.glob("*/*.parquet")) and not (tmp_path / "_manifest.json").exists()
    assert versions_seen({name: pa.Table.from_pandas(pd.read_parquet(tmp_path / name)) for name in PUBLISHED_TABLES}
                         ) == {"v1"}


def keep_publishing(processed: str, first_version: int, runs: int) -> None:
    """Publish versions first_version, first_version + 1, ... (another process's work)."""
    for version in range(first_version, first_version + runs):
        dates = dict(DATES, **{f"n{version}": datetime.date(2020, 1 + version % 12, 1)})
        publish(Location(processed), make_tables(version, dates), f"key {version}", "test", 3, 1000)


def test_a_reader_never_sees_two_snapshots_mixed_while_runs_publish(tmp_path: Path):
    _publish(tmp_path, make_tables(0))
    writer = multiprocessing.get_context("spawn").Process(target=keep_publishing, args=(str(tmp_path), 1, 40))
    writer.start()
    reads, seen = 0, set()
    while writer.is_alive() or reads == 0:
        tables = read_tables(tmp_path)
        versions = versions_seen(tables)
        assert len(versions) == 1, f"one read mixed snapshots {sorted(versions)}"
        seen |= versions
        reads += 1
    writer.join()
    assert writer.exitcode == 0
    assert len(seen) > 3, f"the reader saw only {sorted(seen)} in {reads} reads: the test proves little"


def test_kill_9_while_publishing_leaves_the_previous_snapshot_whole(tmp_path: Path):
    """A publishing process is killed at random moments; each time the latest snapshot is whole
    (one version in every table), and publishing afterwards equals publishing in a new folder."""
    rng = random.Random(17)
    version = 0
    _publish(tmp_path, make_tables(version))
    for _ in range(8):
        writer = multiprocessing.get_context("spawn").Process(target=keep_publishing,
                                                              args=(str(tmp_path), version + 1, 1000))
        writer.start()
        time.sleep(rng.uniform(1.0, 2.5))  # the child's imports take about 1 s
        writer.kill()
        writer.join()
        latest = latest_snapshot(Location(tmp_path))
        tables = read_tables(tmp_path)
        assert len(versions_seen(tables)) == 1
        version = int(latest.built_from.split()[-1]) if latest.built_from != "k" else 0
    keep_publishing(str(tmp_path), 500, 1)
    keep_publishing(str(tmp_path / "clean"), 500, 1)
    assert read_tables(tmp_path) == read_tables(tmp_path / "clean")
    for name in PUBLISHED_TABLES:
        assert _files(tmp_path / name) == _files(tmp_path / "clean" / name)
    assert len(list((tmp_path / SNAPSHOTS).iterdir())) <= 3 + 1  # kept ones, and at most one left incomplete


def test_the_reading_examples_in_the_table_contract_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import re

    from tests.conftest import REPO

    processed = tmp_path / "data" / "processed"
    for version in (1, 2, 3):
        _publish(processed, make_tables(version), keep=10)
        _publish(processed, make_tables(version, {"z": None}), keep=10)  # a different table each time
    (processed / manifest_path(7)).write_bytes(b'{"format": 1, "id"')  # a manifest being written
    monkeypatch.chdir(tmp_path)
    contract = (REPO / "docs" / "schema.md").read_text()
    blocks = re.findall(r"^ *```python\n(.*?)^ *```", contract, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 2
    scope: dict = {}
    for block in blocks:
        exec(compile("\n".join(line.removeprefix("  ") for line in block.splitlines()), "schema.md", "exec"), scope)
    assert scope["documents"]["title"].unique().tolist() == ["v3"]  # the latest snapshot
    assert len(scope["entities"]) == 8 and set(scope["entities"]["text"].to_pylist()) == {"v2"}  # snapshot 3
    assert scope["snapshot"]["id"] == 6
    assert scope["quantities"].shape[0] == 1 and "published_month" in scope["quantities"].columns


def test_snapshots_on_a_real_s3_server_publish_roll_back_and_admit_one_publisher(s3_bucket: str, tmp_path: Path,
                                                                                  monkeypatch):
    """The same code on object storage (moto's S3 server on loopback, through s3fs): the tables
    read back equal those published on disk, a rollback restores them, and a manifest that
    already exists cannot be created again (a conditional PUT), so two runs cannot both publish."""
    url = f"{s3_bucket}/{tmp_path.name}"
    on_s3, on_disk = Location(url), Location(str(tmp_path))
    for location in (on_s3, on_disk):
        publish(location, make_tables(1), "key 1", "test", 3, 1000)
        publish(location, make_tables(2), "key 2", "test", 3, 1000)
    assert read_tables(url) == read_tables(tmp_path) and versions_seen(read_tables(url)) == {"v2"}
    assert rollback(on_s3, 1, keep=3).id == 3 and versions_seen(read_tables(url)) == {"v1"}
    assert table_folders_match(on_s3, latest_snapshot(on_s3))
    # A second publisher that listed the manifests before snapshot 3 was created tries id 3 too.
    monkeypatch.setattr(tasks.snapshots, "_manifest_ids", lambda location: [1, 2])
    with pytest.raises(SnapshotConflict):
        commit(on_s3, latest_snapshot(on_s3), "a second publisher")
