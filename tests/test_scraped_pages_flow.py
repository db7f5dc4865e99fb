"""End to end: scraped text pages, an HTML page, a video page and duplicate copies through the real flow."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from flows.news_pipeline import news_pipeline
from tests.test_clean_scrapes import EXCERPT
from tests.test_ingest import HTML_PAGE

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.e2e]

VIDEO_PAGE = (
    "Vlog: Consumer goods at CIIE redefines market - People's Daily Online DD_belatedPNG.fix('div, ul'); "
    "Thursday, Nov 12, 2020 Search Archive Chinese Japanese French Home Opinions Business World English &gt;&gt; "
    "Vlog: Consumer goods at CIIE redefines market ( People's Daily Online ) 14:36, November 12, 2020 "
    "(For the latest China news, Please follow People's Daily on Twitter and Facebook ) "
    "(Web editor: Liu Ning, Bianji) Add your comment Most Read 1 Exports up 31.5 percent"
)


def test_scraped_pages_through_the_flow(tmp_path: Path):
    raw = tmp_path / "raw"
    (raw / "saved-again").mkdir(parents=True)
    shutil.copy(EXCERPT, raw / "page.txt")
    shutil.copy(EXCERPT, raw / "saved-again" / "page.txt")  # the same page saved twice
    (raw / "acme.html").write_text(HTML_PAGE, encoding="utf-8")
    (raw / "video.txt").write_text(VIDEO_PAGE, encoding="utf-8")
    summary = news_pipeline(raw_dir=str(raw), processed_dir=str(tmp_path / "processed"), cache_dir=str(tmp_path / "cache"))
    assert summary.accounting == (4, 4, 0)

    documents = pd.read_parquet(tmp_path / "processed" / "documents").set_index("source")
    page, copy = documents.loc["page.txt"], documents.loc["saved-again/page.txt"]
    assert (page.title, page.published_date, page.date_source, page.dateline_place) == (
        "China makes historic progress over 13th Five-Year Plan period under Xi's leadership",
        date(2020, 10, 26), "dateline", "BEIJING")
    assert page.raw_text == EXCERPT.read_text(encoding="utf-8") and page.chars_removed > 1500
    assert pd.isna(page.duplicate_of) and copy.duplicate_of == page.doc_id  # the smallest source is canonical
    acme = documents.loc["acme.html"]
    assert (acme.title, acme.published_date, acme.date_source, acme.url, acme.dateline_place) == (
        "Acme profits soar", date(2021, 3, 4), "metadata", "https://wire.example/business/acme-profits", "LONDON")
    video = documents.loc["video.txt"]
    assert (video.title, video.text, video.published_date) == ("Vlog: Consumer goods at CIIE redefines market", "",
                                                               date(2020, 11, 12))

    quantities = pd.read_parquet(tmp_path / "processed" / "quantities").merge(
        documents.reset_index()[["doc_id", "source", "text"]].rename(columns={"text": "document_text"}), on="doc_id")
    page_quantities = quantities[quantities.source == "page.txt"]
    assert "31.5 percent" not in set(quantities.text)  # only in related-article lists
    assert set(page_quantities[page_quantities.kind.isin(["money", "percent"])].text) == {
        "100 trillion yuan", "15 trillion U.S. dollars", "10,000 U.S. dollars", "4.9 percent"}
    for row in quantities.itertuples():
        assert row.document_text[row.start_char:row.end_char] == row.text  # offsets index the clean text
