"""Publication dates: from metadata, else a dateline, else the dates the text mentions.

Rules (first that applies):
1. metadata: the sidecar's or JSONL record's ``published``.
2. dateline: at the start of the text, "14:20, November 18, 2020" or "BEIJING, Nov. 18, 2020";
   a year-less wire dateline ("BEIJING, Nov. 18 (Xinhua) --") takes the year of the latest full
   date in the text.
3. text: the latest full date the text mentions ("June 16, 2021", "16 June 2021"), with year-less
   dates ("November 29") resolved against the year of the latest full date. News reports events
   up to their publication day, so the latest date mentioned is the best estimate; dates more
   than a year after that full date are ignored as forecasts.
4. none.
"""

from __future__ import annotations

import re
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
MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?(?:,\s*|\s+){_YEAR}")
DAY_MONTH_YEAR = re.compile(rf"\b(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\s+{_MONTH}\s+{_YEAR}")
MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\b(?!,?\s*(?:19|20)\d\d)")
# "14:20, November 18, 2020" or "BEIJING, Nov. 18 (Xinhua) --" in the first 200 characters.
DATELINE = re.compile(
    rf"^\W*(?:[0-2]?\d:[0-5]\d,?\s+|[A-Z][A-Za-z .'-]{{1,40}},\s+){_MONTH}\s+(?P<day>[0-3]?\d)"
    rf"(?:(?:,\s*|\s+){_YEAR})?"
)


def _make_date(match: re.Match, year: int | None = None) -> date | None:
    month = MONTHS[match["month"][:3].lower()]
    try:
        return date(year or int(match["year"]), month, int(match["day"]))
    except ValueError:
        return None


def full_dates(text: str) -> list[date]:
    """Every date with a year that the text mentions, in any order."""
    found = [_make_date(m) for pattern in (MONTH_DAY_YEAR, DAY_MONTH_YEAR) for m in pattern.finditer(text)]
    return [d for d in found if d is not None]


def date_from_dateline(text: str, year_hint: int | None) -> date | None:
    """The dateline's date, if the text starts with one."""
    match = DATELINE.match(text[:200])
    if match is None:
        return None
    if match["year"]:
        return _make_date(match)
    return _make_date(match, year_hint) if year_hint else None


def date_from_text(text: str) -> date | None:
    """The latest date the text mentions (see the module docstring), or None."""
    dated = full_dates(text)
    if not dated:
        return None
    anchor = max(dated)
    yearless = [_make_date(m, anchor.year) for m in MONTH_DAY.finditer(text)]
    candidates = dated + [d for d in yearless if d is not None]
    return max(d for d in candidates if (d - anchor).days <= 366)


def infer_published_date(text: str, metadata_date: date | None) -> tuple[date | None, str]:
    """The publication date and how it was found: metadata, dateline, text or none."""
    if metadata_date is not None:
        return metadata_date, "metadata"
    dated = full_dates(text)
    from_dateline = date_from_dateline(text, max(dated).year if dated else None)
    if from_dateline is not None:
        return from_dateline, "dateline"
    from_text = date_from_text(text)
    if from_text is not None:
        return from_text, "text"
    return None, "none"
