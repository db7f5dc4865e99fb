"""Fingerprints: every published document's duplicate-search state, kept with each snapshot in
buckets, so that a run reads and writes the buckets it touches and never scans every document.

Two internal tables of each snapshot (tasks/snapshots.py keeps their files like the tables'):

- `fingerprints`: one row per document (FINGERPRINTS: its word hash, MinHash, `duplicate_of`,
  month and `input_sha256`), in the bucket of its raw file (the first two hex digits of the
  file path's sha256). A run reads the buckets of the files it reads or removes: to find a
  changed file's published documents and their inputs (tasks/plan.py), the removed documents,
  and to rewrite them.
- `keys`: the index of the duplicate search, one row per key of a document (KEYS): the 25 LSH
  band keys of its MinHash and a key from its word hash, in the bucket of the key's top 8 bits.
  The documents linked to a change are found by looking up the changed documents' keys, then
  those of the documents found, and so on (linked_documents): a run reads the index buckets of
  the keys involved, not every document's signature.

With BUCKETS = 256, a document added to 27,000 reads and rewrites one fingerprint bucket (about
100 rows) and up to 26 index buckets (about 2,800 keys each); at a million documents, about
4,000 rows and 100,000 keys a bucket. A cold run builds every bucket from its new documents.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasks.duplicates import band_keys, minhash_matrix
from tasks.schemas import CLEAN_DOCUMENTS, DOCUMENTS, one_array
from tasks.snapshots import (
    FILES, MONTH, STATE, Snapshot, document_months, read_parquet, split_rows, write_parquet_file,
)
from tasks.storage import Location

BUCKETS = 256
BUCKET = "bucket"  # the partition column of the bucketed internal tables: bucket=00 ... bucket=ff

FINGERPRINTS = pa.schema([
    pa.field("doc_id", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field(MONTH, pa.string(), nullable=False),
    CLEAN_DOCUMENTS.field("words_sha256"),
    CLEAN_DOCUMENTS.field("text_minhash"),
    DOCUMENTS.field("duplicate_of"),
    CLEAN_DOCUMENTS.field("input_sha256"),
])
KEYS = pa.schema([
    pa.field("key", pa.uint64(), nullable=False),
    pa.field("source", pa.string(), nullable=False),  # the document's (doc_id is a hash of it)
])


def file_bucket(source_file: str) -> str:
    """The fingerprint bucket of a raw file's documents."""
    return hashlib.sha256(source_file.encode("utf-8")).hexdigest()[:2]


