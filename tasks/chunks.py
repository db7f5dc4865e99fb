"""Chunks: content-defined groups of documents, and per-chunk reuse inside a batch.

Prefect caches whole batches (a task run costs 10-80 ms, so batches hold hundreds of documents).
When one article is added, its batch misses Prefect's cache; the stage then splits the batch into
chunks of about CHUNK_TARGET_SIZE documents and reads the chunks it computed in earlier runs from
content-addressed files. In a chunk that changed, each document that an earlier chunk computed
from the same input is taken from that chunk's file (a per-document link points to it), and only
the rest are computed: one new article costs the NER of one article, not of a batch of hundreds
or of the 4 to 16 documents of its chunk.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from tasks.settings import ARROW_SUFFIX, code_fingerprint
from tasks.storage import read_arrow, write_arrow_atomic

CHUNK_TARGET_SIZE = 8

Item = TypeVar("Item")
ChunkResult = tuple[pa.Table, pa.Table]  # a stage's rows and error rows for one chunk


class ChunkedStage(NamedTuple):
    """What compute_by_chunk returns for a batch."""

    rows: pa.Table
    errors: pa.Table
    n_computed: int  # documents computed (not reused)
    chunk_files: tuple[str, ...]  # the chunk files holding these results: the cache sweep keeps them


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
    the smallest of their ids, so that exact duplicates fall in one group (where NER parses their
    text once: news corpora repeat syndicated articles, and BBC's has 98 copies)."""
    smallest: dict[str, str] = {}
    for id_, text in zip(ids, texts):
        if text not in smallest or id_ < smallest[text]:
            smallest[text] = id_
    return [smallest[text] for text in texts]


def groups_with_copies_together(
    items: Sequence[Item], doc_id: Callable[[Item], str], text: Callable[[Item], str], target_size: int
) -> list[list[Item]]:
    """content_defined_groups on doc_id, except that items with the same text share a group
    (keyed by the smallest doc_id among them, see duplicate_group_keys)."""
    items = sorted(items, key=doc_id)
    ids = [doc_id(item) for item in items]
    group_key = dict(zip(ids, duplicate_group_keys(ids, [text(item) for item in items])))
    return content_defined_groups(items, lambda item: group_key[doc_id(item)], target_size)


def _row_digest(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, default=str, sort_keys=True).encode("utf-8")).hexdigest()


def chunk_key(recipe: str, rows: list[dict]) -> str:
    """The name of a chunk's files: its input rows, the stage and its parameters (`recipe`), and
    the code that computes it."""
    digest = hashlib.sha256(f"{recipe}\0{code_fingerprint()}".encode())
    for row in rows:
        digest.update(_row_digest(row).encode())
    return digest.hexdigest()


def document_key(recipe: str, row: dict) -> str:
    """The name of a document's link to the chunk file that holds its results: its input row,
    the recipe and the code, as for a chunk."""
    return hashlib.sha256(f"{recipe}\0{code_fingerprint()}\0{_row_digest(row)}".encode()).hexdigest()


ERROR_COUNT_KEY = b"newsflow.chunk_errors"  # in the rows file's metadata: the errors it must have beside it


def _chunk_paths(folder: Path, key: str) -> tuple[Path, Path]:
    """A chunk's rows file and errors file (the errors file exists only when there are errors)."""
    return folder / f"{key}{ARROW_SUFFIX}", folder / f"{key}.errors{ARROW_SUFFIX}"


def _read_chunk(folder: Path, key: str, errors_schema: pa.Schema) -> ChunkResult | None:
    """The chunk's rows and errors from its files; None when they are missing or incomplete
    (chunks are written without fsync, so a power cut can leave a file cut short)."""
    rows_path, errors_path = _chunk_paths(folder, key)
    if not rows_path.is_file():
        return None
    try:
        rows = read_arrow(rows_path)
        n_errors = int((rows.schema.metadata or {}).get(ERROR_COUNT_KEY, 0))
        errors = read_arrow(errors_path) if n_errors else errors_schema.empty_table()
    except (pa.ArrowInvalid, FileNotFoundError):
        return None
    return (rows, errors) if errors.num_rows == n_errors else None


def _write_chunk(folder: Path, key: str, result: ChunkResult) -> None:
    rows, errors = result
    rows_path, errors_path = _chunk_paths(folder, key)
    # The errors file (only when there are errors) is written first, and the rows file records
    # how many errors it has. No fsync: hundreds of small files would wait on the disk, and a
    # chunk lost to a power cut is recomputed.
    if errors.num_rows:
        write_arrow_atomic(errors, errors_path)
    metadata = (rows.schema.metadata or {}) | {ERROR_COUNT_KEY: str(errors.num_rows).encode()}
    write_arrow_atomic(rows.replace_schema_metadata(metadata), rows_path)


def _files_of_chunks(folder: Path, keys: list[str], results: list[ChunkResult]) -> tuple[str, ...]:
    """The files that hold these chunks' results."""
    files: list[str] = []
    for key, (_, errors) in zip(keys, results):
        rows_path, errors_path = _chunk_paths(folder, key)
        files += [str(rows_path), str(errors_path)] if errors.num_rows else [str(rows_path)]
    return tuple(files)


