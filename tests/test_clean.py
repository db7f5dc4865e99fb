"""Tests for tasks/clean.py: repair, chrome rules, page headers, clean documents."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from tasks.clean import clean_batch, clean_text, headline, repair_text, separate_article


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
        ("Britain.(Photo by Jon Super/Xinhua) Next", "Britain. Next"),
        ("host and VJ (video jockey) Adam Curry", "host and VJ (video jockey) Adam Curry"),  # not a credit
        ("  spaced \t out  \r\n\r\n\r\n\r\nnext  ", "spaced out\n\nnext"),
        ("control\x07char", "controlchar"),
    ],
)
def test_clean_text(raw: str, clean: str):
    assert clean_text(raw) == clean


# One row per chrome rule, each with the article text around it; and prose that looks like chrome.
@pytest.mark.parametrize(
    "raw, clean",
    [
        # code fragments
        ("Body one. DD_belatedPNG.fix('div, ul, img, li, a , td ,h1 ,h2,p,'); Body two.", "Body one. Body two."),
        ("Body. var pageId = 'a17'; More.", "Body. More."),
        ("Body. function track(a) { window.seen = a; } More.", "Body. More."),
        # navigation-word runs
        ("Search Archive Chinese Japanese French Home Opinions Business World English &gt;&gt; Acme rose.",
         "Acme rose."),
        ("Home\nNews\nSport\nWeather\nVideo\n\nAcme rose.", "Acme rose."),
        ("Home | World | Business | Tech | Science\nAcme rose.", "Acme rose."),
        # pager links and the wire end marker
        ("Last sentence of the story. 【1】 【2】 【3】", "Last sentence of the story."),
        ("Last sentence of the story. Enditem", "Last sentence of the story."),
        # the page tail: credit lines, comment widgets, social prompts, related-article headings
        ("Body. (Web editor: Meng Bin, Liang Jun) Related reading Exports up 31.5 percent", "Body."),
        ("Body. Add your comment Please enable JavaScript to view the comments powered by Disqus. 4 mln",
         "Body."),
        ("Body. (For the latest China news, Please follow People's Daily on Twitter and Facebook ) $5m", "Body."),
        ("Body.\nEditor: Li Na\nMost Read\n1 Shares up 5%", "Body."),
        ("Body. We Recommend China to have over 600,000 5G base stations in 2020", "Body."),
        ("Body. Most Read 1 China speeds up construction of space-ground integrated qua…", "Body."),
        # prose that is not chrome
        ("Editor's Note: China Daily has published a series.", "Editor's Note: China Daily has published a series."),
        ("The area is now home to over 1,000 financial institutions.",
         "The area is now home to over 1,000 financial institutions."),
        ("He spoke French, German, Spanish, Russian and Arabic.", "He spoke French, German, Spanish, Russian and Arabic."),
        ("World Business Council members met.", "World Business Council members met."),
        ("Readers can add your comments below, she said.", "Readers can add your comments below, she said."),
        ("the results -- whether a person is positive -- came fast.",
         "the results -- whether a person is positive -- came fast."),
        ("Scores were 109-104 [2] and 97-97.", "Scores were 109-104 [2] and 97-97."),
    ],
)
def test_chrome_rules(raw: str, clean: str):
    assert clean_text(raw) == clean


PAGE = (
    "Acme wins - Daily Site DD_belatedPNG.fix('div, ul'); Wednesday, Nov 18, 2020 Search Archive Chinese "
    "French Home Opinions Business World English &gt;&gt; Acme wins By Jane Doe, Li Na ( Xinhua ) "
    "14:20, November 18, 2020 NEW DELHI, Nov. 17 (Xinhua) -- Acme won 5% more. It is new. "
    "(For the latest China news, Please follow Daily Site on Twitter and Facebook ) (Web editor: A, B) "
    "Add your comment Most Read 1 Rates cut 09:30, December 1, 2020 by 2 percent"
)


@pytest.mark.parametrize(
    "raw, title, dateline_date, place, text",
    [
        (PAGE, "Acme wins", date(2020, 11, 18), "NEW DELHI", "NEW DELHI, Nov. 17 (Xinhua) -- Acme won 5% more. It is new."),
        # the headline starts with a menu word: the repeated page title still gives it whole
        (PAGE.replace("Acme wins", "Chinese firms win"), "Chinese firms win", date(2020, 11, 18), "NEW DELHI",
         "NEW DELHI, Nov. 17 (Xinhua) -- Acme won 5% more. It is new."),
        # a line-by-line scrape with an ISO dateline and no page title
        ("Home | World | Business | Tech | Science\nAcme wins\n2020-11-18 09:05\nSUZHOU, China, Nov. 18 (Xinhua) -- Acme won.",
         "Acme wins", date(2020, 11, 18), "SUZHOU, China", "SUZHOU, China, Nov. 18 (Xinhua) -- Acme won."),
        # a photo caption before the wire opener
        ("Acme wins ( Xinhua ) 08:16, November 13, 2020 A view of Acme. (Xinhua/Fang Zhe) SHANGHAI, Nov. 12 "
         "(Xinhua) -- Acme won.", "Acme wins", date(2020, 11, 13), "SHANGHAI",
         "A view of Acme. (Xinhua/Fang Zhe) SHANGHAI, Nov. 12 (Xinhua) -- Acme won."),
        # a video page: headline and dateline, then straight into the tail
        ("Vlog: Acme at the fair ( Daily Site ) 14:36, November 12, 2020 (Web editor: A, B) Add your comment",
         "Vlog: Acme at the fair", date(2020, 11, 12), None, ""),
        # a clock and date after prose is part of the article, not a page header
        ("The talks began in the morning and went on for a long time. They ended at 14:20, November 18, 2020 in Paris.",
         None, None, None,
         "The talks began in the morning and went on for a long time. They ended at 14:20, November 18, 2020 in Paris."),
        ("LONDON (Reuters) - Acme rose.", None, None, "LONDON", "LONDON (Reuters) - Acme rose."),
    ],
)
def test_separate_article(raw: str, title, dateline_date, place, text: str):
    article = separate_article(raw)
    assert (article.title, article.dateline_date, article.dateline_place, article.text) == (title, dateline_date, place, text)
    assert article.chars_removed == len(repair_text(raw)) - len(text)


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


def test_seed_loses_only_the_caption_credit(seed_text: str):
    article = separate_article(seed_text)
    assert "[Photo/Xinhua]" not in article.text
    assert "mobile phones. Country seeks" in article.text
    assert "Editor's Note" in article.text  # curly apostrophe straightened
    assert article.chars_removed == len(" [Photo/Xinhua]")
    assert (article.title, article.dateline_date, article.dateline_place) == (None, None, None)


def _row(doc_id: str, raw_text: str, **metadata) -> dict:
    fields = dict(title=None, published_date=None, url=None, publisher=None, language=None) | metadata
    return dict(doc_id=doc_id, source=f"{doc_id}.txt", encoding="utf-8", encoding_doubtful=False, content_sha256="h",
                raw_text=raw_text, **fields)


def test_clean_batch_dates_and_errors():
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    documents, errors = clean_batch([
        _row("d1", "14:20, November 18, 2020 Body text."),
        _row("d2", "\u200b\u200b"),
        _row("d3", "Home News World Sport Video Business\n(Web editor: A, B) Add your comment"),
    ])
    [document] = documents
    assert (document.published_date, document.date_source) == (date(2020, 11, 18), "dateline")
    assert document.processed_at > now
    assert [(e.source, e.stage, e.error_type) for e in errors] == [
        ("d2.txt", "clean", "empty_after_cleaning"), ("d3.txt", "clean", "empty_after_cleaning")]


def test_clean_document_keeps_the_raw_text_and_lets_metadata_win():
    [scraped, with_metadata, video], errors = clean_batch([
        _row("d1", PAGE),
        _row("d2", PAGE, title="Sidecar title", published_date=date(2020, 11, 19)),
        _row("d3", "Vlog: Acme at the fair ( Daily Site ) 14:36, November 12, 2020 (Web editor: A, B)"),
    ])
    assert errors == []
    assert (scraped.title, scraped.published_date, scraped.date_source, scraped.dateline_place) == (
        "Acme wins", date(2020, 11, 18), "dateline", "NEW DELHI")
    assert scraped.raw_text == PAGE and scraped.chars_removed == len(PAGE.replace("&gt;", ">")) - len(scraped.text)
    assert "Rates cut" not in scraped.text and scraped.n_words == len(scraped.text.split())
    assert (with_metadata.title, with_metadata.published_date, with_metadata.date_source) == (
        "Sidecar title", date(2020, 11, 19), "metadata")
    assert (video.title, video.text, video.n_words, video.published_date) == ("Vlog: Acme at the fair", "", 0, date(2020, 11, 12))


def test_a_metadata_title_does_not_keep_an_empty_text():
    documents, errors = clean_batch([_row("d1", "\u200b", title="Sidecar title")])
    assert documents == [] and [e.error_type for e in errors] == ["empty_after_cleaning"]
