"""The user docs' readers on a processed location on S3: pandas, Polars and DuckDB read the table
folders of the latest snapshot, and pyarrow reads one snapshot's files from its manifest.

The snapshot is published by newsflow's own code (tasks.snapshots.publish) to moto's S3 server
on loopback (the `s3_bucket` fixture), and every reader's rows are compared with what
tasks.snapshots.read_tables returns. Nothing leaves the machine:

- the readers get the server's address the way a user passes a custom endpoint (MinIO, a local
  S3 server): in their own options, or in AWS_ENDPOINT_URL alone with the docs' snippets for AWS
  run verbatim in a fresh interpreter (test_the_docs_snippets_for_aws_run_unchanged_...);
- AWS_ENDPOINT_URL (set by the fixture for newsflow's code) is removed while the readers run,
  so a snippet that forgot its endpoint would fail instead of passing by luck;
- DuckDB has no httpfs extension here and must not download it: it reads s3:// through a
  registered s3fs filesystem, with extension auto-install and auto-load off;
- Python-level connections (s3fs, which pandas with storage_options, pyarrow and DuckDB use here)
  to anything but loopback fail the test. Polars' object store and pyarrow's own S3 client (pandas
  without storage_options) connect from native code, which this cannot see: they get an explicit
  endpoint, or AWS_ENDPOINT_URL in the subprocess.
"""

from __future__ import annotations

import collections
import datetime
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import s3fs

from tasks.schemas import PUBLISHED_TABLES
from tasks.snapshots import MONTH, publish, read_tables
from tasks.storage import Location

UTC_ZERO = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
DATES = {"a": datetime.date(2021, 12, 3), "b": datetime.date(2021, 12, 30), "c": datetime.date(2022, 1, 2), "d": None}
TAG_COLUMNS = {"documents": "title", "entities": "text", "document_entities": "canonical", "quantities": "text",
               "quotations": "text", "errors": "message"}
# Columns that identify a row (with the version tag and the month, what the readers must agree on).
KEYS = {"documents": ["doc_id", "source"], "entities": ["doc_id", "start_char", "label", "canonical"],
        "document_entities": ["doc_id", "canonical", "label", "mentions"],
        "quantities": ["doc_id", "start_char", "kind", "value"], "quotations": ["doc_id", "start_char"],
        "errors": ["source", "stage", "error_type"]}
DOCS_PROCESSED = "s3://my-bucket/newsflow/processed"  # the location the docs' snippets name


def make_tables(tag: str) -> dict[str, pa.Table]:
    """The six tables for four documents over three months (one undated), every row tagged with
    `tag`; a copy of tests/test_snapshots.py's builder, with PERSON and ORG mentions and money
    amounts so that the docs' queries (PERSON mentions, money amounts) select some rows."""
    docs = sorted(DATES)
    rows = {
        "documents": [dict(doc_id=d, source=f"{d}.txt", title=tag, published_date=DATES[d], date_source="metadata",
                           text="t", raw_text="t", chars_removed=0, content_sha256="h", n_words=1, encoding="utf-8",
                           encoding_doubtful=False, model="m", pipeline_version="1", processed_at=UTC_ZERO)
                      for d in docs],
        # a: 2 mentions of one person, b to d: 1; every document: one organisation.
        "entities": [dict(doc_id=d, text=tag, label=label, start_char=start, end_char=start + 1, sentence=0,
                          canonical=f"{tag} {label.lower()}", label_source="model")
                     for d in docs
                     for label, start in [("PERSON", 0), ("ORG", 2)] + ([("PERSON", 4)] if d == "a" else [])],
        "document_entities": [dict(doc_id=d, canonical=f"{tag} {label.lower()}", label=label, mentions=mentions,
                                   first_start_char=start)
                              for d in docs
                              for label, mentions, start in [("PERSON", 2 if d == "a" else 1, 0), ("ORG", 1, 2)]],
        "quantities": [dict(doc_id=d, text=tag, start_char=start, end_char=start + 1, kind=kind, value=float(i),
                            approximate=False, amount_id=start)
                       for i, d in enumerate(docs) for start, kind in [(0, "money"), (2, "count")]],
        "quotations": [dict(doc_id=d, text=tag, start_char=0, end_char=1, partial=False) for d in docs],
        "errors": [dict(source="bad.pdf", stage="ingest", error_type="unsupported_file_type", message=tag,
                        recorded_at=UTC_ZERO)]
                  + [dict(source=f"{d}.txt", doc_id=d, stage="numbers", error_type="x", message=tag,
                          recorded_at=UTC_ZERO) for d in docs],
    }
    return {name: pa.Table.from_pylist(rows[name], schema=schema) for name, schema in PUBLISHED_TABLES.items()}


