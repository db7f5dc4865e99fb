"""Tests for tasks/dates.py."""

from __future__ import annotations

from datetime import date

import pytest

from tasks.dates import infer_published_date


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