def source_files(sources: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The raw file each value of a `source` column comes from (`a.jsonl#line=3` -> `a.jsonl`)."""
    return pc.replace_substring_regex(sources, pattern="#.*$", replacement="")


def _file_buckets(sources: pa.Array | pa.ChunkedArray) -> list[str]:
    return [file_bucket(path) for path in source_files(sources).to_pylist()]


def document_fingerprints(documents: pa.Table) -> pa.Table:
    """The FINGERPRINTS rows of documents as the clean stage wrote them (duplicate_of unset)."""
    columns = {name: documents[name] for name in ("doc_id", "source", "words_sha256", "text_minhash", "input_sha256")}
    columns[MONTH] = document_months(documents)
    columns["duplicate_of"] = pa.nulls(documents.num_rows, pa.string())
    return pa.table(columns).select(FINGERPRINTS.names).cast(FINGERPRINTS)


def document_keys(prints: pa.Table) -> pa.Table:
    """The KEYS rows of these FINGERPRINTS rows: each document's LSH band keys and a key from its
    word hash (a document without words has none; it is never a duplicate)."""
    matrix, present = minhash_matrix(prints["text_minhash"])
    bands = band_keys(matrix[present])
    positions = np.flatnonzero(present)
    digests = prints["words_sha256"].to_pylist()
    with_digest = [number for number, digest in enumerate(digests) if digest is not None]
    digest_keys = np.array([int(digests[number][:16], 16) for number in with_digest], dtype=np.uint64)
    keys = np.concatenate([bands.ravel(), digest_keys])
    owners = np.concatenate([np.repeat(positions, bands.shape[1]), np.array(with_digest, dtype=np.int64)])
    return pa.table({"key": pa.array(keys, pa.uint64()), "source": prints["source"].take(pa.array(owners, pa.int64()))},
                    schema=KEYS)


def _key_buckets(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The index bucket of each key, as a number (the key's top 8 bits)."""
    return (one_array(keys).to_numpy(zero_copy_only=False) >> np.uint64(56)).astype(np.uint8)


def _split_by_number(table: pa.Table, buckets: np.ndarray) -> dict[str, pa.Table]:
    """The rows of `table` by bucket number (named as the bucket folders are: 00 ... ff)."""
    order = np.argsort(buckets, kind="stable")
    numbers, starts = np.unique(buckets[order], return_index=True)
    table = table.take(pa.array(order))
    ends = [*starts[1:].tolist(), len(order)]
    return {f"{number:02x}": table.slice(start, end - start) for number, start, end in zip(numbers.tolist(), starts.tolist(), ends)}


def bucket_of(path: str) -> str:
    """The bucket of a stored file (`_files/_state/keys/bucket=3f/part-x.parquet` -> `3f`)."""
    return path.split(f"/{BUCKET}=", 1)[1].split("/", 1)[0]


class StoredFingerprints:
    """A snapshot's fingerprints and key index (none for None), read bucket by bucket when first
    needed."""

    def __init__(self, location: Location, snapshot: Snapshot | None) -> None:
        self.location = location
        self.paths: dict[str, dict[str, list[str]]] = {"fingerprints": {}, "keys": {}}
        for name, paths in self.paths.items():
            for path in (snapshot.state.get(name, []) if snapshot is not None else []):
                paths.setdefault(bucket_of(path), []).append(path)
        self._read: dict[tuple[str, str], pa.Table] = {}

    def bucket(self, name: str, bucket: str) -> pa.Table:
        """The rows of one bucket of `fingerprints` or `keys`."""
        if (name, bucket) not in self._read:
            schema = FINGERPRINTS if name == "fingerprints" else KEYS
            parts = [read_parquet(self.location, path).cast(schema) for path in self.paths[name].get(bucket, [])]
            self._read[name, bucket] = pa.concat_tables(parts) if parts else schema.empty_table()
        return self._read[name, bucket]

    def of_files(self, files: Iterable[str]) -> pa.Table:
        """The fingerprints of the documents of these raw files."""
        files = sorted(set(files))
        parts = [self.bucket("fingerprints", bucket) for bucket in sorted({file_bucket(path) for path in files})]
        prints = pa.concat_tables(parts) if parts else FINGERPRINTS.empty_table()
        return prints.filter(pc.is_in(source_files(prints["source"]), pa.array(files, pa.string())))

    def of_sources(self, sources: Iterable[str]) -> pa.Table:
        """The fingerprints of these documents (by source)."""
        sources = pa.array(sorted(set(sources)), pa.string())
        prints = self.of_files(source_files(sources).to_pylist())
        return prints.filter(pc.is_in(prints["source"], sources))

    def sources_with_keys(self, keys: pa.Array | pa.ChunkedArray) -> set[str]:
        """The documents (by source) that have any of these keys."""
        found: set[str] = set()
        wanted = pa.table({"key": one_array(keys)})
        for bucket, bucket_keys in _split_by_number(wanted, _key_buckets(wanted["key"])).items():
            if bucket in self.paths["keys"]:
                rows = self.bucket("keys", bucket)
                found.update(rows.filter(pc.is_in(rows["key"], bucket_keys["key"].combine_chunks()))["source"].to_pylist())
        return found


def linked_documents(changed: pa.Table, stored: StoredFingerprints) -> pa.Table:
    """The stored documents' fingerprints linked to `changed` (the FINGERPRINTS rows of the new
    and the removed documents) through a shared key, directly or through other documents; not
    the changed ones. tasks/duplicates.py's find_duplicates decides a document from the documents
    so linked to it, so deciding these and the new ones gives what a run over every document
    gives, and leaves every other document's `duplicate_of` as it is."""
    if not stored.paths["keys"]:  # nothing stored (a cold run or a rebuild): nothing is linked
        return FINGERPRINTS.empty_table()
    seen = set(changed["source"].to_pylist())
    found, frontier = [], changed
    while frontier.num_rows:
        sources = stored.sources_with_keys(document_keys(frontier)["key"]) - seen
        seen |= sources
        frontier = stored.of_sources(sources) if sources else FINGERPRINTS.empty_table()
        found.append(frontier)
    return pa.concat_tables(found) if found else FINGERPRINTS.empty_table()


def write_buckets(stored: StoredFingerprints, name: str, rows_of: Callable[[str], pa.Table],
                  buckets: Iterable[str]) -> list[str]:
    """Write these buckets of `fingerprints` or `keys` (rows_of(bucket): its rows; none: no
    file) under `_files/_state/<name>/`; return their paths and those of the stored files of
    the other buckets: the table's files in the next snapshot."""
    buckets = set(buckets)
    paths = [path for bucket, files in stored.paths[name].items() if bucket not in buckets for path in files]
    for bucket in sorted(buckets):
        rows = rows_of(bucket)
        if rows.num_rows:
            paths.append(write_parquet_file(stored.location, f"{FILES}/{STATE}/{name}/{BUCKET}={bucket}", rows))
    return sorted(paths)


def updated_buckets(stored: StoredFingerprints, gone: pa.Table, new: pa.Table, linked: pa.Table,
                    duplicate_of: dict[str, str | None]) -> dict[str, list[str]]:
    """Write the buckets of `stored` that change when the `gone` documents (FINGERPRINTS rows)
    leave, the `new` ones arrive and the new and `linked` ones' duplicate_of is set as
    `duplicate_of` says; return both tables' files in the next snapshot (the unchanged buckets'
    files are kept)."""
    gone_ids, gone_sources = one_array(gone["doc_id"]), one_array(gone["source"])
    new_by_bucket = split_rows(new, pa.array(_file_buckets(new["source"]), pa.string())) if new.num_rows else {}
    redecided = linked.filter(pc.is_in(linked["doc_id"], pa.array(list(duplicate_of), pa.string())))
    touched = set(_file_buckets(gone["source"])) | set(new_by_bucket) | set(_file_buckets(redecided["source"]))

    def fingerprints_of(bucket: str) -> pa.Table:
        rows = stored.bucket("fingerprints", bucket)
        rows = rows.filter(pc.invert(pc.is_in(rows["doc_id"], gone_ids)))
        rows = pa.concat_tables([rows, new_by_bucket.get(bucket, FINGERPRINTS.empty_table())])
        return with_duplicates(rows, duplicate_of).sort_by([("source", "ascending")])

    gone_keys, new_keys = document_keys(gone), document_keys(new)
    new_keys_by_bucket = _split_by_number(new_keys, _key_buckets(new_keys["key"]))

    def keys_of(bucket: str) -> pa.Table:
        rows = stored.bucket("keys", bucket)
        rows = rows.filter(pc.invert(pc.is_in(rows["source"], gone_sources)))
        rows = pa.concat_tables([rows, new_keys_by_bucket.get(bucket, KEYS.empty_table())])
        return rows.sort_by([("key", "ascending"), ("source", "ascending")])

    return {
        "fingerprints": write_buckets(stored, "fingerprints", fingerprints_of, touched),
        "keys": write_buckets(stored, "keys", keys_of,
                              set(_split_by_number(gone_keys, _key_buckets(gone_keys["key"]))) | set(new_keys_by_bucket)),
    }


def with_duplicates(prints: pa.Table, duplicate_of: dict[str, str | None]) -> pa.Table:
    """Rows (with doc_id and duplicate_of columns) with duplicate_of set from the mapping where
    it names them."""
    if not duplicate_of or not prints.num_rows:
        return prints
    values = [duplicate_of.get(doc_id, old)
              for doc_id, old in zip(prints["doc_id"].to_pylist(), prints["duplicate_of"].to_pylist())]
    column = prints.schema.get_field_index("duplicate_of")
    return prints.set_column(column, prints.schema.field(column), pa.array(values, pa.string()))