def rows(frame: pd.DataFrame, table: str) -> list[tuple[str, ...]]:
    """A table's identifying columns, version tag and month, sorted, as text (pandas reads the
    month as categorical, DuckDB and Polars as a string; integer widths differ)."""
    columns = [*KEYS[table], TAG_COLUMNS[table], MONTH]
    return sorted(frame[columns].astype(str).itertuples(index=False, name=None))


def expected_rows(expected: dict[str, pa.Table], table: str) -> list[tuple[str, ...]]:
    return rows(expected[table].to_pandas(), table)


def person_mentions(expected: dict[str, pa.Table]) -> list[tuple[str, str, int]]:
    """What the docs' DuckDB query returns, computed from read_tables' tables: (source, canonical,
    mentions) of PERSON mentions per document."""
    source = dict(zip(expected["documents"]["doc_id"].to_pylist(), expected["documents"]["source"].to_pylist()))
    entities = expected["entities"].to_pydict()
    counts = collections.Counter((source[doc], canonical) for doc, canonical, label in
                                 zip(entities["doc_id"], entities["canonical"], entities["label"]) if label == "PERSON")
    return sorted((source_, canonical, n) for (source_, canonical), n in counts.items())


@pytest.fixture(scope="module")
def published(s3_bucket: str) -> SimpleNamespace:
    """Two snapshots published to a prefix of its own (other tests share the bucket): the first
    tagged v1, the latest v2; and what read_tables returns for the latest."""
    url = f"{s3_bucket}/readers-{uuid.uuid4().hex}"
    first = publish(Location(url), make_tables("v1"), "key 1", "test", 3, 1000)
    latest = publish(Location(url), make_tables("v2"), "key 2", "test", 3, 1000)
    assert (first.id, latest.id) == (1, 2)
    return SimpleNamespace(url=url, endpoint=os.environ["AWS_ENDPOINT_URL"], expected=read_tables(url),
                           first=first, latest=latest)


