"""Clean: repair Unicode and whitespace, separate the article from site chrome, find title and date.

The clean text is what every character offset in the other tables refers to. A scraped page holds
the article between a page header (site name, scripts, menus, headline, dateline) and a page tail
(credits, comment widget, related articles, footer); the clean text is the article alone, and the
documents table keeps what was read in `raw_text` and counts what was dropped in `chars_removed`.

Chrome rules (general rules, none names a site; docs/scraped-pages.md explains them):
1. Page header: when a page dateline (a clock time with a full date, "14:20, November 18, 2020")
   appears in the opening of the page and no prose sentence comes before it, everything up to the
   dateline is the page header. Its last piece, without byline and source credit, is the headline
   (a page title repeated as the headline, "X - Site ... X", gives X); the rest is dropped.
2. Page tail: from the first end-of-article marker (comment widget, editor credit line, "follow us
   on Twitter" prompt, related-articles heading) to the end, the page is chrome.
3. Anywhere in the article: code fragments, runs of navigation words, pager links ("【1】 【2】"),
   the wire end marker "Enditem", and photo credits ("[Photo/Xinhua]").
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

import ftfy
import pyarrow as pa
from prefect import get_run_logger, task

from tasks.dates import WEEKDAY_DATE, find_page_dateline, find_wire_opener, infer_published_date
from tasks.errors import ErrorRecord, errors_table, utc_now
from tasks.ingest import Batch
from tasks.duplicates import text_fingerprint
from tasks.schemas import CLEAN_DOCUMENTS
from tasks.settings import PIPELINE_VERSION, model_version
from tasks.stage_files import StageOutput, read_arrow, write_stage_output
from tasks.storage import Location
from tasks.tasking import STAGE_TASK_OPTIONS

STAGE = "clean"

# Compatibility forms whose NFKC mapping keeps the meaning: full-width and half-width forms
# (common in Chinese sources: "１２３％"), no-break spaces, ligatures. Superscripts, fractions
# and circled numbers are left alone because NFKC would change their meaning ("m²" -> "m2").
SAFE_COMPATIBILITY_TAGS = ("<wide>", "<narrow>", "<noBreak>")
SAFE_COMPAT_CHARS = {chr(c) for c in range(0xFB00, 0xFB07)}  # ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ

# Photo and video credits such as "[Photo/Xinhua]", "[Photo by Zhang Wei/China Daily]",
# "(Photo: Reuters)", "[Video/CGTN]", "(File photo)"; the keyword must be followed by what
# credits use ("/", ":", "by", "courtesy", the bracket), so "(video jockey)" stays.
CAPTION_CREDIT = re.compile(
    r"\s*[\[(](?:Photo|Photos|Video|Image|Picture|File photo)"
    r"(?:\s*[/:]|\s+(?:by|courtesy|provided|from)\b|\s*(?=[\])]))[^\[\]()\n]{0,80}[\])]",
    re.IGNORECASE,
)
NON_ASCII = re.compile(r"[^\x00-\x7f]")
# Text that ftfy leaves as it is (printable ASCII and line breaks, no "&" of an HTML entity):
# skipping ftfy for it halves the cost of cleaning an English corpus.
PLAIN_ASCII = re.compile(r"[\t\n\x20-\x25\x27-\x7e]*")
INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
HORIZONTAL_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
BLANK_LINES = re.compile(r"\n{3,}")
HTML_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+\d*);")
MAX_TITLE_CHARS = 200

# A page dateline further into the text than this belongs to the article, not to a page header.
HEADER_SEARCH_CHARS = 3000
# A sentence of eight or more words ending in a lower-case word and a full stop, followed by a
# capital: prose. A page header holds none ("U.S.", "S. Korea" and "vs." in headlines do not count).
PROSE_SENTENCE = re.compile(r"(?:[^\s.!?]+\s+){7,}[^\s.!?]*[a-z]{3}[.!?][\"”’)]?\s+[\"“]?[A-Z]")
# What a page prints between the headline and the dateline: a byline and a source credit.
SOURCE_CREDIT = re.compile(r"\s*\(\s*[^()\n]{1,60}?\s*\)\s*$")
_NAME = r"[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3}"
BYLINE = re.compile(rf"(?:^|\s+)By\s+{_NAME}(?:\s*(?:,|\band\b)\s*{_NAME})*\s*$")
# "Headline - Site name": the separators between a page title and the site's name.
TITLE_SEPARATORS = (" - ", " | ", " – ", " — ", " :: ")

# Words that site menus are made of: section names, site furniture and language editions. A run
# of MIN_MENU_WORDS or more of them, capitalised, with nothing but separators in between, is a menu.
NAVIGATION_WORDS = frozenset(
    "home news world business opinion opinions sport sports culture travel science technology tech "
    "health entertainment lifestyle life politics economy finance markets money military society "
    "education environment video videos photo photos pictures gallery galleries multimedia special "
    "specials coverage features columns columnists blogs weather local national international region "
    "regions asia europe africa americas latest top trending popular live "
    "search archive archives login register subscribe subscription newsletter newsletters contact "
    "about more menu podcasts topics "
    "english chinese japanese french spanish russian arabic korean german portuguese italian turkish "
    "hindi vietnamese thai indonesian malay persian urdu".split()
)
MENU_SEPARATORS = frozenset({">>", ">", "»", "›", "|", "·", "•", "/", "&"})
MIN_MENU_WORDS = 5
WORD_OR_SYMBOL = re.compile(r"\S+")

# Fragments of script left in a page saved as text: method calls ending in a semicolon
# ("DD_belatedPNG.fix('div, ul');"), variable declarations and function bodies. (Pages saved as
# HTML go through trafilatura, which drops script elements.) Each alternative stops at the next
# parenthesis, brace or semicolon, so the scan stays linear on long texts.
CODE_FRAGMENT = re.compile(
    r"\b[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+\s*\((?:[^()\n]|\([^()\n]*\))*\)\s*;"
    r"|\b(?:var|let|const)\s+[A-Za-z_$][\w$]*\s*=[^;\n]{1,200};"
    r"|\bfunction\s*[\w$]*\s*\([^()\n]*\)\s*\{[^{}]*\}"
)
# Runs of links to the other pages of a multi-page article ("【1】 【2】 【3】", "[1] [2]").
PAGER = re.compile(r"(?:[【\[]\s*\d{1,3}\s*[】\]]\s*){2,}")
# Xinhua's end-of-story marker.
WIRE_END_MARKER = re.compile(r"\bEnditem\b")
# What follows an article on its page; the first of these ends the article.
END_OF_ARTICLE = re.compile(
    # comment widgets
    r"\bAdd your comments?\b|\bPlease enable JavaScript to view the comments\b|\bcomments powered by Disqus\b"
    # editor and reporter credit lines: "(Web editor: Meng Bin, Liang Jun)", "Editor: Li Na"
    r"|(?i:\((?:\s*(?:web|online|chief|executive|responsible)\s+)?(?:editors?|reporters?)\s*:[^()\n]{1,80}\))"
    r"|(?i:\(\s*(?:edited|compiled|translated)\s+by\s[^()\n]{1,80}\))"
    r"|(?m:^[ ]*(?:Web )?Editors?:[^\n]{1,80}$)"
    # social prompts: "(For the latest China news, Please follow People's Daily on Twitter and Facebook )"
    r"|\([^()\n]{0,80}?(?i:\bfollow)\s+(?:us|[A-Z][^()\n]{0,40}?)\s+on\s+"
    r"(?:Twitter|Facebook|Instagram|WeChat|Weibo|LinkedIn|YouTube|Telegram)\b[^()\n]{0,60}\)"
    # related-article headings (capitalised as headings, so prose does not match)
    r"|\b(?:Related (?:reading|articles|stories|news|links|coverage)|We Recommend|Most (?:Read|Popular|Viewed)"
    r"|Hot News|You may also like)\b"
)


@dataclass(frozen=True)
class CleanDocument:
    """A documents-table row before entities and numbers run on its text."""

    doc_id: str
    source: str
    title: str | None
    published_date: date | None
    date_source: str
    dateline_place: str | None
    text: str
    raw_text: str
    chars_removed: int
    content_sha256: str
    duplicate_of: str | None
    n_words: int
    url: str | None
    publisher: str | None
    language: str | None
    encoding: str
    encoding_doubtful: bool
    model: str
    pipeline_version: str
    processed_at: datetime
    input_sha256: str | None = None  # the ingested row's hash (not published: see schemas.INPUT_SHA256)


@dataclass(frozen=True)
class PageHeader:
    """The header of a scraped page: where it ends (after the dateline), its headline and date."""

    end: int
    title: str | None
    dateline_date: date


@dataclass(frozen=True)
class Article:
    """An article separated from the page it was saved with."""

    text: str
    title: str | None
    dateline_date: date | None
    dateline_place: str | None
    chars_removed: int


@functools.cache
def _safe_nfkc(char: str) -> str:
    decomposition = unicodedata.decomposition(char)
    if char in SAFE_COMPAT_CHARS or decomposition.startswith(SAFE_COMPATIBILITY_TAGS):
        return unicodedata.normalize("NFKC", char)
    return char


def normalize_unicode(text: str) -> str:
    """Fix mojibake and HTML entities, straighten curly quotes, apply the safe part of NFKC."""
    if HTML_ENTITY.search(text):
        text = html.unescape(text)
    if not PLAIN_ASCII.fullmatch(text):
        text = ftfy.fix_text(text, normalization="NFC")
    return NON_ASCII.sub(lambda match: _safe_nfkc(match.group()), text)


def tidy_whitespace(text: str) -> str:
    """One space between words, no spaces at line ends, at most one blank line, no outer space."""
    lines = [line.strip() for line in HORIZONTAL_SPACE.sub(" ", text).split("\n")]
    return BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def repair_text(raw_text: str) -> str:
    """The text with Unicode, line ends, invisible and control characters and whitespace repaired."""
    text = normalize_unicode(raw_text.replace("\r\n", "\n").replace("\r", "\n"))
    text = INVISIBLE.sub("", text)
    return tidy_whitespace(CONTROL.sub(" ", text))


def navigation_runs(text: str) -> list[tuple[int, int]]:
    """Spans of menus: MIN_MENU_WORDS or more capitalised navigation words, only separators between."""
    # A text with fewer than MIN_MENU_WORDS capitalised navigation words has no menu: most
    # articles skip the token-by-token scan.
    candidates = [word for word in text.split() if word[:1].isupper() and word.lower() in NAVIGATION_WORDS]
    if len(candidates) < MIN_MENU_WORDS:
        return []
    runs, words, start, end = [], 0, None, 0
    for token in [*WORD_OR_SYMBOL.finditer(text), None]:
        value = token.group() if token else ""
        is_word = value[:1].isupper() and (value.istitle() or value.isupper()) and value.lower() in NAVIGATION_WORDS
        if is_word or (value in MENU_SEPARATORS and start is not None):
            if start is None:
                start = token.start()
            words += is_word
            end = token.end()
            continue
        if start is not None and words >= MIN_MENU_WORDS:
            runs.append((start, end))
        words, start = 0, None
    return runs


# Each chrome pattern with the characters that any of its matches contains: a text without
# them is not searched (most articles have no code, pager or wire marker).
CHROME_PATTERNS = (
    (CODE_FRAGMENT, (";", "}")),
    (PAGER, ("]", "】")),
    (WIRE_END_MARKER, ("Enditem",)),
    (CAPTION_CREDIT, ("]", ")")),
)


def chrome_spans(text: str) -> list[tuple[int, int]]:
    """Spans of chrome inside an article: code, menus, pager links, wire end markers, photo credits."""
    patterns = [pattern for pattern, markers in CHROME_PATTERNS if any(marker in text for marker in markers)]
    return [match.span() for pattern in patterns for match in pattern.finditer(text)] + navigation_runs(text)


def remove_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` without the (possibly overlapping) spans, words on both sides kept apart."""
    pieces, position = [], 0
    for start, end in sorted(spans):
        if end <= position:
            continue
        pieces.append(text[position:max(start, position)])
        position = end
    pieces.append(text[position:])
    kept = pieces[0]
    for piece in pieces[1:]:
        gap = " " if kept[-1:].isalnum() and piece[:1].isalnum() else ""
        kept += gap + piece
    return kept


