"""Tests for tasks/ingest.py: discovery, decoding, metadata, JSONL, batching."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from tasks.ingest import (
    RawDocument,
    decode_bytes,
    discover_sources,
    doc_id_for,
    group_into_batches,
    ingest_sources,
    InputError,
)

ARTICLE = "Shares in Acme rose 5% on Monday after the firm reported record profits."


def ingest(raw: Path, max_bytes: int = 10_000_000):
    return ingest_sources(raw, discover_sources(raw), max_bytes)


def errors_by_source(errors) -> dict[str, str]:
    return {error.source: error.error_type for error in errors}


@pytest.mark.parametrize(
    "data, text, encoding",
    [
        (ARTICLE.encode("utf-8"), ARTICLE, "utf-8"),
        ("\ufeff" .encode("utf-8") + b"caf\xc3\xa9", "café", "utf-8-sig"),
        ("Café prices rose 5%".encode("utf-16"), "Café prices rose 5%", "utf-16"),
        ("Prices “rose” in the café, said the manager’s report on the euro’s fall.".encode("cp1252"),
         "Prices “rose” in the café, said the manager’s report on the euro’s fall.", None),
        ("中国去年研发经费投入2.44万亿元，比上年增长百分之十。这是一个很长的句子用于检测编码。".encode("gb18030"),
         "中国去年研发经费投入2.44万亿元，比上年增长百分之十。这是一个很长的句子用于检测编码。", None),
    ],
)
def test_decode_bytes(data: bytes, text: str, encoding: str | None):
    decoded, found = decode_bytes(data)
    assert decoded == text
    if encoding:
        assert found == encoding


@pytest.mark.parametrize(
    "data, error_type",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary_file"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "binary_file"),
        (b"text with a \x00 NUL byte", "binary_file"),
    ],
)
def test_decode_bytes_rejects_binary(data: bytes, error_type: str):
    with pytest.raises(InputError) as raised:
        decode_bytes(data)
    assert raised.value.error_type == error_type


def test_text_file_with_sidecar_metadata(tmp_path: Path):
    (tmp_path / "a.txt").write_text(ARTICLE)
    (tmp_path / "a.meta.json").write_text(json.dumps(
        {"title": "Acme soars", "published": "2021-12-07T10:00:00Z", "url": "https://x.test/a", "source": "Wire"}
    ))
    documents, errors = ingest(tmp_path)
    assert errors == []
    [document] = documents
    assert (document.source, document.title, document.published_date, document.url, document.publisher) == (
        "a.txt", "Acme soars", date(2021, 12, 7), "https://x.test/a", "Wire"
    )
    assert document.doc_id == doc_id_for("a.txt")


@pytest.mark.parametrize(
    "sidecar, message_part",
    [("{not json", "sidecar ignored"), (json.dumps({"published": "yesterday"}), "sidecar ignored"),
     (json.dumps(["a list"]), "JSON object")],
)
def test_bad_sidecar_keeps_the_article(tmp_path: Path, sidecar: str, message_part: str):
    (tmp_path / "a.txt").write_text(ARTICLE)
    (tmp_path / "a.meta.json").write_text(sidecar)
    documents, errors = ingest(tmp_path)
    assert [doc.source for doc in documents] == ["a.txt"]
    assert [(e.source, e.error_type) for e in errors] == [("a.meta.json", "invalid_metadata")]
    assert message_part in errors[0].message


def test_jsonl_keeps_good_lines_and_reports_bad_ones(tmp_path: Path):
    lines = [
        json.dumps({"id": "a1", "text": ARTICLE, "published": "2020-11-18", "title": "A"}),
        "{broken json",
        "",
        json.dumps({"title": "no text"}),
        json.dumps({"text": 42}),
        json.dumps({"text": ARTICLE + " Again."}),
        json.dumps({"id": "a1", "text": "Same id twice."}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"text": "   "}),
    ]
    (tmp_path / "feed.jsonl").write_text("\n".join(lines) + "\n")
    documents, errors = ingest(tmp_path)
    assert [doc.source for doc in documents] == ["feed.jsonl#id=a1", "feed.jsonl#line=6"]
    assert documents[0].published_date == date(2020, 11, 18)
    assert errors_by_source(errors) == {
        "feed.jsonl#line=2": "invalid_json",
        "feed.jsonl#line=4": "missing_text",
        "feed.jsonl#line=5": "missing_text",
        "feed.jsonl#line=7": "duplicate_id",
        "feed.jsonl#line=8": "invalid_record",
        "feed.jsonl#line=9": "empty_document",
    }


def test_every_input_is_a_document_or_an_error(tmp_path: Path):
    (tmp_path / "good.md").write_text(ARTICLE)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("  \n\t\n")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "big.txt").write_text("x" * 2000)
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "lonely.meta.json").write_text("{}")
    (tmp_path / "sub dir").mkdir()
    (tmp_path / "sub dir" / "-dash ü.txt").write_text(ARTICLE)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text(ARTICLE)
    (tmp_path / "link.txt").symlink_to(outside)
    (tmp_path / ".hidden.txt").write_text(ARTICLE)

    documents, errors = ingest(tmp_path, max_bytes=1000)
    assert sorted(doc.source for doc in documents) == ["good.md", "sub dir/-dash ü.txt"]
    assert errors_by_source(errors) == {
        "empty.txt": "empty_document",
        "blank.txt": "empty_document",
        "image.txt": "binary_file",
        "big.txt": "file_too_large",
        "notes.pdf": "unsupported_file_type",
        "lonely.meta.json": "orphan_metadata",
        "link.txt": "symlink_ignored",
    }


def test_unreadable_file_is_an_error_row(tmp_path: Path):
    (tmp_path / "a.txt").write_text(ARTICLE)
    sources = discover_sources(tmp_path)
    (tmp_path / "a.txt").unlink()  # disappears between discovery and reading
    documents, errors = ingest_sources(tmp_path, sources, 1000)
    assert documents == []
    assert errors_by_source(errors) == {"a.txt": "unreadable"}


def _documents(n: int) -> list[RawDocument]:
    return [RawDocument(doc_id_for(f"doc{i}.txt"), f"doc{i}.txt", "text", "h", "utf-8") for i in range(n)]


def test_batches_are_stable_when_a_document_is_added():
    before = group_into_batches(_documents(300), target_size=16)
    after = group_into_batches(_documents(301), target_size=16)
    ids = lambda batches: {tuple(doc.doc_id for doc in batch) for batch in batches}  # noqa: E731
    assert 10 <= len(before) <= 40
    assert len(ids(before) - ids(after)) <= 1
    assert sum(len(batch) for batch in after) == 301
