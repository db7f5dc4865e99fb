"""Tests for tasks/stage_files.py: the Arrow files the stages hand to each other."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from tasks.errors import errors_table
from tasks.schemas import DOCUMENTS
from tasks.stage_files import read_arrow, write_stage_output
from tasks.storage import Location


def test_equal_tables_give_equal_stage_output_files_however_they_were_assembled(tmp_path: Path):
    # Downstream cache keys follow the files' hashes: a table assembled from pieces must hash as
    # it does when it was built in one piece.
    whole = pa.table({"doc_id": ["a", "b", "c", "d"], "n": [1, 2, 3, 4]})
    pieces = pa.concat_tables([whole.slice(0, 1), whole.slice(1, 2), whole.slice(3)])
    assert pieces.column("n").num_chunks == 3
    errors = pa.table({"doc_id": pa.array([], pa.string())})
    first = write_stage_output(whole, errors, Location(tmp_path / "one"), "stage", "batch")
    second = write_stage_output(pieces, errors, Location(tmp_path / "two"), "stage", "batch")
    assert first.content_sha256 == second.content_sha256 and second.is_intact()
    assert read_arrow(second.path).equals(whole) and read_arrow(second.path, ["n"]).column_names == ["n"]


def test_a_damaged_stage_output_is_not_intact(tmp_path: Path):
    output = write_stage_output(pa.table({"n": [1, 2, 3]}), pa.table({"n": pa.array([], pa.int64())}),
                                Location(tmp_path), "stage", "b")
    path = Path(output.path)
    path.write_bytes(path.read_bytes()[:-8])  # cut short, as by a power cut (stage outputs skip fsync)
    assert not output.is_intact()
    path.unlink()
    assert not output.is_intact()


def test_stage_outputs_are_content_addressed_and_leave_no_temporary_files(tmp_path: Path):
    table = pa.Table.from_pylist([], schema=DOCUMENTS)
    first = write_stage_output(table, errors_table([]), Location(tmp_path), "clean", "x")
    again = write_stage_output(table, errors_table([]), Location(tmp_path), "clean", "x")
    assert first == again and first.is_intact()
    assert Path(first.path).parent == tmp_path / "clean"
    assert not [p for p in (tmp_path / "clean").iterdir() if p.name.startswith(".")]


def test_stage_outputs_on_object_storage_are_urls_that_read_back(s3_bucket: str):
    table = pa.table({"doc_id": ["a", "b"], "n": [1, 2]})
    output = write_stage_output(table, pa.table({"doc_id": pa.array([], pa.string())}),
                                Location(f"{s3_bucket}/stage-files/work"), "clean", "x")
    assert output.path.startswith(f"{s3_bucket}/stage-files/work/clean/") and output.is_intact()
    assert read_arrow(output.path).equals(table)
    Location(s3_bucket).delete([Location(s3_bucket).relative(output.path)])
    assert not output.is_intact()