def repeated_page_title(head: str) -> str | None:
    """The headline of a header that starts with the page title ("Headline - Site name") and
    ends with the headline again; None when the page title is not repeated."""
    repeated = None
    for separator in TITLE_SEPARATORS:
        index = head.find(separator)
        while index > 0:
            candidate = head[:index].strip()
            before = head[:len(head) - len(candidate)]
            if head.endswith(candidate) and before[-1:].isspace() and len(candidate) > len(repeated or ""):
                repeated = candidate
            index = head.find(separator, index + 1)
    return repeated


def header_headline(head: str) -> str | None:
    """The headline in a page header (the text before the dateline), or None.

    The page title repeated as the headline gives it at once; otherwise the header's chrome
    (code, menus, the page's date) is removed and its last line is the headline.
    """
    head = tidy_whitespace(BYLINE.sub("", SOURCE_CREDIT.sub("", head)))
    title = repeated_page_title(head)
    if title is None:
        head = remove_spans(head, chrome_spans(head) + [match.span() for match in WEEKDAY_DATE.finditer(head)])
        lines = [line for line in tidy_whitespace(head).split("\n") if line]
        title = lines[-1] if lines else None
    return title if title and len(title) <= MAX_TITLE_CHARS else None


def page_header(text: str) -> PageHeader | None:
    """The page header, when a page dateline opens the page with no prose before it."""
    dateline = find_page_dateline(text[:HEADER_SEARCH_CHARS])
    if dateline is None or PROSE_SENTENCE.search(text[:dateline.start]):
        return None
    return PageHeader(dateline.end, header_headline(text[:dateline.start]), dateline.date)


