"""Tests for tasks/listing.py: the raw folder's listing and the key ingest is cached on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from prefect.utilities.collections import visit_collection
from prefect.utilities.hashing import hash_objects  # what the INPUTS cache policy uses

from tasks.listing import SourceFile, SourceListing, discover_sources, ingest_will_run, sources_key
from tests.conftest import heavy_imports

VERSION = "newsflow-test/model-1"


def test_the_listing_module_imports_neither_prefect_nor_pyarrow():
    """The command line reads the listing before it imports them (flows/__main__.py)."""
    assert heavy_imports("tasks.listing") == []


def test_listing_is_sorted_and_skips_hidden_files_and_folders(tmp_path: Path):
    for name in ["b.txt", "a/c.txt", ".hidden.txt", ".git/config", "a/.d.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("text")
    (tmp_path / "link.txt").symlink_to(tmp_path / "b.txt")
    assert [source.relpath for source in discover_sources(tmp_path)] == ["a/c.txt", "b.txt", "link.txt"]


def test_a_folder_that_cannot_be_listed_raises_rather_than_losing_its_articles(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        discover_sources(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("not a folder")
    with pytest.raises(NotADirectoryError):
        discover_sources(tmp_path / "file.txt")


def test_ingest_will_run_until_a_snapshot_holds_the_listing_and_again_after_any_change(tmp_path: Path):
    raw, processed = tmp_path / "raw", tmp_path / "processed"
    raw.mkdir()
    (raw / "a.txt").write_text("Acme Corp hired Jane Doe.")
    listing = discover_sources(raw)
    assert ingest_will_run(processed, listing, VERSION)
    (processed / "_snapshots").mkdir(parents=True)
    # as a run leaves it (tasks/snapshots.py), and a newer manifest that is being written
    (processed / "_snapshots" / "000000000001.json").write_text(
        json.dumps({"format": 2, "listing_key": sources_key(listing, VERSION)}))
    (processed / "_snapshots" / "000000000002.json").write_text('{"format": 2, "listing_')
    assert not ingest_will_run(processed, discover_sources(raw), VERSION)
    assert ingest_will_run(processed, listing, "newsflow-test/model-2")  # a new pipeline version

    os.utime(raw / "a.txt", ns=(0, 0))  # same size and content, another mtime
    assert ingest_will_run(processed, discover_sources(raw), VERSION)
    (raw / "b.txt").write_text("Added.")
    assert ingest_will_run(processed, discover_sources(raw), VERSION)


def test_prefect_sees_the_listing_as_one_value_and_hashes_every_file_in_it():
    listing = SourceListing([SourceFile("a.txt", 10, "1"), SourceFile("b.txt", 20, "2")])
    visited = []
    visit_collection({"sources": listing}, visit_fn=lambda expr: visited.append(expr) or expr)
    assert listing in visited and not any(isinstance(expr, SourceFile) for expr in visited)
    touched = SourceListing([SourceFile("a.txt", 10, "1"), SourceFile("b.txt", 20, "3")])
    same = SourceListing([SourceFile("a.txt", 10, "1"), SourceFile("b.txt", 20, "2")])
    assert hash_objects(listing, raise_on_failure=True) == hash_objects(same, raise_on_failure=True)
    assert hash_objects(listing, raise_on_failure=True) != hash_objects(touched, raise_on_failure=True)