CHUNKS_FOLDER = "chunks"  # in each stage's folder under work/: the chunk files
LINKS_FOLDER = "documents"  # beside the chunk files: document_key -> ../<chunk key>.arrow


def _link_documents(folder: Path, document_keys: list[str], key: str) -> None:
    """Point the documents' links at the chunk file `key`, which holds their results."""
    links = folder / LINKS_FOLDER
    links.mkdir(exist_ok=True)
    for document in document_keys:
        link = links / document
        temporary = link.with_name(f".{link.name}.tmp")
        temporary.unlink(missing_ok=True)
        os.symlink(f"../{key}{ARROW_SUFFIX}", temporary)
        os.replace(temporary, link)  # atomic: a reader sees the old link or the new one


def _by_document(result: ChunkResult, doc_ids: Iterable[str]) -> dict[str, ChunkResult]:
    """The rows and error rows of each of these documents in a chunk's result."""
    rows, errors = result
    if errors["doc_id"].null_count:
        raise ValueError("a stage's error row has no doc_id: its chunk cannot be split by document")
    return {doc_id: (rows.filter(pc.equal(rows["doc_id"], doc_id)), errors.filter(pc.equal(errors["doc_id"], doc_id)))
            for doc_id in doc_ids}


def _computed_earlier(
    folder: Path, rows: list[dict], document_keys: list[str], errors_schema: pa.Schema
) -> dict[str, ChunkResult]:
    """The results of the documents among `rows` (with these document_keys) that an earlier
    chunk computed from the same input, by doc_id, read from that chunk's file (each file once)."""
    wanted: dict[str, list[str]] = {}  # chunk key -> doc_ids
    for row, document in zip(rows, document_keys):
        try:
            target = os.readlink(folder / LINKS_FOLDER / document)
        except OSError:  # no link: never computed with this input and code
            continue
        wanted.setdefault(Path(target).name.removesuffix(ARROW_SUFFIX), []).append(row["doc_id"])
    found: dict[str, ChunkResult] = {}
    for key, doc_ids in wanted.items():
        result = _read_chunk(folder, key, errors_schema)
        if result is not None:
            found |= _by_document(result, doc_ids)
    return found


def _in_document_order(
    rows: list[dict], per_document: dict[str, ChunkResult], schemas: tuple[pa.Schema, pa.Schema]
) -> ChunkResult:
    """One chunk's result from its documents' results, in the chunk's order (as if computed together)."""
    parts = [per_document[row["doc_id"]] for row in rows]
    return tuple(pa.concat_tables([schema.empty_table()] + [part[side].cast(schema) for part in parts])
                 for side, schema in enumerate(schemas))


def compute_by_chunk(
    rows: list[dict],
    recipe: str,
    folder: Path,
    compute: Callable[[list[list[dict]]], Iterable[ChunkResult]],
    schemas: tuple[pa.Schema, pa.Schema],
    text_column: str,
) -> ChunkedStage:
    """A stage's rows and error rows for a batch, reusing what was computed before.

    The rows are grouped by doc_id into chunks (rows with the same `text_column` in one chunk,
    see groups_with_copies_together). A chunk with a file in `folder` is read; in a chunk
    without one, the documents an earlier chunk computed are read from its file, and `compute`
    gets the other documents of every such chunk in one call (so that it can spread them over
    processes) and returns their results in order. A document's results must not depend on the
    other documents of its chunk, and every error row must name its doc_id. Returns the rows,
    the errors, how many documents were computed, and the chunk files that hold the results.
    """
    rows_schema, errors_schema = schemas
    chunks = groups_with_copies_together(rows, itemgetter("doc_id"), itemgetter(text_column), CHUNK_TARGET_SIZE)
    keys = [chunk_key(recipe, chunk) for chunk in chunks]
    results = [_read_chunk(folder, key, errors_schema) for key in keys]
    missing = [number for number, result in enumerate(results) if result is None]
    document_keys = {number: [document_key(recipe, row) for row in chunks[number]] for number in missing}
    earlier = {number: _computed_earlier(folder, chunks[number], document_keys[number], errors_schema)
               for number in missing}
    new_rows = {number: [row for row in chunks[number] if row["doc_id"] not in earlier[number]] for number in missing}
    to_compute = [number for number in missing if new_rows[number]]
    computed = dict(zip(to_compute, compute([new_rows[number] for number in to_compute])))
    for number in missing:
        if earlier[number]:
            new_documents = (_by_document(computed[number], [row["doc_id"] for row in new_rows[number]])
                             if number in computed else {})
            result = _in_document_order(chunks[number], earlier[number] | new_documents, schemas)
        else:
            result = computed[number]
        _write_chunk(folder, keys[number], result)
        _link_documents(folder, document_keys[number], keys[number])
        results[number] = result
    rows_table = pa.concat_tables([rows_schema.empty_table()] + [result[0].cast(rows_schema) for result in results])
    errors_table = pa.concat_tables([errors_schema.empty_table()] + [result[1].cast(errors_schema) for result in results])
    n_computed = sum(len(new_rows[number]) for number in missing)
    return ChunkedStage(rows_table, errors_table, n_computed, _files_of_chunks(folder, keys, results))
