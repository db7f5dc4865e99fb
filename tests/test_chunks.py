"""Tests for tasks/chunks.py: stable content-defined groups, and per-chunk reuse inside a batch."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tasks.chunks import compute_by_chunk, content_defined_groups, duplicate_group_keys
from tasks.errors import ErrorRecord, errors_table
from tasks.schemas import ERRORS
from tasks.settings import ARROW_SUFFIX

WORDS = pa.schema([("doc_id", pa.string()), ("n_words", pa.int64())])


def _rows(n: int) -> list[dict]:
    return [{"doc_id": hashlib.sha256(f"doc{i}".encode()).hexdigest()[:16], "text": f"word {i} " * (i % 7)}
            for i in range(n)]


class CountingStage:
    """A stage that counts words and rejects empty texts, and records what it was asked to compute."""

    def __init__(self) -> None:
        self.computed: list[str] = []
        self.chunks: list[list[dict]] = []

    def __call__(self, chunks: list[list[dict]]):
        self.chunks += chunks
        for rows in chunks:
            self.computed += [row["doc_id"] for row in rows]
            words = [{"doc_id": row["doc_id"], "n_words": len(row["text"].split())} for row in rows if row["text"]]
            errors = [ErrorRecord("s", "count", "empty", "no words", row["doc_id"]) for row in rows if not row["text"]]
            yield pa.Table.from_pylist(words, schema=WORDS), errors_table(errors)


def _run(rows: list[dict], folder: Path, recipe: str = "count/v1") -> tuple[pa.Table, pa.Table, int, list[str]]:
    stage = CountingStage()
    result = compute_by_chunk(rows, recipe, folder, stage, (WORDS, ERRORS), text_column="text")
    return result.rows, result.errors, result.n_computed, stage.computed


@pytest.mark.parametrize("target", [2, 16, 128])
def test_groups_are_stable_when_an_item_is_added(target: int):
    before = content_defined_groups(_rows(1000), lambda row: row["doc_id"], target)
    after = content_defined_groups(_rows(1001), lambda row: row["doc_id"], target)
    ids = lambda groups: {tuple(row["doc_id"] for row in group) for group in groups}  # noqa: E731
    assert len(ids(before) - ids(after)) <= 2  # the group the new item falls in, rarely the next one
    assert all(len(group) <= 2 * target for group in after)
    assert sorted(row["doc_id"] for group in after for row in group) == sorted(row["doc_id"] for row in _rows(1001))


def test_equal_keys_share_a_group_in_input_order():
    items = [(f"{i:04x}", i) for i in range(100)] + [("0007", 100), ("0007", 101), ("0050", 102)]
    groups = content_defined_groups(items, lambda item: item[0], 4)
    group_of = {item[1]: number for number, group in enumerate(groups) for item in group}
    assert group_of[7] == group_of[100] == group_of[101] and group_of[0x50] == group_of[102]
    assert [item[1] for item in groups[group_of[7]] if item[0] == "0007"] == [7, 100, 101]
    assert sorted(item[1] for group in groups for item in group) == list(range(103))


def test_duplicate_group_keys_name_the_smallest_id_of_each_text():
    keys = duplicate_group_keys(["d", "b", "c", "a", "e"], ["x", "y", "x", "z", "y"])
    assert keys == ["c", "b", "c", "a", "b"]


def test_rows_with_the_same_text_share_a_chunk(tmp_path: Path):
    rows = _rows(200)
    copies = [dict(rows[i], doc_id=f"copy{i:03d}") for i in (3, 50, 120)]
    stage = CountingStage()
    compute_by_chunk(rows + copies, "count/v1", tmp_path, stage, (WORDS, ERRORS), text_column="text")
    chunk_of = {}
    for number, chunk in enumerate(stage.chunks):
        chunk_of.update({row["doc_id"]: number for row in chunk})
    assert all(chunk_of[copy["doc_id"]] == chunk_of[rows[i]["doc_id"]] for copy, i in zip(copies, (3, 50, 120)))
    assert len(chunk_of) == 203


def test_a_second_batch_computes_only_the_chunk_of_the_new_document(tmp_path: Path):
    rows = _rows(200)
    first, first_errors, n_first, computed_first = _run(rows, tmp_path)
    assert n_first == len(computed_first) == 200 and first.num_rows + first_errors.num_rows == 200

    added = _rows(201)
    second, second_errors, n_second, computed_second = _run(added, tmp_path)
    new_id = added[-1]["doc_id"]
    assert computed_second == [new_id] and n_second == 1  # its chunk's other documents are reused
    assert second.num_rows + second_errors.num_rows == 201
    by_id = lambda table: sorted(table.to_pylist(), key=lambda row: row["doc_id"])  # noqa: E731
    assert [row for row in by_id(second) if row["doc_id"] != new_id] == by_id(first)
    assert sorted(second_errors["doc_id"].to_pylist()) == sorted(
        row["doc_id"] for row in added if not row["text"])  # reused chunks keep their error rows


def test_unchanged_rows_compute_nothing_and_a_new_recipe_computes_everything(tmp_path: Path):
    rows = _rows(50)
    _run(rows, tmp_path)
    assert _run(rows, tmp_path)[2] == 0
    assert _run(rows, tmp_path, recipe="count/v2")[2] == 50


def test_a_changed_text_is_recomputed(tmp_path: Path):
    rows = _rows(50)
    _run(rows, tmp_path)
    changed = [dict(row, text="five words in this text") if number == 7 else row for number, row in enumerate(rows)]
    table, _, n_computed, computed = _run(changed, tmp_path)
    assert computed == [rows[7]["doc_id"]] and n_computed == 1
    assert table.filter(pc.equal(table["doc_id"], rows[7]["doc_id"]))["n_words"].to_pylist() == [5]


def test_a_changed_chunk_takes_its_other_documents_and_their_errors_from_the_earlier_chunk(tmp_path: Path):
    rows = _rows(60)
    first, first_errors, _, _ = _run(rows, tmp_path)
    removed = next(number for number, row in enumerate(rows) if row["text"])
    fewer = rows[:removed] + rows[removed + 1:]  # its chunk changes; every other document was computed
    table, errors, n_computed, computed = _run(fewer, tmp_path)
    assert (n_computed, computed) == (0, [])
    without_removed = lambda t: sorted((row["doc_id"], row["n_words"]) for row in t.to_pylist()  # noqa: E731
                                       if row["doc_id"] != rows[removed]["doc_id"])
    assert without_removed(table) == without_removed(first) and table.num_rows == first.num_rows - 1
    assert sorted(errors["doc_id"].to_pylist()) == sorted(first_errors["doc_id"].to_pylist())
    assert {row["doc_id"] for row in rows if not row["text"]} == set(errors["doc_id"].to_pylist())


def test_a_document_whose_earlier_chunk_file_is_gone_is_computed(tmp_path: Path):
    rows = _rows(60)
    _run(rows, tmp_path)
    for chunk_file in tmp_path.glob(f"*{ARROW_SUFFIX}"):
        chunk_file.unlink()
    added = _rows(61)
    _, _, n_computed, computed = _run(added, tmp_path)  # every link points at a missing file
    assert n_computed == 61 and sorted(computed) == sorted(row["doc_id"] for row in added)


def test_an_empty_batch(tmp_path: Path):
    table, errors, n_computed, _ = _run([], tmp_path)
    assert (table.num_rows, errors.num_rows, n_computed) == (0, 0, 0)
    assert table.schema.equals(WORDS) and errors.schema.equals(ERRORS)


def test_a_damaged_chunk_file_is_recomputed(tmp_path: Path):
    rows = _rows(30)
    first = _run(rows, tmp_path)[0]
    damaged = sorted(tmp_path.glob(f"*{ARROW_SUFFIX}"))[0]
    damaged.write_bytes(damaged.read_bytes()[:20])  # a file cut short, as by a power cut before it reached the disk
    table, _, n_computed, _ = _run(rows, tmp_path)
    assert 0 < n_computed < 30
    assert sorted(table.to_pylist(), key=str) == sorted(first.to_pylist(), key=str)


def test_a_chunk_whose_errors_file_is_lost_is_recomputed(tmp_path: Path):
    rows = _rows(30)
    _, first_errors, _, _ = _run(rows, tmp_path)
    assert first_errors.num_rows > 0
    for errors_file in tmp_path.glob(f"*.errors{ARROW_SUFFIX}"):
        errors_file.unlink()
    _, errors, n_computed, _ = _run(rows, tmp_path)
    assert n_computed > 0 and sorted(errors["doc_id"].to_pylist()) == sorted(first_errors["doc_id"].to_pylist())


def test_the_chunk_files_returned_are_the_files_that_hold_the_batch(tmp_path: Path):
    rows = _rows(60)
    first = compute_by_chunk(rows, "count/v1", tmp_path, CountingStage(), (WORDS, ERRORS), text_column="text")
    assert sorted(first.chunk_files) == sorted(str(path) for path in tmp_path.glob(f"*{ARROW_SUFFIX}"))
    assert any(name.endswith(f".errors{ARROW_SUFFIX}") for name in first.chunk_files)
    again = compute_by_chunk(rows, "count/v1", tmp_path, CountingStage(), (WORDS, ERRORS), text_column="text")
    assert again.n_computed == 0 and again.chunk_files == first.chunk_files  # read back, not computed
    added = compute_by_chunk(_rows(61), "count/v1", tmp_path, CountingStage(), (WORDS, ERRORS), text_column="text")
    new_files = set(added.chunk_files) - set(first.chunk_files)
    assert len([name for name in new_files if not name.endswith(f".errors{ARROW_SUFFIX}")]) == 1  # its chunk only