def separate_article(raw_text: str) -> Article:
    """Split a saved page into the article and its chrome (see the module docstring for the rules)."""
    text = repair_text(raw_text)
    header = page_header(text)
    start = header.end if header else 0
    end_marker = END_OF_ARTICLE.search(text, start)
    body = text[start:end_marker.start() if end_marker else len(text)]
    body = tidy_whitespace(remove_spans(body, chrome_spans(body)))
    opener = find_wire_opener(body)
    return Article(
        text=body,
        title=header.title if header else None,
        dateline_date=header.dateline_date if header else None,
        dateline_place=opener["place"] if opener else None,
        chars_removed=len(text) - len(body),
    )


def clean_text(raw_text: str) -> str:
    """The clean text of an article: repaired Unicode and whitespace, without site chrome."""
    return separate_article(raw_text).text


def headline(text: str) -> str | None:
    """The first line when it reads as a headline: short, more lines follow, no final stop."""
    first, _, rest = text.partition("\n")
    if rest.strip() and 0 < len(first) <= MAX_TITLE_CHARS and not first.endswith((".", ":", ";", ",")):
        return first
    return None


def clean_document(row: dict, processed_at: datetime) -> CleanDocument:
    """Turn one ingested row into a clean document; raises ValueError if nothing is left.

    A page whose header has a headline but whose body is empty (a video page whose player was not
    saved) is kept, with its title, its date and an empty text.
    """
    article = separate_article(row["raw_text"])
    if not article.text and article.title is None:
        raise ValueError(f"no text left after cleaning ({article.chars_removed} characters of chrome removed)")
    published_date, date_source = infer_published_date(article.text, row["published_date"], article.dateline_date)
    return CleanDocument(
        doc_id=row["doc_id"],
        source=row["source"],
        title=row["title"] or article.title or headline(article.text),
        published_date=published_date,
        date_source=date_source,
        dateline_place=article.dateline_place,
        text=article.text,
        raw_text=row["raw_text"],
        chars_removed=article.chars_removed,
        content_sha256=row["content_sha256"],
        duplicate_of=None,  # set by the write stage, which sees every batch
        n_words=len(article.text.split()),
        url=row["url"],
        publisher=row["publisher"],
        language=row["language"],
        encoding=row["encoding"],
        encoding_doubtful=row["encoding_doubtful"],
        model=model_version(),
        pipeline_version=PIPELINE_VERSION,
        processed_at=processed_at,
        input_sha256=row.get("input_sha256"),
    )