@pytest.fixture
def s3(published: SimpleNamespace, monkeypatch) -> SimpleNamespace:
    """The published location, with AWS_ENDPOINT_URL removed (each reader must name
    it, as a user does) and every Python-level connection checked to go to loopback."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    refused: list = []
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            refused.append(address)
            raise OSError(f"tests/test_s3_readers.py: no network beyond loopback ({address})")

    monkeypatch.setattr(socket.socket, "connect", lambda self, address: (check(address), connect(self, address))[1])
    monkeypatch.setattr(socket.socket, "connect_ex",
                        lambda self, address: (check(address), connect_ex(self, address))[1])
    yield published
    assert not refused, f"connections beyond loopback were attempted: {refused}"


def test_pandas_reads_a_table_folder_with_the_endpoint_in_storage_options(s3):
    processed, endpoint = s3.url, s3.endpoint
    # The docs' snippet, with the custom endpoint its note adds (AWS itself needs no storage_options).
    entities = pd.read_parquet(f"{processed}/document_entities", storage_options={"endpoint_url": endpoint})
    top = entities.groupby(["canonical", "label"]).mentions.sum().nlargest(5)
    print(top)
    assert isinstance(entities[MONTH].dtype, pd.CategoricalDtype)  # hive partitions read as categorical
    assert rows(entities, "document_entities") == expected_rows(s3.expected, "document_entities")
    assert top.to_dict() == {("v2 person", "PERSON"): 5, ("v2 org", "ORG"): 4}


def test_polars_reads_a_table_folder_with_its_own_object_store(s3):
    processed, endpoint = s3.url, s3.endpoint
    # The trailing "/" makes it a folder: without it Polars GETs one object of that name (404).
    quantities = pl.read_parquet(f"{processed}/quantities/", storage_options={"aws_endpoint_url": endpoint})
    money = quantities.filter(pl.col("kind") == "money").select("text", "currency", "value", "value_usd")
    print(money)
    assert quantities.schema[MONTH] == pl.String  # hive partitions: the folder's published_month=...
    assert rows(quantities.to_pandas(), "quantities") == expected_rows(s3.expected, "quantities")
    assert money.height == 4 and money["text"].to_list() == ["v2"] * 4
    # A glob reads the same rows, but only names the month column with hive_partitioning=True.
    globbed = pl.read_parquet(f"{processed}/quantities/**/*.parquet", hive_partitioning=True,
                              storage_options={"aws_endpoint_url": endpoint})
    assert rows(globbed.to_pandas(), "quantities") == expected_rows(s3.expected, "quantities")


def test_duckdb_joins_two_table_folders_through_a_registered_s3fs_filesystem(s3):
    processed, endpoint = s3.url, s3.endpoint
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.register_filesystem(s3fs.S3FileSystem(endpoint_url=endpoint))
    people = con.sql(f"""
    SELECT d.source, e.canonical, count(*) AS mentions
    FROM read_parquet('{processed}/entities/**/*.parquet', hive_partitioning = true) e
    JOIN read_parquet('{processed}/documents/**/*.parquet', hive_partitioning = true) d USING (doc_id)
    WHERE e.label = 'PERSON'
    GROUP BY ALL ORDER BY mentions DESC
    """)
    print(people)
    found = people.fetchall()
    assert sorted(found) == person_mentions(s3.expected)
    assert [n for _, _, n in found] == sorted((n for _, _, n in found), reverse=True)
    for table in ("entities", "documents"):
        frame = con.sql(f"SELECT * FROM read_parquet('{processed}/{table}/**/*.parquet', hive_partitioning = true)"
                        ).df()
        assert rows(frame, table) == expected_rows(s3.expected, table)
    # s3:// went through s3fs: DuckDB neither loaded nor fetched its httpfs extension.
    assert con.sql("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'").fetchall() == [(False,)]


def test_a_manifest_lists_one_snapshots_files_which_pyarrow_reads(s3):
    """The consistent read while a run publishes: the files of one manifest, which stay in
    _files/ as long as it is kept, whatever the table folders hold meanwhile."""
    fs = s3fs.S3FileSystem(endpoint_url=s3.endpoint)
    processed = s3.url.removeprefix("s3://")
    manifest = json.loads(fs.cat_file(max(fs.glob(f"{processed}/_snapshots/*.json"))))
    snapshot = {table: pq.read_table([f"{processed}/{path}" for path in paths], filesystem=fs).to_pandas()
                for table, paths in manifest["files"].items()}
    assert manifest["id"] == s3.latest.id and set(snapshot) == set(PUBLISHED_TABLES)
    for table, frame in snapshot.items():
        assert rows(frame, table) == expected_rows(s3.expected, table), table
    # An older kept snapshot reads the same way, all of it v1, while the table folders hold v2.
    first = json.loads(fs.cat_file(f"{processed}/_snapshots/{s3.first.id:012d}.json"))
    for table, paths in first["files"].items():
        frame = pq.read_table([f"{processed}/{path}" for path in paths], filesystem=fs).to_pandas()
        tags = {value.split()[0] for value in frame[TAG_COLUMNS[table]]}  # "v1", "v1 person", ...
        assert tags == {"v1"} and len(frame) == s3.expected[table].num_rows, table
        assert sorted(frame[MONTH].astype(str).unique()) == sorted(set(s3.expected[table][MONTH].to_pylist()))


# The snippets as the user docs show them for AWS: credentials and endpoint from the standard
# AWS chain, nothing in code.
DOCS_SNIPPETS = {
    "pandas": '''
import pandas as pd

entities = pd.read_parquet("s3://my-bucket/newsflow/processed/document_entities")
print(entities.groupby(["canonical", "label"]).mentions.sum().nlargest(5))
''',
    "polars": '''
import polars as pl

quantities = pl.read_parquet("s3://my-bucket/newsflow/processed/quantities/")  # the final / matters
print(quantities.filter(pl.col("kind") == "money").select("text", "currency", "value", "value_usd"))
''',
    "duckdb": '''
import duckdb
import s3fs

con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
con.register_filesystem(s3fs.S3FileSystem())
people = con.sql("""
SELECT d.source, e.canonical, count(*) AS mentions
FROM read_parquet('s3://my-bucket/newsflow/processed/entities/**/*.parquet', hive_partitioning = true) e
JOIN read_parquet('s3://my-bucket/newsflow/processed/documents/**/*.parquet', hive_partitioning = true) d USING (doc_id)
WHERE e.label = 'PERSON'
GROUP BY ALL ORDER BY mentions DESC
""")
print(people)
''',
    "manifest": '''
import json

import pyarrow.parquet as pq
import s3fs

fs = s3fs.S3FileSystem()
processed = "my-bucket/newsflow/processed"  # no s3:// with fs
manifest = json.loads(fs.cat_file(max(fs.glob(f"{processed}/_snapshots/*.json"))))
snapshot = {table: pq.read_table([f"{processed}/{path}" for path in paths], filesystem=fs).to_pandas()
            for table, paths in manifest["files"].items()}
''',
}

# Runs the snippets in a fresh interpreter and saves what they read, for the test to compare.
RUN_SNIPPETS = '''
import json, sys
from pathlib import Path

snippets, out = json.loads(sys.argv[1]), Path(sys.argv[2])
scope = {}
for snippet in snippets.values():
    exec(snippet, scope)
scope["entities"].to_parquet(out / "pandas.parquet")
scope["quantities"].write_parquet(out / "polars.parquet")
(out / "duckdb.json").write_text(json.dumps(scope["people"].fetchall()))
for table, frame in scope["snapshot"].items():
    frame.to_parquet(out / f"manifest-{table}.parquet")
(out / "httpfs.json").write_text(json.dumps(scope["con"].sql(
    "SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'").fetchall()))
'''


def test_the_docs_snippets_for_aws_run_unchanged_against_a_custom_endpoint_in_aws_endpoint_url(
        published: SimpleNamespace, tmp_path: Path):
    """AWS_ENDPOINT_URL (the AWS SDKs' variable) is the one setting all the readers take: pandas
    without storage_options (pyarrow's own S3 client), s3fs (aiobotocore) and Polars' object store."""
    bucket_path = DOCS_PROCESSED.removeprefix("s3://")
    snippets = {name: code.replace(bucket_path, published.url.removeprefix("s3://"))
                for name, code in DOCS_SNIPPETS.items()}
    assert all(bucket_path not in code for code in snippets.values())
    nowhere = str(tmp_path / "no-aws-config")  # the developer's ~/.aws must not redirect the test
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "FSSPEC_"))
           and name.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env |= {name: os.environ[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    env |= {"AWS_ENDPOINT_URL": published.endpoint, "AWS_CONFIG_FILE": nowhere,
            "AWS_SHARED_CREDENTIALS_FILE": nowhere, "AWS_EC2_METADATA_DISABLED": "true"}
    run = subprocess.run([sys.executable, "-c", RUN_SNIPPETS, json.dumps(snippets), str(tmp_path)], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    assert "v2 person" in run.stdout and "PERSON" in run.stdout  # what the snippets print
    expected = published.expected
    assert rows(pd.read_parquet(tmp_path / "pandas.parquet"), "document_entities") == expected_rows(
        expected, "document_entities")
    assert rows(pd.read_parquet(tmp_path / "polars.parquet"), "quantities") == expected_rows(expected, "quantities")
    assert sorted(map(tuple, json.loads((tmp_path / "duckdb.json").read_text()))) == person_mentions(expected)
    for table in PUBLISHED_TABLES:
        manifest_rows = rows(pd.read_parquet(tmp_path / f"manifest-{table}.parquet"), table)
        assert manifest_rows == expected_rows(expected, table), table
    assert json.loads((tmp_path / "httpfs.json").read_text()) == [[False]]
