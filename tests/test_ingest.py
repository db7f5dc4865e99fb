"""Tests for tasks/ingest.py: discovery, decoding, metadata, JSONL, batching."""

from __future__ import annotations

import hashlib
import json
import socket
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from tasks.encodings import decode_bytes
from tasks.errors import InputError
from tasks.ingest import (
    RawDocument,
    content_defined_groups,
    count_inputs,
    doc_id_for,
    duplicate_group_keys,
    group_into_batches,
    ingest_sources,
    split_unchanged,
    with_input_sha256,
    write_batches,
)
from tasks.listing import discover_sources
from tasks.stage_files import read_arrow
from tasks.storage import Location

ARTICLE = "Shares in Acme rose 5% on Monday after the firm reported record profits."


def ingest(raw: Path | str, max_bytes: int = 10_000_000):
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
    decoded, found, doubtful = decode_bytes(data)
    assert decoded == text
    assert not doubtful
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


def test_the_same_files_read_from_s3_give_the_same_documents_and_errors(tmp_path: Path, s3_bucket: str):
    raw = tmp_path / "raw"
    (raw / "sub dir").mkdir(parents=True)
    files = {
        "good.md": ARTICLE.encode(), "empty.txt": b"", "blank.txt": b"  \n\t\n", "image.txt": b"\x89PNG\r\n\x00",
        "big.txt": b"x" * 2000, "notes.pdf": b"%PDF-1.4", "lonely.meta.json": b"{}", ".hidden.txt": ARTICLE.encode(),
        "sub dir/-dash \u00fc.txt": "Le caf\u00e9 a gagn\u00e9 5 %.".encode("cp1252"),
        "sub dir/-dash \u00fc.meta.json": json.dumps({"title": "Caf\u00e9", "published": "2021-03-04"}).encode(),
        "page.html": b"<html><head><title>Acme</title></head><body><article><p>" + ARTICLE.encode() * 3
                     + b"</p></article></body></html>",
        "feed.jsonl": b'{"id": "a", "text": "Acme rose 5%."}\nnot json\n\n{"text": ""}\n',
    }
    bucket = Location(f"{s3_bucket}/ingest-{tmp_path.name}")
    for relative, data in files.items():
        (raw / relative).write_bytes(data)
        bucket.write_bytes(relative, data)
    (disk_documents, disk_errors), (s3_documents, s3_errors) = (ingest(raw, max_bytes=1000),
                                                                 ingest(bucket.url, max_bytes=1000))
    assert s3_documents == disk_documents and len(disk_documents) == 4

    def reasons(errors):  # (not recorded_at: when)
        return [(error.source, error.error_type, error.message) for error in errors]

    assert reasons(s3_errors) == reasons(disk_errors) and len(disk_errors) == 8
    assert count_inputs(bucket.url, discover_sources(bucket.url)) == count_inputs(raw, discover_sources(raw)) == 12


def test_unreadable_file_is_an_error_row(tmp_path: Path):
    (tmp_path / "a.txt").write_text(ARTICLE)
    sources = discover_sources(tmp_path)
    (tmp_path / "a.txt").unlink()  # disappears between discovery and reading
    documents, errors = ingest_sources(tmp_path, sources, 1000)
    assert documents == []
    assert errors_by_source(errors) == {"a.txt": "unreadable"}


def _documents(n: int) -> list[RawDocument]:
    return [with_input_sha256(RawDocument(doc_id_for(f"doc{i}.txt"), f"doc{i}.txt", f"text {i}", "h", "utf-8"))
            for i in range(n)]


def test_batches_are_stable_when_a_document_is_added():
    before = group_into_batches(_documents(300), target_size=16)
    after = group_into_batches(_documents(301), target_size=16)
    ids = lambda batches: {tuple(doc.doc_id for doc in batch) for batch in batches}  # noqa: E731
    assert 10 <= len(before) <= 40
    assert len(ids(before) - ids(after)) <= 1
    assert sum(len(batch) for batch in after) == 301


def test_exact_duplicates_share_a_batch():
    documents = [RawDocument(doc_id_for(f"doc{i}.txt"), f"doc{i}.txt", f"text {i % 100}", "h", "utf-8")
                 for i in range(300)]  # each text three times
    batches = group_into_batches(documents, target_size=16)
    assert len(batches) > 5
    batch_of = {doc.doc_id: number for number, batch in enumerate(batches) for doc in batch}
    for i in range(100):
        assert len({batch_of[doc_id_for(f"doc{i + copy}.txt")] for copy in (0, 100, 200)}) == 1


def test_new_batches_come_first(tmp_path: Path):
    first, n_new = write_batches(_documents(300), target_size=32, work=Location(tmp_path))
    assert n_new == len(first) > 3
    documents = _documents(300) + [with_input_sha256(RawDocument(doc_id_for("late.txt"), "late.txt", "late news", "h",
                                                                 "utf-8"))]
    second, n_new = write_batches(documents, target_size=32, work=Location(tmp_path))
    assert n_new == 1
    assert second[0] not in first and set(second[1:]) <= set(first)
    assert "late.txt" in read_arrow(second[0].path)["source"].to_pylist()