def clean_batch(rows: list[dict]) -> tuple[list[CleanDocument], list[ErrorRecord]]:
    """Clean every ingested row; a document that fails becomes an error row."""
    processed_at = utc_now()
    documents, errors = [], []
    for row in rows:
        try:
            documents.append(clean_document(row, processed_at))
        except ValueError as error:
            errors.append(ErrorRecord(row["source"], STAGE, "empty_after_cleaning", str(error), row["doc_id"]))
    return documents, errors


def documents_table(documents: list[CleanDocument]) -> pa.Table:
    """The batch's rows of the documents table, with each text's word hash and MinHash for
    duplicate detection."""
    rows = [vars(document) | dict(zip(("words_sha256", "text_minhash"), text_fingerprint(document.text)))
            for document in documents]
    return pa.Table.from_pylist(rows, schema=CLEAN_DOCUMENTS)


@task(name="clean", task_run_name="clean {batch.label}", **STAGE_TASK_OPTIONS)
def clean_task(batch: Batch, work_dir: str, cache_version: str) -> StageOutput:
    """Clean one batch of ingested documents into rows of the `documents` table."""
    documents, errors = clean_batch(read_arrow(batch.path).to_pylist())
    get_run_logger().info("cleaned %d documents (%d errors)", len(documents), len(errors))
    return write_stage_output(documents_table(documents), errors_table(errors), Location(work_dir), STAGE,
                              batch.label)
