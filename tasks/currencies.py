"""The number parser's currency vocabulary, built once at import from CLDR (through babel).

CLDR gives every ISO 4217 currency's English names ("Danish krone", "Danish kroner"), its
symbols in the English locales and in the locales of the countries that use it ("HK$", "₺"),
and which territories used it when (legal tender only: that leaves out gold, silver, the SDR,
test codes and funds codes such as "US Dollar (Next day)"). Written here is only what CLDR
lacks: other spellings used in English news ("roubles", "lire", "Deutschmarks"), minor units,
and the rules for names that are ambiguous or are also English words.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

from babel import Locale
from babel.core import get_global
from babel.localedata import load, locale_identifiers

from tasks.fx import EURO_CONVERSION_RATES

ENGLISH = Locale("en")

# Names CLDR does not have, written as English news writes them: {name: ISO code}.
EXTRA_NAMES = {
    "u.s. dollars": "USD", "u.s. dollar": "USD", "american dollars": "USD", "renminbi": "CNY",
    "rmb": "CNY", "元": "CNY", "pounds sterling": "GBP", "sterling": "GBP", "deutschmarks": "DEM",
    "deutschmark": "DEM", "deutsche marks": "DEM", "deutsche mark": "DEM", "d-marks": "DEM",
    "irish punts": "IEP", "punts": "IEP", "punt": "IEP", "cfa francs": "XAF", "markkaa": "FIM",
    "brazilian reais": "BRL", "reais": "BRL", "russian roubles": "RUB", "russian rouble": "RUB",
    "italian lire": "ITL", "maltese liri": "MTL",
}
# Minor units, with their factor to the major unit.
MINOR_UNITS = {
    "pence": ("GBP", 0.01), "p": ("GBP", 0.01), "cents": ("USD", 0.01), "cent": ("USD", 0.01),
    "us cents": ("USD", 0.01), "euro cents": ("EUR", 0.01), "canadian cents": ("CAD", 0.01),
    "australian cents": ("AUD", 0.01),
}
# Bare names that several currencies share ("pesos") or that are the British spelling of one
# ("roubles"), with what they stand for when the document names none of their countries. A bare
# "dollar" is always USD.
AMBIGUOUS_DEFAULTS = {
    "pounds": "GBP", "pound": "GBP", "francs": "CHF", "franc": "CHF", "lira": "TRY", "lire": "ITL",
    "rupees": "INR", "rupee": "INR", "krona": "SEK", "rubles": "RUB", "ruble": "RUB",
    "roubles": "RUB", "rouble": "RUB", "guilders": "NLG", "guilder": "NLG",
}
# Bare names that are spelt like other bare names: {spelling: the CLDR name it stands for}.
SPELLINGS = {"roubles": "rubles", "rouble": "ruble", "lire": "lira", "crowns": "kroner", "kronur": "krónur"}
# Bare names that are also English words ("the team won", "the 10,000 mark", "a dram of
# whisky", "five gold medals"): an amount only when the document names one of their countries.
ENGLISH_WORDS = {
    "won", "real", "reals", "mark", "marks", "dram", "drams", "kip", "kips", "dong", "gold", "colon",
    "colons", "sol", "lats", "lek", "som", "soms", "lev", "leu", "tala", "afghani", "afghanis",
    "guarani", "guaranis", "crowns",
}
# Bare names never read as a currency: "broke the 100 million mark" is a threshold.
NEVER_BARE = {"mark"}
# Names of countries that CLDR spells otherwise than English news ("UK", "Britain").
EXTRA_PLACES = {"GBP": ["UK", "Britain", "London", "sterling"], "KRW": ["Korea"]}
# Symbols CLDR does not have, or gives another currency ("C$" is the córdoba in Nicaragua's
# Spanish); "Rs" and "RMB" are letters, but unambiguous before an amount.
EXTRA_SYMBOLS = {"U.S.$": "USD", "S$": "SGD", "C$": "CAD", "Rs.": "INR", "Rs": "INR", "RMB": "CNY", "Rmb": "CNY"}
# Letter parts of symbols that are also English words: "a $5 fee" is not A$5 (AUD), so "A $5"
# (symbols tokenised with a space, as wire text writes "HK $ 10.05 billion") is not read.
SPACED_SYMBOL_EXCEPTIONS = {"a"}
# "¥" is the yuan's symbol as well as the yen's (CLDR gives it to the yen in English).
YEN_OR_YUAN = ([("China|Chinese|Beijing|Shanghai|yuan|renminbi|RMB", "CNY"), ("Japan", "JPY")], "JPY")


def _tender_currencies() -> dict[str, list[tuple[str, bool]]]:
    """{ISO code: [(territory, still in use), ...]} for every currency that was ever legal tender."""
    used: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for territory, history in get_global("territory_currencies").items():
        for code, _, end, tender in history:
            if tender:
                used[code].append((territory, end is None))
    return used


_USED = _tender_currencies()
CODES = frozenset(code for code in ENGLISH.currencies if code in _USED)
# Currencies a bare name can mean today: the current ones, and the euro's legacy currencies,
# which convert through the euro (a bare "pesos" is not the Bolivian peso of 1963-1987).
_BARE_CANDIDATES = frozenset(code for code in CODES if any(now for _, now in _USED[code])) | set(EURO_CONVERSION_RATES)


def _folded(name: str) -> str:
    """Without accents, as English text often writes them ("krona" for "króna")."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


