"""Tests for tasks/clean.py."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from tasks.clean import clean_batch, clean_text, headline


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("plain text", "plain text"),
        ("CafÃ© owner", "Café owner"),  # mojibake (UTF-8 read as cp1252)
        ("“Quoted” and ‘single’", "\"Quoted\" and 'single'"),
        ("AT&amp;T &lt;b&gt; &#36;5", "AT&T <b> $5"),
        ("ｆｕｌｌ－ｗｉｄｔｈ １２３％", "full-width 123%"),
        ("area 5 m² and ½ cup", "area 5 m² and ½ cup"),  # NFKC would change meaning: kept
        ("no\u00a0break\u200bzero width", "no breakzero width"),
        ("phones. [Photo/Xinhua] Country seeks", "phones. Country seeks"),
        ("a (Photo: Reuters) b [Photo by Zhang Wei/China Daily] c", "a b c"),
        ("  spaced \t out  \r\n\r\n\r\n\r\nnext  ", "spaced out\n\nnext"),
        ("control\x07char", "controlchar"),
    ],
)
def test_clean_text(raw: str, clean: str):
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    "text, title",
    [
        ("Ad sales boost Time Warner profit\n\nQuarterly profits at US media giant...", "Ad sales boost Time Warner profit"),
        ("One paragraph only, no headline.", None),
        ("A sentence that ends.\nAnother line.", None),
    ],
)
def test_headline(text: str, title: str | None):
    assert headline(text) == title


def test_seed_loses_the_caption_credit_but_keeps_offsets_consistent(seed_text: str):
    text = clean_text(seed_text)
    assert "[Photo/Xinhua]" not in text
    assert "mobile phones. Country seeks" in text
    assert "Editor's Note" in text  # curly apostrophe straightened


def test_clean_batch_dates_and_errors():
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    row = dict(doc_id="d1", source="a.txt", title=None, published_date=None, url=None, publisher=None,
               language=None, encoding="utf-8", content_sha256="h", raw_text="14:20, November 18, 2020 Body text.")
    empty = dict(row, doc_id="d2", source="b.txt", raw_text="\u200b\u200b")
    documents, errors = clean_batch([row, empty])
    [document] = documents
    assert (document.published_date, document.date_source) == (date(2020, 11, 18), "dateline")
    assert document.processed_at > now
    assert [(e.source, e.stage, e.error_type) for e in errors] == [("b.txt", "clean", "empty_after_cleaning")]
