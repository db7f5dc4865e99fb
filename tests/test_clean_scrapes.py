"""Scraped pages: the article is separated from the site's chrome, with its title and dateline.

Always run: a short excerpt of a real People's Daily Online page (tests/data/peoplesdaily_page_excerpt.txt:
its header, four sentences of its body, its tail with related-article lists). When the development
corpora exist (/work/shared/corpora), the same checks run on all 137 People's Daily pages, on the
hand-made reference sample (tests/data/peoplesdaily_sample.jsonl, 34 pages) and on the 2,225 clean
BBC articles. The expected values come from the pages' fixed layout (the body lies between the
dateline and "(For the latest China news"), which the cleaner itself never uses.

    .venv/bin/python -m tests.test_clean_scrapes    # prints the measured figures
"""

from __future__ import annotations

import functools
import json
import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from tasks.clean import CAPTION_CREDIT, PAGER, Article, clean_batch, repair_text, separate_article, tidy_whitespace
from tasks.dates import MONTHS
from tasks.ingest import doc_id_for
from tasks.numbers import find_quantities
from tasks.duplicates import comparable_words, find_duplicates, shingles
from tasks.settings import corpora_dir

DATA = Path(__file__).resolve().parent / "data"
EXCERPT = DATA / "peoplesdaily_page_excerpt.txt"
SAMPLE = DATA / "peoplesdaily_sample.jsonl"
CORPORA = corpora_dir()
DEV = CORPORA / "peoplesdaily-dev"
BBC = CORPORA / "bbc"
needs_dev = pytest.mark.skipif(not DEV.is_dir(), reason="People's Daily development pages not available")
needs_bbc = pytest.mark.skipif(not BBC.is_dir(), reason="BBC corpus not available")

# Text of the site's chrome (menu, script, comment widget, credits, related lists, footer, pager):
# none of it may be left in a clean text.
CHROME_MARKERS = [
    "People's Daily Online DD_", "DD_belatedPNG", ".fix(", "Search Archive", "Portuguese Home Opinions",
    "Special Coverage Photo Video", "English >>", "&gt;&gt;", "Add your comment", "enable JavaScript",
    "Disqus", "Web editor", "For the latest China news", "Related reading", "We Recommend", "Most Read",
    "Hot News", "Key Words", "Join Us | Contact Us", "【", "Enditem",
]
# The page's dateline, read by a layout-specific pattern (the cleaner uses a general one).
LAYOUT_DATELINE = re.compile(r"\d\d:\d\d, ([A-Z][a-z]+) (\d\d), (\d{4}) ")
LAYOUT_BODY_END = "(For the latest China news"


def layout_dateline(page: str) -> date:
    month, day, year = LAYOUT_DATELINE.search(page).groups()
    return date(int(year), MONTHS[month[:3].lower()], int(day))


def layout_body(page: str) -> str:
    """The article body cut out by the pages' layout, with the repairs the cleaner also makes to
    article text (Unicode and whitespace, photo credits, pager links, the "Enditem" marker)."""
    body = page[LAYOUT_DATELINE.search(page).end():page.index(LAYOUT_BODY_END)]
    return as_clean(PAGER.sub(" ", body).replace("Enditem", ""))


def as_clean(excerpt: str) -> str:
    """An excerpt of article text as the clean text holds it: repaired, without photo credits."""
    return tidy_whitespace(CAPTION_CREDIT.sub("", repair_text(excerpt)))


def money_and_percent(text: str) -> list[str]:
    return [quantity.text for quantity in find_quantities(text) if quantity.kind in ("money", "percent")]


def leftover_chrome(text: str) -> list[str]:
    return [marker for marker in CHROME_MARKERS if marker in text]


def test_page_excerpt_gives_the_article_title_and_dateline():
    page = EXCERPT.read_text(encoding="utf-8")
    article = separate_article(page)
    assert article.title == "China makes historic progress over 13th Five-Year Plan period under Xi's leadership"
    # the dateline, not the wire opener (Oct. 25) nor the dates in the related lists (2022)
    assert (article.dateline_date, article.dateline_place) == (date(2020, 10, 26), "BEIJING")
    assert article.text.startswith("BEIJING, Oct. 25 (Xinhua) -- The Chinese economy's exceptional recovery")
    assert article.text.endswith("will review proposals for a development blueprint and chart the course for the future.")
    assert article.text == layout_body(page)
    assert leftover_chrome(article.text) == []
    assert article.chars_removed == len(repair_text(page)) - len(article.text) > 1500


