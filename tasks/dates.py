"""Publication dates: from metadata, else a dateline, else the dates the text mentions.

Rules (first that applies):
1. metadata: the sidecar's, JSONL record's or HTML page's ``published``.
2. dateline: a scraped page's own dateline ("14:20, November 18, 2020" after the headline, found
   by the clean stage in the page header, before any related-article list); else, at the start of
   the text, "14:20, November 18, 2020" or "BEIJING, Nov. 18, 2020"; else a wire opener
   ("BEIJING, Nov. 18 (Xinhua) --") near the start, whose missing year is the year of the latest
   full date in the text.
3. text: the latest full date the text mentions ("June 16, 2021", "16 June 2021"), with year-less
   dates ("November 29") resolved against the year of the latest full date. News reports events
   up to their publication day, so the latest date mentioned is the best estimate; dates more
   than a year after that full date are ignored as forecasts.
4. none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}
_MONTH = (
    r"(?P<month>Jan(?:uary|\.)?|Feb(?:ruary|\.)?|Mar(?:ch|\.)?|Apr(?:il|\.)?|May|June?|July?|"
    r"Aug(?:ust|\.)?|Sep(?:t(?:ember)?|\.)?\.?|Oct(?:ober|\.)?|Nov(?:ember|\.)?|Dec(?:ember|\.)?)"
)
_YEAR = r"(?P<year>(?:19|20)\d\d)\b"
_DAY = r"(?P<day>[0-3]?\d)"
_CLOCK = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+{_DAY}(?:st|nd|rd|th)?(?:,\s*|\s+){_YEAR}")
DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}(?:st|nd|rd|th)?\s+{_MONTH}\s+{_YEAR}")
MONTH_DAY = re.compile(rf"\b{_MONTH}\s+{_DAY}(?:st|nd|rd|th)?\b(?!,?\s*(?:19|20)\d\d)")
# "14:20, November 18, 2020" or "BEIJING, Nov. 18 (Xinhua) --" in the first 200 characters.
DATELINE = re.compile(
    rf"^\W*(?:{_CLOCK},?\s+|[A-Z][A-Za-z .'-]{{1,40}},\s+){_MONTH}\s+{_DAY}"
    rf"(?:(?:,\s*|\s+){_YEAR})?"
)
# A web page's own dateline: a clock time with a full date. A bare date is not enough: articles
# mention full dates of events, while a time of day next to a date is what page templates print.
PAGE_DATELINES = (
    re.compile(rf"\b{_CLOCK},?\s+{_MONTH}\s+{_DAY},?\s+{_YEAR}"),  # 14:20, November 18, 2020
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR},?\s+{_CLOCK}\b"),  # November 18, 2020 14:20
    re.compile(rf"\b{_YEAR}-(?P<month_number>[01]\d)-{_DAY}[ T]{_CLOCK}\b"),  # 2020-11-18 14:20
)
# The date a page template prints above the menu: "Wednesday, Nov 18, 2020".
WEEKDAY_DATE = re.compile(rf"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+{_MONTH}\s+{_DAY},?\s+{_YEAR}")
# Wire-service openers: "BEIJING, Nov. 18 (Xinhua) --", "SUZHOU, China, Nov. 13 (Xinhua) --" and,
# without a date, "LONDON (Reuters) -". The place is in capitals (a country or state may follow)
# and the opener starts the text or a sentence: photo captions often come before it.
_PLACE = r"(?P<place>[A-Z][A-Z'’.-]*[A-Z](?:\s[A-Z][A-Z'’.-]*[A-Z])*(?:,\s[A-Z][a-z]+(?:\s[A-Z][a-z]+)*)?)"
_SENTENCE_START = r"(?:\A|(?<=\n)|(?<=[.!?)\"”’]\s))"
_DASH = r"(?:--|—|–)"
WIRE_OPENER_DATED = re.compile(
    rf"{_SENTENCE_START}{_PLACE},\s+{_MONTH}\s+{_DAY}(?:,\s*{_YEAR})?\s*(?:\([^()\n]{{1,40}}\)\s*)?{_DASH}"
)
WIRE_OPENER_UNDATED = re.compile(rf"{_SENTENCE_START}{_PLACE}\s+\((?:[A-Z][\w.&' -]{{0,30}})\)\s*(?:{_DASH}|-)\s")
WIRE_OPENER_SEARCH_CHARS = 2000


@dataclass(frozen=True)
class PageDateline:
    """Where a page's dateline sits in its text, and its date."""

    start: int
    end: int
    date: date


def _make_date(match: re.Match, year: int | None = None) -> date | None:
    groups = match.groupdict()
    month = int(groups["month_number"]) if groups.get("month_number") else MONTHS[match["month"][:3].lower()]
    try:
        return date(year or int(match["year"]), month, int(match["day"]))
    except ValueError:
        return None


def full_dates(text: str) -> list[date]:
    """Every date with a year that the text mentions, in any order."""
    found = [_make_date(m) for pattern in (MONTH_DAY_YEAR, DAY_MONTH_YEAR) for m in pattern.finditer(text)]
    return [d for d in found if d is not None]


def find_page_dateline(text: str) -> PageDateline | None:
    """The first valid page dateline (a clock time with a full date) in `text`, or None."""
    found = [match for pattern in PAGE_DATELINES for match in pattern.finditer(text)]
    for match in sorted(found, key=lambda match: match.start()):
        found_date = _make_date(match)
        if found_date is not None:
            return PageDateline(match.start(), match.end(), found_date)
    return None


def find_wire_opener(text: str) -> re.Match | None:
    """The first wire-service opener near the start of `text` (its `place` group), or None."""
    head = text[:WIRE_OPENER_SEARCH_CHARS]
    found = [match for pattern in (WIRE_OPENER_DATED, WIRE_OPENER_UNDATED) if (match := pattern.search(head))]
    return min(found, key=lambda match: match.start()) if found else None


def date_from_dateline(text: str, year_hint: int | None) -> date | None:
    """The date of the dateline the text starts with, or of its wire opener, if there is one."""
    match = DATELINE.match(text[:200]) or WIRE_OPENER_DATED.search(text[:WIRE_OPENER_SEARCH_CHARS])
    if match is None:
        return None
    if match["year"]:
        return _make_date(match)
    return _make_date(match, year_hint) if year_hint else None


def date_from_text(text: str, dated: list[date] | None = None) -> date | None:
    """The latest date the text mentions (see the module docstring), or None. `dated` is
    full_dates(text) when the caller has it already."""
    dated = full_dates(text) if dated is None else dated
    if not dated:
        return None
    anchor = max(dated)
    yearless = [_make_date(m, anchor.year) for m in MONTH_DAY.finditer(text)]
    candidates = dated + [d for d in yearless if d is not None]
    return max(d for d in candidates if (d - anchor).days <= 366)


def infer_published_date(
    text: str, metadata_date: date | None, page_dateline_date: date | None = None
) -> tuple[date | None, str]:
    """The publication date and how it was found: metadata, dateline, text or none.

    `page_dateline_date` is the date of a scraped page's own dateline, which the clean stage
    finds in the page header it separates from the article text.
    """
    if metadata_date is not None:
        return metadata_date, "metadata"
    if page_dateline_date is not None:
        return page_dateline_date, "dateline"
    dated = full_dates(text)
    from_dateline = date_from_dateline(text, max(dated).year if dated else None)
    if from_dateline is not None:
        return from_dateline, "dateline"
    from_text = date_from_text(text, dated)
    if from_text is not None:
        return from_text, "text"
    return None, "none"