# A saved news page as a newsroom's scraper keeps it: site menu, script, share buttons, a
# comment section and a related-articles list around the article, metadata in the head.
HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Acme profits soar - Daily Wire</title>
<meta property="og:site_name" content="Daily Wire">
<meta property="article:published_time" content="2021-03-04T10:00:00Z">
<link rel="canonical" href="https://wire.example/business/acme-profits">
<script>DD_belatedPNG.fix('div, ul, img');</script>
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li><li><a href="/business">Business</a></li></ul></nav>
<div class="share">Share on Facebook Share on Twitter</div>
<article>
<h1>Acme profits soar</h1>
<p>LONDON, March 4 (Wire) -- Acme Corp said on Thursday that quarterly profits rose 5% to $10m,
beating the forecasts of every analyst who follows the company.</p>
<p>The chief executive, Jane Doe, said demand had been strong across all of its markets and that
the firm would hire 200 more engineers in Manchester this year.</p>
</article>
<section id="comments"><h2>Comments</h2><p>Add your comment. Great news for Acme, up 50%!</p></section>
<aside><h3>Related reading</h3><ul><li><a href="/a">Rival shares fall 12% on profit warning</a></li></ul></aside>
<footer>&copy; 2021 Daily Wire | About us | Contact</footer>
</body></html>
"""


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("ingest tried to open a network connection")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_html_page_gives_main_text_and_page_metadata_without_network(tmp_path: Path, monkeypatch):
    _no_network(monkeypatch)
    (tmp_path / "acme.html").write_text(HTML_PAGE, encoding="utf-8")
    documents, errors = ingest(tmp_path)
    assert errors == []
    [document] = documents
    assert (document.title, document.published_date, document.url, document.publisher, document.encoding) == (
        "Acme profits soar", date(2021, 3, 4), "https://wire.example/business/acme-profits", "Daily Wire", "utf-8")
    assert "quarterly profits rose 5% to $10m" in document.raw_text
    assert "hire 200 more engineers in Manchester this year." in document.raw_text
    for chrome in ("DD_belatedPNG", "Share on Facebook", "Add your comment", "Rival shares fall", "Contact", "Home"):
        assert chrome not in document.raw_text


def test_html_sidecar_wins_and_htm_is_html(tmp_path: Path):
    (tmp_path / "acme.htm").write_text(HTML_PAGE, encoding="utf-8")
    (tmp_path / "acme.meta.json").write_text(json.dumps({"published": "2021-03-05", "source": "Newsroom copy"}))
    (tmp_path / "bare.html").write_text("<html><body><article><p>" + ARTICLE + "</p></article></body></html>")
    documents, errors = ingest(tmp_path)
    assert errors == []
    acme, bare = documents
    assert (acme.title, acme.published_date, acme.publisher) == ("Acme profits soar", date(2021, 3, 5), "Newsroom copy")
    assert (bare.source, bare.raw_text.strip(), bare.title, bare.published_date, bare.url) == (
        "bare.html", ARTICLE, None, None, None)


@pytest.mark.parametrize("markup", ["", "<html><head><title>Only a title</title></head><body></body></html>",
                                    "<html><body><script>var a = 1;</script></body></html>"])
def test_html_page_without_text_is_an_empty_document(tmp_path: Path, markup: str):
    (tmp_path / "empty.html").write_text(markup)
    (tmp_path / "empty.meta.json").write_text(json.dumps({"title": "Kept as metadata"}))
    documents, errors = ingest(tmp_path)
    assert documents == []
    assert errors_by_source(errors) == {"empty.html": "empty_document"}
    assert count_inputs(tmp_path, discover_sources(tmp_path)) == 1  # the sidecar belongs to the page


def _hashed_rows(n: int) -> list[dict]:
    return [{"doc_id": hashlib.sha256(f"doc{i}".encode()).hexdigest()[:16]} for i in range(n)]


@pytest.mark.parametrize("target", [2, 16, 128])
def test_groups_are_stable_when_an_item_is_added(target: int):
    before = content_defined_groups(_hashed_rows(1000), lambda row: row["doc_id"], target)
    after = content_defined_groups(_hashed_rows(1001), lambda row: row["doc_id"], target)
    ids = lambda groups: {tuple(row["doc_id"] for row in group) for group in groups}  # noqa: E731
    assert len(ids(before) - ids(after)) <= 2  # the group the new item falls in, rarely the next one
    assert all(len(group) <= 2 * target for group in after)
    assert sorted(row["doc_id"] for group in after for row in group) == sorted(row["doc_id"] for row in _hashed_rows(1001))


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


def test_a_document_is_unchanged_only_when_its_whole_input_is():
    first = with_input_sha256(RawDocument("a", "a.txt", "text", "sha-1", "utf-8", title="Title"))
    retitled = with_input_sha256(replace(first, title="Another"))
    rewritten = with_input_sha256(replace(first, raw_text="other", content_sha256="sha-2"))
    assert len({first.input_sha256, retitled.input_sha256, rewritten.input_sha256}) == 3
    assert with_input_sha256(first) == first  # the hash does not include itself
    published = {"a": first.input_sha256, "b": "something else"}
    other = with_input_sha256(RawDocument("b", "b.txt", "text", "sha-1", "utf-8"))
    new = with_input_sha256(RawDocument("c", "c.txt", "text", "sha-1", "utf-8"))
    assert split_unchanged([first, other, new], published) == ([other, new], ["a"])
    assert split_unchanged([retitled], published) == ([retitled], [])