def test_chrome_never_adds_or_removes_a_quantity():
    page = EXCERPT.read_text(encoding="utf-8")
    clean = separate_article(page).text
    assert money_and_percent(clean) == [
        "100 trillion yuan", "15 trillion U.S. dollars", "10,000 U.S. dollars", "4.9 percent"]
    assert "31.5 percent" in page and "4 mln" in page  # in the related lists only
    body = layout_body(page)
    assert [(q.text, q.kind, q.value) for q in find_quantities(clean)] == [
        (q.text, q.kind, q.value) for q in find_quantities(body)]


def test_page_excerpt_as_a_document():
    page = EXCERPT.read_text(encoding="utf-8")
    row = dict(doc_id="d", source="page.txt", title=None, published_date=None, url=None, publisher=None,
               language=None, encoding="utf-8", encoding_doubtful=False, content_sha256="h", raw_text=page)
    [document], errors = clean_batch([row])
    assert errors == []
    assert (document.published_date, document.date_source, document.dateline_place) == (
        date(2020, 10, 26), "dateline", "BEIJING")
    assert document.raw_text == page and document.processed_at > datetime(2024, 1, 1, tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------------------
# The development corpora (skipped when they are not on this machine)


def dev_pages() -> list[Path]:
    return sorted(DEV.glob("*.txt"))


def dev_page_figures() -> dict[str, int]:
    """Per-page checks on every development page: dateline date, no chrome, body kept whole."""
    figures = {"pages": 0, "date_correct": 0, "chrome_free": 0, "body_kept": 0, "title_correct": 0}
    for path in dev_pages():
        page = path.read_text(encoding="utf-8")
        article = separate_article(page)
        figures["pages"] += 1
        figures["date_correct"] += article.dateline_date == layout_dateline(page)
        figures["chrome_free"] += not leftover_chrome(article.text)
        figures["body_kept"] += article.text == layout_body(page)
        page_title = path.name.removesuffix(" - People's Daily Online.txt")
        figures["title_correct"] += article.title == tidy_whitespace(repair_text(page_title))
    return figures


def sample_rows() -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


def sample_problems(row: dict) -> list[str]:
    """What differs between the cleaner's output and the hand-made reference for one page."""
    article = separate_article((DEV / row["file"]).read_text(encoding="utf-8"))
    problems = []
    if article.title != repair_text(row["title"]):
        problems.append(f"title {article.title!r}")
    if article.dateline_date != date.fromisoformat(row["published"]):
        problems.append(f"date {article.dateline_date}")
    if article.dateline_place != row["wire_place"]:
        problems.append(f"place {article.dateline_place!r}")
    if not article.text.startswith(as_clean(row["body_first_words"])):
        problems.append(f"starts {article.text[:60]!r}")
    if not article.text.endswith(as_clean(row["body_last_words"])):
        problems.append(f"ends {article.text[-60:]!r}")
    problems += [f"chrome {chrome!r}" for chrome in row["chrome_samples"] if as_clean(chrome) in article.text]
    if money_and_percent(article.text) != row["money_and_percent"]:
        problems.append(f"quantities {money_and_percent(article.text)}")
    return problems


@functools.cache
def separated(root: Path, pattern: str) -> tuple[list[str], list[str], list[Article]]:
    """The sources, raw texts and separated articles of a corpus, in source order (computed once)."""
    paths = sorted(root.glob(pattern), key=lambda path: path.relative_to(root).as_posix())
    raws = [path.read_text(encoding="utf-8", errors="replace") for path in paths]
    return [path.relative_to(root).as_posix() for path in paths], raws, [separate_article(raw) for raw in raws]


def bbc_figures() -> dict[str, int]:
    """What the chrome rules do to clean articles: characters removed, headers and openers found."""
    figures = {"articles": 0, "chars": 0, "chars_removed": 0, "with_page_header": 0, "with_wire_opener": 0}
    for raw, article in zip(*separated(BBC, "*/*.txt")[1:]):
        figures["articles"] += 1
        figures["chars"] += len(repair_text(raw))
        figures["chars_removed"] += article.chars_removed
        figures["with_page_header"] += article.dateline_date is not None
        figures["with_wire_opener"] += article.dateline_place is not None
    return figures


def duplicate_figures(root: Path, pattern: str) -> dict[str, int]:
    """Duplicates flagged in a corpus, split into exact and near, and checked against every pair
    that shares a 5-word shingle (an independent, exhaustive count of pairs at 0.8 or more)."""
    sources, _, articles = separated(root, pattern)
    ids = [doc_id_for(source) for source in sources]
    texts = [article.text for article in articles]
    flagged = find_duplicates(ids, texts)
    words = {doc_id: comparable_words(text) for doc_id, text in zip(ids, texts)}
    exact = sum(1 for doc_id, of in zip(ids, flagged) if of and words[doc_id] == words[of])
    sets = {doc_id: shingles(words[doc_id]) for doc_id in ids if words[doc_id]}
    holders: dict[str, list[str]] = {}
    for doc_id, shingle_set in sets.items():
        for shingle in shingle_set:
            holders.setdefault(shingle, []).append(doc_id)
    similar_pairs = set()
    for group in holders.values():
        if 1 < len(group) < 50:  # shingles shared by 50+ articles are stock phrases
            similar_pairs.update((a, b) for i, a in enumerate(group) for b in group[i + 1:])
    at_threshold = {(a, b) for a, b in similar_pairs if len(sets[a] & sets[b]) / len(sets[a] | sets[b]) >= 0.8}
    canonical = {doc_id for doc_id, of in zip(ids, flagged) if of is None}

    def similarity(a: str, b: str) -> float:
        return len(sets[a] & sets[b]) / len(sets[a] | sets[b])

    return {
        "documents": len(ids),
        "flagged": sum(of is not None for of in flagged),
        "exact": exact,
        "near": sum(of is not None for of in flagged) - exact,
        # recall: two canonical documents at 0.8 or more are a missed duplicate
        "canonical_pairs_at_threshold": sum(1 for a, b in at_threshold if a in canonical and b in canonical),
        # precision: a flagged document below 0.8 of its canonical copy is a false duplicate
        "flagged_below_threshold": sum(1 for doc_id, of in zip(ids, flagged) if of and similarity(doc_id, of) < 0.8),
    }


@needs_dev
def test_every_development_page():
    figures = dev_page_figures()
    assert figures == {"pages": 137, "date_correct": 137, "chrome_free": 137, "body_kept": 137, "title_correct": 137}


@needs_dev
@pytest.mark.parametrize("row", sample_rows(), ids=lambda row: row["file"][:40])
def test_reference_sample_page(row: dict):
    assert sample_problems(row) == []


def test_reference_sample_is_large_enough():
    rows = sample_rows()
    assert len(rows) >= 20 and sum(1 for row in rows if row["money_and_percent"]) >= 8


@needs_bbc
def test_chrome_rules_leave_clean_articles_alone():
    figures = bbc_figures()
    assert figures["articles"] == 2225
    assert (figures["chars_removed"], figures["with_page_header"], figures["with_wire_opener"]) == (0, 0, 0)


@needs_dev
def test_no_duplicates_among_the_development_pages():
    assert duplicate_figures(DEV, "*.txt")["flagged"] == 0


@needs_bbc
def test_bbc_duplicates_match_an_exhaustive_pair_count():
    figures = duplicate_figures(BBC, "*/*.txt")
    assert figures["exact"] == 103  # the corpus's known verbatim copies
    assert figures["near"] >= 40
    assert (figures["canonical_pairs_at_threshold"], figures["flagged_below_threshold"]) == (0, 0)


if __name__ == "__main__":
    print("development pages:", dev_page_figures())
    rows = sample_rows()
    failing = {row["file"]: problems for row in rows if (problems := sample_problems(row))}
    print(f"reference sample: {len(rows) - len(failing)}/{len(rows)} pages pass", failing or "")
    print("BBC:", bbc_figures())
    print("duplicates, development pages:", duplicate_figures(DEV, "*.txt"))
    print("duplicates, BBC:", duplicate_figures(BBC, "*/*.txt"))
