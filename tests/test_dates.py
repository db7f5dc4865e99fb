"""Tests for tasks/dates.py."""

from __future__ import annotations

from datetime import date

import pytest

from tasks.dates import find_page_dateline, find_wire_opener, infer_published_date


@pytest.mark.parametrize(
    "text, metadata, expected",
    [
        ("Anything on June 16, 2021.", date(2020, 1, 2), (date(2020, 1, 2), "metadata")),
        ("14:20, November 18, 2020 NEW DELHI, Nov. 18 (Xinhua) -- At least ten", None, (date(2020, 11, 18), "dateline")),
        ("BEIJING, Nov. 18 (Xinhua) -- The talks of March 3, 2020 went on.", None, (date(2020, 11, 18), "dateline")),
        ("BEIJING, Nov. 18 (Xinhua) -- no year anywhere", None, (None, "none")),
        ("On June 16, 2021 it began; on November 29 it ended; on December 7 to 16 it met.", None,
         (date(2021, 12, 7), "text")),
        ("Signed on 5 May 2019 and again on 9 Sept. 2019.", None, (date(2019, 9, 9), "text")),
        ("The 2021 Global Innovation Index, in September.", None, (None, "none")),
        ("February 30, 2020 is not a date.", None, (None, "none")),
        ("", None, (None, "none")),
    ],
)
def test_infer_published_date(text: str, metadata: date | None, expected):
    assert infer_published_date(text, metadata) == expected


def test_seed_date_comes_from_its_text(seed_text: str):
    assert infer_published_date(seed_text, None) == (date(2021, 12, 7), "text")


@pytest.mark.parametrize(
    "text, metadata, page_date, expected",
    [
        # the page's own dateline beats the wire opener's date and every date in the text
        ("SHANGHAI, Nov. 12 (Xinhua) -- On Jan. 1, 2021 it starts.", None, date(2020, 11, 13),
         (date(2020, 11, 13), "dateline")),
        ("Anything.", date(2020, 1, 2), date(2020, 11, 13), (date(2020, 1, 2), "metadata")),
        # a wire opener after a photo caption, its year from the latest full date
        ("Photo taken on Oct. 13, 2020 shows a clinic. (Xinhua/Li) BERLIN, Nov. 8 (Xinhua) -- Tests began.", None, None,
         (date(2020, 11, 8), "dateline")),
    ],
)
def test_infer_published_date_with_a_page_dateline(text: str, metadata, page_date, expected):
    assert infer_published_date(text, metadata, page_date) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Headline ( Xinhua ) 14:20, November 18, 2020 NEW DELHI", (date(2020, 11, 18), "14:20, November 18, 2020")),
        ("Headline 10:02, November 02, 2020 Body", (date(2020, 11, 2), "10:02, November 02, 2020")),
        ("Updated: 2021-12-07 07:22 Body", (date(2021, 12, 7), "2021-12-07 07:22")),
        ("Posted November 18, 2020 14:20 Body", (date(2020, 11, 18), "November 18, 2020 14:20")),
        ("Wednesday, Nov 18, 2020 with no time", None),
        ("At around 12:40 p.m. Tuesday", None),
        ("99:20, November 18, 2020", None),
        ("14:20, February 30, 2020", None),
    ],
)
def test_find_page_dateline(text: str, expected):
    found = find_page_dateline(text)
    assert (found.date, text[found.start:found.end]) == expected if expected else found is None


@pytest.mark.parametrize(
    "text, place",
    [
        ("NEW DELHI, Nov. 18 (Xinhua) -- At least ten", "NEW DELHI"),
        ("SUZHOU, China, Nov. 13 (Xinhua) -- As the", "SUZHOU, China"),
        ("XI'AN, Nov. 18 (Xinhua) -- China has", "XI'AN"),
        ("BEIJING, Nov. 18, 2020 -- The", "BEIJING"),
        ("A caption. (Xinhua/Zhang Chao) BERLIN, Nov. 8 (Xinhua) -- Chinese", "BERLIN"),
        ("WASHINGTON (AP) — The Senate", "WASHINGTON"),
        ("LONDON (Reuters) - Shares", "LONDON"),
        ("Ad sales boost Time Warner profit", None),
        ("the US, Nov. 18 (Xinhua) -- lower case", None),
        ("He met the CEO, Nov. 18 -- in the text, not opening a sentence", None),
    ],
)
def test_find_wire_opener(text: str, place: str | None):
    opener = find_wire_opener(text)
    assert (opener["place"] if opener else None) == place