def _english_names(code: str) -> set[str]:
    """CLDR's English names of a currency, singular and plural, lower-cased, with and without
    accents; names with a qualifier in parentheses ("Turkish Lira (1922–2005)") are left out."""
    names = {ENGLISH.currencies[code], *ENGLISH._data["currency_names_plural"].get(code, {}).values()}
    names = {" ".join(name.lower().split()) for name in names if "(" not in name}
    return names | {_folded(name) for name in names}


def _build_names() -> tuple[dict[str, str], dict[str, set[str]], dict[str, list[str]]]:
    """(full name -> code, bare name -> candidate codes, code -> country words). Full names are
    CLDR's ("Cypriot pounds") and its country names before the bare name ("Cyprus pounds")."""
    full: dict[str, set[str]] = defaultdict(set)
    bare: dict[str, set[str]] = defaultdict(set)
    places: dict[str, list[str]] = {}
    for code in sorted(CODES):
        names = _english_names(code)
        territories = [ENGLISH.territories[t] for t, _ in _USED[code] if t in ENGLISH.territories]
        for name in names:
            *adjective, noun = name.split()
            if adjective:
                full[name].add(code)
                for place in territories:
                    if "(" not in place:
                        full[_folded(f"{place} {noun}".lower())].add(code)
            if code in _BARE_CANDIDATES:
                bare[noun].add(code)
        adjective = " ".join(ENGLISH.currencies[code].split()[:-1])
        places[code] = sorted({_folded(word) for word in [adjective, *territories, *EXTRA_PLACES.get(code, [])] if word})
    # A full name of two currencies ("Bulgarian lev" of 1962 and of 1999) means the current one.
    full_names = {}
    for name, codes in full.items():
        current = codes & _BARE_CANDIDATES
        if len(codes) == 1 or len(current) == 1:
            full_names[name] = min(current or codes)
    for spelling, name in SPELLINGS.items():
        bare[spelling] |= bare[name]
    return full_names, dict(bare), places


FULL_NAMES, _BARE_NAMES, _PLACES = _build_names()


def _context_rule(codes: set[str], default: str | None) -> tuple[list[tuple[str, str]], str | None]:
    patterns = [("|".join(re.escape(place) for place in sorted(_PLACES[code], key=len, reverse=True)), code)
                for code in sorted(codes) if _PLACES[code]]
    return patterns, default


def _bare_names() -> tuple[dict[str, str], dict[str, tuple[list[tuple[str, str]], str | None]]]:
    """(bare name -> code or the name itself when ambiguous, ambiguous name -> context rule)."""
    plain: dict[str, str] = {}
    context: dict[str, tuple[list[tuple[str, str]], str | None]] = {}
    for name, codes in _BARE_NAMES.items():
        if name in NEVER_BARE:
            continue
        if name in ("dollar", "dollars"):
            plain[name] = "USD"
        elif len(codes) == 1 and name not in ENGLISH_WORDS:
            plain[name] = next(iter(codes))
        elif codes:
            plain[name] = name
            context[name] = _context_rule(codes, None if name in ENGLISH_WORDS else AMBIGUOUS_DEFAULTS.get(name))
    return plain, context


BARE_NAMES, CONTEXT_RULES = _bare_names()
CONTEXT_RULES["¥"] = YEN_OR_YUAN


def cldr_symbols() -> dict[str, str]:
    """{symbol: code} for the CLDR symbols written as letters then one currency sign ("$",
    "HK$", "₺", "GH₵"), as the English locales and every language's own locale write them
    (babel has no "narrow" symbols: a language's locale writes its own currency narrow, "₺" in
    Turkish). A symbol of several currencies keeps the one English gives it ("$" is USD) or is
    left out. Symbols of letters only ("R", "K", "Q", "kr", "Rp") are left out: they are English
    words and parts of names such as "Q3" or "P5"."""
    english = {symbol: code for code, symbol in ENGLISH.currency_symbols.items()}
    seen: dict[str, set[str]] = defaultdict(set)
    for identifier in locale_identifiers():
        if "_" in identifier and not identifier.startswith("en_"):
            continue  # a country's variant of a language repeats the language's symbols
        for code, symbol in load(identifier, merge_inherited=False).get("currency_symbols", {}).items():
            if code in CODES and re.fullmatch(r"[A-Za-z]*[^\w\s]", symbol) and unicodedata.category(symbol[-1]) == "Sc":
                seen[symbol].add(code)
    return {symbol: english.get(symbol) or min(codes) for symbol, codes in seen.items()
            if len(codes) == 1 or symbol in english}


# cldr_symbols reads every locale of babel's CLDR data: 0.45 s in each process that imports
# this module, NER workers included. Its result is kept in this file instead (`python -m
# tasks.currencies` writes it; tests/test_numbers.py checks it against babel's data).
SYMBOLS_FILE = Path(__file__).with_name("currency_symbols.json")
SYMBOLS = json.loads(SYMBOLS_FILE.read_text(encoding="utf-8")) | EXTRA_SYMBOLS


if __name__ == "__main__":
    print(json.dumps(cldr_symbols(), ensure_ascii=False, indent=0, sort_keys=True))
