"""Fuzz tests (hypothesis): no text makes the clean or numbers stages raise or hang."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.clean import clean_text
from tasks.dates import infer_published_date
from tasks.numbers import extract_quantities, find_quantities

# Text biased towards what the parsers look at: digits, separators, currency signs and words.
PIECES = st.sampled_from(
    ["1", "2,5", "3.4", "000", ",", ".", "-", "%", "$", "£", "€", "¥", "元", "US$", "HK$", "RMB", "CNY",
     " ", "\n", "(", ")", ";", "bn", "m", "million", "trillion", "yuan", "dollars", "pence", "percent",
     "per cent", "percentage points", "to", "between", "and", "about", "more than", "minus", "a quarter of a",
     "five", "twenty-three", "November 18, 2020", "Nov.", "14:20", "COVID-19", "G20", "rupees", "Sri Lanka",
     "&amp;", "Ã©", "\u200b", "\x00", "“", "[Photo/Xinhua]", "1e309", "9" * 40]
)
TEXT = st.one_of(st.text(max_size=300), st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=60).map("".join))
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(TEXT)
def test_clean_never_raises(text: str):
    cleaned = clean_text(text)
    assert cleaned == cleaned.strip()
    infer_published_date(cleaned, None)


@FUZZ
@given(TEXT)
def test_numbers_never_raise_and_offsets_hold(text: str):
    for quantity in find_quantities(text):
        assert text[quantity.start_char:quantity.end_char] == quantity.text
    rows, errors = extract_quantities([{"doc_id": "d", "source": "s", "text": text, "published_date": date(2020, 1, 2)}], None)
    assert errors == []
    for row in rows:
        assert row.value_usd is None or row.value_usd == row.value_usd  # never NaN
