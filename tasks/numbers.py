"""Numbers: money, percentages, percentage points and counts, with values and USD amounts.

The grammar (regular expressions, linear in the text's length; see docs/numbers.md):
- number: "1,071.74", "383.35", ".5", or spelled out ("five", "twenty-three", "a" before a scale);
  negative only with an explicit minus sign, "minus" or "negative".
- scale: thousand/k, million/m/mn/mln, billion/bn/bln/b, trillion/tn/trn/trln, lakh, crore;
  one-letter scales ("$5m") must be glued to the number.
- money: a currency before ("$", "US$", "HK$", "hk $", "£", "₺", "RMB ", "CNY1.2bn", "Australian
  dollar 29.4bn") or after ("yuan", "Danish kroner", "pesetas", "pence", "12,000-yuan",
  "418bn-rand") the amount; the vocabulary is CLDR's (tasks/currencies.py). ISO codes only in
  capitals. A bare "$" or "dollars" is USD; "¥" is CNY when the document mentions China, else
  JPY; other shared names ("francs", "pesos") go by the countries the document names.
- percent: "%", "percent", "per cent", "pct", "3.3-percent"; "percentage point(s)" is its own kind.
- count: a plain number that is not money, percent, a year, a date, a time, an ordinal or part
  of a name or identifier ("COVID-19", "G20", "5G", "A380", "Boeing 737").
- ranges ("10 to 15 percent", "10-15%", "$10-$15m"): one row per endpoint, with the unit and
  scale of the right endpoint shared back to the left.
- qualifiers: "about", "nearly", ... set `approximate`; "more than", "up to", ... set `bound`.
  Direction words ("fell 3%") do not change the sign; parentheses are never a negative sign.
- exchange-rate statements ("8.28 yuan to the dollar") are not amounts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from bisect import bisect_right
import re
from dataclasses import dataclass, replace
from datetime import date

from tasks.currencies import (
    BARE_NAMES, CODES, CONTEXT_RULES, EXTRA_NAMES, FULL_NAMES, MINOR_UNITS, SPACED_SYMBOL_EXCEPTIONS, SYMBOLS,
)
from tasks.errors import ErrorRecord
from tasks.fx import usd_rate

STAGE = "numbers"

UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
WORD_VALUES = {word: i for i, word in enumerate(UNITS)} | {word: 20 + 10 * i for i, word in enumerate(TENS)}
WORD_VALUES |= {"a": 1, "an": 1, "a half": 0.5, "half a": 0.5, "half of a": 0.5, "a quarter": 0.25,
                "quarter": 0.25, "a quarter of a": 0.25, "quarter of a": 0.25, "three-quarters of a": 0.75,
                "three quarters of a": 0.75}

SCALES = {
    "thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6, "mln": 1e6,
    "billion": 1e9, "bn": 1e9, "bln": 1e9, "b": 1e9, "trillion": 1e12, "tn": 1e12,
    "trn": 1e12, "trln": 1e12, "lakh": 1e5, "lakhs": 1e5, "crore": 1e7, "crores": 1e7,
}

# The currency vocabulary (tasks/currencies.py, from CLDR): symbols and codes before the amount,
# names on either side, minor units after it. Keys are lower-cased, spaces single; symbol keys
# have no spaces ("hk $" is "hk$").
PREFIX_SYMBOLS = {symbol.lower(): code for symbol, code in SYMBOLS.items()}
PREFIX_NAMES = FULL_NAMES | {name: code for name, code in EXTRA_NAMES.items() if " " in name}
SUFFIX_CURRENCIES = {name: (code, 1.0) for name, code in (BARE_NAMES | FULL_NAMES | EXTRA_NAMES).items()} | MINOR_UNITS
CONTEXT_CURRENCIES = CONTEXT_RULES
PERCENT_UNITS = {"%": "percent", "percent": "percent", "per cent": "percent", "pct": "percent",
                 "percentage point": "percentage_points", "percentage points": "percentage_points",
                 "percentage-point": "percentage_points", "pp": "percentage_points"}
APPROXIMATE = {"about", "around", "approximately", "roughly", "nearly", "almost", "some",
               "an estimated", "estimated", "close to", "circa", "approx."}
LOWER_BOUND = {"more than", "over", "at least", "above", "exceeding", "upwards of", "in excess of"}
UPPER_BOUND = {"less than", "under", "up to", "fewer than", "below", "as much as", "as many as", "at most"}


def _alternation(words) -> str:
    return "|".join(re.escape(word).replace(r"\ ", r"\s+") for word in sorted(words, key=len, reverse=True))


def _leading_letters(form: str) -> str:
    return re.match(r"[^\W\d_]*", form).group().lower()


OPTIONAL_SPACE = "\0"  # in a word given to _trie: an optional space ("HK $")


def _trie(words: Iterable[str]) -> str:
    """An alternation of `words` as a trie, longest match first like _alternation: with hundreds
    of currency names, the engine then tries one branch per character instead of every name."""
    tree: dict = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        special = {" ": r"\s+", OPTIONAL_SPACE: r"\s?"}
        branches = [special.get(char, re.escape(char)) + pattern(child) for char, child in sorted(node.items()) if char]
        branches += [""] if "" in node else []  # the word ending here, after the longer ones
        return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"

    return pattern(tree)


def _symbol_forms(symbol: str) -> list[str]:
    """A symbol as written; a dollar sign after letters also tokenised with a space ("HK $",
    "c $", as wire text writes them; "the UK £1bn" is the country before the pound sign)."""
    letters = _leading_letters(symbol)
    if not letters or symbol != letters + "$" or letters in SPACED_SYMBOL_EXCEPTIONS:
        return [symbol]
    return [letters + OPTIONAL_SPACE + "$"]


_DIGITS = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!,\d{3})|\.\d+"
_FRACTIONS = r"(?:a\s+)?quarter(?:\s+of\s+a)?|three[\s-]quarters\s+of\s+a|a\s+half|half(?:\s+of)?\s+a"
_WORDS = rf"(?:(?:{'|'.join(TENS)})(?:-(?:{'|'.join(UNITS[1:10])}))?|{_FRACTIONS}|{'|'.join(UNITS)})\b"
# Not inside another number, word or identifier ("COVID-19", "A380"); "10-15%" is allowed.
# Currency signs a symbol can start with ("$", "₺"); "HK$" starts with a word.
_SIGNS = "".join(sorted({symbol[0] for symbol in SYMBOLS if not symbol[0].isalpha()}))
_NUMBER_START = rf"(?<![\w.,/{re.escape(_SIGNS)}])(?<![^\W\d_]-)"


def _number(form: str) -> str:
    """A signed number; group names carry the form because Python's re wants unique names."""
    return (rf"(?P<neg_{form}>(?:\bminus|\bnegative)\s+|-|−)?"
            rf"(?:(?P<digits_{form}>{_DIGITS})|(?P<words_{form}>{_WORDS}))")


def _scale(form: str) -> str:
    spaced = _alternation(word for word in SCALES if len(word) > 1)
    return rf"(?:[\s-]?(?P<scale_{form}>{spaced})\b|(?P<glued_{form}>[mbk])\b)"


_A_SCALE = rf"(?P<a_word>an?)\s+(?P<a_scale>{_alternation(['thousand', 'million', 'billion', 'trillion'])})\b"
# ISO codes count only in capitals next to a number: "ALL5", "DKK 300", "300 DKK" but not
# "all 5 companies".
_CODES = rf"(?-i:{_trie(CODES)})"
_PREFIX = (rf"(?P<prefix>{_trie(form for symbol in PREFIX_SYMBOLS for form in _symbol_forms(symbol))}"
           rf"|{_CODES}(?=\s?\d)|{_trie(PREFIX_NAMES)}(?=\s\d))")
_SUFFIX = rf"[\s-]?(?P<suffix>{_trie(SUFFIX_CURRENCIES)}|{_CODES})(?![\w$])"
_PERCENT = rf"[\s-]?(?P<percent>%|{_alternation(w for w in PERCENT_UNITS if w != '%')})(?!\w)"

# Forms, tried in this order at each position: money with the currency before, money with the
# currency after, percentages, counts.
QUANTITY = re.compile(
    # Every form starts at a digit, a sign or currency symbol, or the start of a word: failing
    # fast everywhere else makes the scan about twice as fast.
    rf"(?:(?=[\d.{re.escape(_SIGNS)}\-−])|\b(?=[A-Za-z]))"
    rf"(?:(?P<before>(?<![\w$])(?:(?<!['’])|(?=[^A-Za-z])){_PREFIX}\s?{_number('before')}(?:{_scale('before')})?)"
    rf"|(?P<after>{_NUMBER_START}(?:{_A_SCALE}|{_number('after')}(?:{_scale('after')})?){_SUFFIX})"
    rf"|(?P<pct>{_NUMBER_START}{_number('pct')}{_PERCENT})"
    rf"|(?P<count>{_NUMBER_START}(?P<neg_count>-)?(?P<digits_count>{_DIGITS})(?:{_scale('count')})?(?![\w%]|[.,:/]\d)))",
    re.IGNORECASE,
)
MONTH_ABBREVIATIONS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec"]
_MONTHS = rf"(?:{'|'.join(MONTH_ABBREVIATIONS)})[a-z]*\.?"
# Spans whose numbers are dates, times or phone numbers, never quantities.
NOT_QUANTITY = re.compile(
    r"(?:(?=[\d+(])|\b(?=[A-Za-z]))(?:"  # fail fast inside words, as QUANTITY does
    rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:\s*(?:-|–|to|and)\s*\d{{1,2}}(?!\d))?(?:,?\s+\d{{4}})?"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:(?:-|–|to|and)\s*\d{{1,2}}\s+)?{_MONTHS}(?:\s+\d{{4}})?"
    r"|\b\d{1,2}(?::\d\d){1,2}(?:\s?[ap]\.?m\.?)?|\b\d{1,2}\s?[ap]\.?m\.?(?!\w)"
    r"|(?:\+\d{1,3}[\s-])?\(?\b\d{2,4}\)?[\s-]\d{3,4}[\s-]\d{4}\b"
    r"|\b\d{4}-\d\d-\d\d\b)",
    re.IGNORECASE,
)


# Where a match of QUANTITY or NOT_QUANTITY can start: a run of digits, a sign, symbol or
# bracket, or a word. `finditer` would try their long alternations at every word; `_matches`
# tries them only at the words their forms start with, which finds the same matches about three
# times faster. A word with a non-ASCII letter is always tried (IGNORECASE folds a few, such as
# the Kelvin sign, onto ASCII letters).
_CANDIDATE_START = re.compile(rf"\d+|[.{re.escape(_SIGNS)}\-−+(]|\b[^\W\d_]+")
QUANTITY_FIRST_WORDS = frozenset(
    _leading_letters(form) for form in [*PREFIX_SYMBOLS, *PREFIX_NAMES, *WORD_VALUES, "minus", "negative"]
) - {""}
_MONTH_FIRST_LETTERS = frozenset(month[:3].lower() for month in MONTH_ABBREVIATIONS)


def _matches(pattern: re.Pattern, text: str, starts_a_match: Callable[[str], bool]) -> Iterator[re.Match]:
    """`pattern.finditer(text)`, tried only at candidate starts, and at a word only when
    `starts_a_match(word)`. Positions skipped can never start a match, so the
    matches are finditer's."""
    end = 0
    for candidate in _CANDIDATE_START.finditer(text):
        start, word = candidate.start(), candidate.group()
        if start < end or (word[0].isalpha() and word.isascii() and not starts_a_match(word)):
            continue
        match = pattern.match(text, start)
        if match:
            yield match
            end = match.end()


def quantity_matches(text: str) -> Iterator[re.Match]:
    """QUANTITY.finditer(text), faster (see _matches)."""
    return _matches(QUANTITY, text, lambda word: word.lower() in QUANTITY_FIRST_WORDS or word in CODES)


def not_quantity_matches(text: str) -> Iterator[re.Match]:
    """NOT_QUANTITY.finditer(text), faster: of words, only month names start a match."""
    return _matches(NOT_QUANTITY, text, lambda word: word[:3].lower() in _MONTH_FIRST_LETTERS)


# Exchange-rate statements: "8.28 yuan to the dollar", "1.31 euros per US dollar",
# "One dollar bought 102.55 yen", "strengthened against the dollar to 104.53 yen".
_FX_WORD = r"(?:U\.?S\.?\s+)?(?:dollar|euro|pound|yen|yuan|sterling|greenback)"
EXCHANGE_RATE_AFTER = re.compile(
    rf"\s*(?:(?:to|per|against|for)\s+(?:the\s+|one\s+|a\s+|each\s+|1\s+)?{_FX_WORD}"
    r"|(?:bought|buys|fetched|fetches|(?:was|is)\s+worth)\s)",
    re.IGNORECASE,
)
EXCHANGE_RATE_BEFORE = re.compile(
    rf"\b(?:against|versus|vs\.?|one|a|the|each)\s+{_FX_WORD}s?\b[^.;$£€¥\d]{{0,40}}?"
    r"\b(?:bought|buys|buying|fetched|fetches|fetching|worth|to|at)\s+$",
    re.IGNORECASE,
)
# "481.42m yuan ($58.16m; £30.7m)": one amount in three currencies.
LINK_OPEN = re.compile(r"\s*\(\s*(?:about|around|approximately|roughly|nearly|almost|some|or)?\s*")
LINK_JOINER = re.compile(r"\s*(?:;|,|/|or|and)\s*")
LINK_CLOSE = re.compile(r"\s*\)")
USD_MISMATCH_TOLERANCE = 0.02
RANGE_JOINER = re.compile(r"^\s*(?:-|–|to)\s*$", re.IGNORECASE)
BETWEEN_JOINER = re.compile(r"^\s*and\s*$", re.IGNORECASE)
BETWEEN_BEFORE = re.compile(r"\bbetween\s+$", re.IGNORECASE)
QUALIFIER_BEFORE = re.compile(
    rf"(?P<q>{_alternation(APPROXIMATE | LOWER_BOUND | UPPER_BOUND)})\s*$", re.IGNORECASE
)
CAPITALISED_WORD_BEFORE = re.compile(r"\b[A-Z][\w-]*\s$")
SENTENCE_END = re.compile(r"(?:^|[.!?:;\"'“”(\n])\s*$")


@dataclass(frozen=True)
class Quantity:
    """A number found in a text, before currency conversion."""

    text: str
    start_char: int
    end_char: int
    kind: str
    value: float
    currency: str | None = None
    approximate: bool = False
    bound: str | None = None
    scale: float = 1.0
    amount_id: int = 0


@dataclass(frozen=True)
class QuantityRow:
    """One row of the `quantities` table."""

    doc_id: str
    text: str
    start_char: int
    end_char: int
    kind: str
    value: float
    currency: str | None
    fraction: float | None
    value_usd: float | None
    fx_rate: float | None
    fx_rate_date: date | None
    fx_rate_source: str | None
    approximate: bool
    bound: str | None
    amount_id: int
    stated_usd: float | None
    usd_mismatch: bool | None


def _form(match: re.Match) -> str:
    return next(form for form in ("before", "after", "pct", "count") if match[form])


def _number_value(match: re.Match, form: str) -> float:
    digits, words = match[f"digits_{form}"], form != "count" and match[f"words_{form}"]
    if digits:
        value = float(digits.replace(",", ""))
    else:
        words = " ".join(words.lower().split())
        value = WORD_VALUES.get(words) or sum(WORD_VALUES[part] for part in words.split("-"))
    return -value if match[f"neg_{form}"] else value


def _scale_value(match: re.Match, form: str) -> float:
    if form == "after" and match["a_scale"]:
        return SCALES[match["a_scale"].lower()]
    if form == "pct":
        return 1.0
    scale = match[f"scale_{form}"] or match[f"glued_{form}"]
    return SCALES[" ".join(scale.lower().split())] if scale else 1.0


def _qualifiers(text: str, start: int) -> tuple[bool, str | None]:
    found = QUALIFIER_BEFORE.search(text[max(0, start - 25):start])
    if not found:
        return False, None
    qualifier = " ".join(found["q"].lower().split())
    bound = "lower" if qualifier in LOWER_BOUND else "upper" if qualifier in UPPER_BOUND else None
    return qualifier in APPROXIMATE, bound


# {ambiguous name: ([(country pattern, ISO code), ...], default)}, compiled once.
_CONTEXT_PATTERNS = {name: ([(re.compile(rf"\b(?:{pattern})"), code) for pattern, code in countries], default)
                     for name, (countries, default) in CONTEXT_CURRENCIES.items()}


class CurrencyContext:
    """Resolves ambiguous currency names ("rupees", "¥") for one document: the currency of the
    country the text mentions most often among the candidates (the name's default on a tie),
    else the default. Computed on first use, since most documents have no ambiguous name."""

    def __init__(self, text: str):
        self.text = text
        self.resolved: dict[str, str | None] = {}

    def resolve(self, name: str) -> str | None:
        """The ISO code `name` stands for in this document, or None when it stays ambiguous."""
        if name not in self.resolved:
            countries, default = _CONTEXT_PATTERNS[name]
            counts = {code: len(pattern.findall(self.text)) for pattern, code in countries}
            best_count, best_code = max((count, code) for code, count in counts.items())
            if best_count == 0 or counts.get(default) == best_count:
                best_code = default
            self.resolved[name] = best_code
        return self.resolved[name]


def _currency(match: re.Match, context: CurrencyContext) -> tuple[str | None, float]:
    """(ISO code, factor to the major unit) of a money match; None when it stays ambiguous."""
    prefix, suffix = match["prefix"], match["suffix"]
    if prefix:
        symbol = "".join(prefix.lower().split())
        if symbol in CONTEXT_CURRENCIES:
            return context.resolve(symbol), 1.0
        return PREFIX_SYMBOLS.get(symbol) or PREFIX_NAMES.get(" ".join(prefix.lower().split())) or prefix, 1.0
    if suffix in CODES:
        return suffix, 1.0
    code, factor = SUFFIX_CURRENCIES[" ".join(suffix.lower().split())]
    return (context.resolve(code) if code in CONTEXT_CURRENCIES else code), factor


def _is_count(match: re.Match, text: str, scale: float) -> bool:
    start = match.start()
    if match["neg_count"] and start > 0 and not text[start - 1].isspace():
        return False
    if scale == 1 and re.fullmatch(r"1[5-9]\d\d|20\d\d", match["digits_count"]):
        return False  # a year
    return scale != 1 or not _follows_name(text, start)


def _follows_name(text: str, start: int) -> bool:
    """True after a capitalised word that does not start a sentence: "Boeing 737", "Windows 10"."""
    word = CAPITALISED_WORD_BEFORE.search(text, max(0, start - 40), start)
    return word is not None and not SENTENCE_END.search(text, max(0, word.start() - 5), word.start())


def _is_exchange_rate_target(text: str, start: int, currency: str) -> bool:
    """True for "against the dollar to 104.53 yen": another currency, then the rate."""
    before = EXCHANGE_RATE_BEFORE.search(text, max(0, start - 60), start)
    if before is None:
        return False
    named = before.group().lower()
    same = {"USD": ("dollar", "greenback"), "EUR": ("euro",), "GBP": ("pound", "sterling"),
            "JPY": ("yen",), "CNY": ("yuan",)}.get(currency, ())
    return not any(word in named.split()[0] for word in same)


def _parse(match: re.Match, text: str, context: CurrencyContext) -> Quantity | None:
    form = _form(match)
    start, end = match.span()
    scale = _scale_value(match, form)
    value = (1.0 if form == "after" and match["a_word"] else _number_value(match, form)) * scale
    currency = None
    if form == "count":
        if not _is_count(match, text, scale):
            return None
        kind = "count"
    elif form == "pct":
        kind = PERCENT_UNITS[" ".join(match["percent"].lower().split())]
    else:
        if EXCHANGE_RATE_AFTER.match(text, end):
            return None
        currency, factor = _currency(match, context)
        if currency is None or _is_exchange_rate_target(text, start, currency):
            return None
        kind, value = "money", value * factor
    if not math.isfinite(value):
        return None
    approximate, bound = _qualifiers(text, start)
    return Quantity(match.group(), start, end, kind, value, currency, approximate, bound, scale)


def _is_range(text: str, left: Quantity, right: Quantity) -> bool:
    """"10 to 15", "10-15", or "between 10 and 15"."""
    joiner = text[left.end_char:right.start_char]
    if RANGE_JOINER.match(joiner):
        return True
    return bool(BETWEEN_JOINER.match(joiner) and BETWEEN_BEFORE.search(text, max(0, left.start_char - 12), left.start_char))


def _share_range_units(quantities: list[Quantity], text: str) -> list[Quantity]:
    """Give the left endpoint of a range the kind, currency and scale of the right one."""
    shared = list(quantities)
    for i in range(len(shared) - 1):
        left, right = shared[i], shared[i + 1]
        if not _is_range(text, left, right):
            continue
        if left.kind == "count" and right.kind != "count":
            scale = right.scale if left.scale == 1 else 1.0
            shared[i] = replace(left, kind=right.kind, value=left.value * scale, currency=right.currency,
                                scale=left.scale * scale)
        elif left.kind == "money" and right.kind in ("money", "count"):
            if right.kind == "count":  # "$10-15m": the right endpoint takes the currency
                shared[i + 1] = right = replace(right, kind="money", currency=left.currency)
            if left.scale == 1 != right.scale:
                shared[i] = replace(left, value=left.value * right.scale, scale=right.scale)
    return shared


def find_quantities(text: str) -> list[Quantity]:
    """Every money amount, percentage, percentage-point change and count in `text`."""
    excluded = [m.span() for m in not_quantity_matches(text)]  # sorted, non-overlapping
    excluded_ends = [end for _, end in excluded]
    context = CurrencyContext(text)
    found = []
    for match in quantity_matches(text):
        start, end = match.span()
        i = bisect_right(excluded_ends, start)  # the first excluded span ending after `start`
        if i < len(excluded) and excluded[i][0] < end:
            continue
        quantity = _parse(match, text, context)
        if quantity is not None:
            found.append(quantity)
    return link_amounts(_share_range_units(found, text), text)


def quantity_spans(text: str) -> list[tuple[int, int, int, str]]:
    """(start, end, amount id, kind) of every quantity in `text`: what the entities stage is
    given of the numbers stage's rows (tests and benchmarks call this in its place)."""
    return [(q.start_char, q.end_char, q.amount_id, q.kind) for q in find_quantities(text)]


def link_amounts(quantities: list[Quantity], text: str) -> list[Quantity]:
    """Number the amounts of a text; rows that state one amount in several currencies,
    "481.42m yuan ($58.16m; £30.7m)", share their `amount_id`."""
    linked: list[Quantity] = []
    i = amount_id = 0
    while i < len(quantities):
        last = _last_linked(quantities, i, text) if quantities[i].kind == "money" else i
        linked += [replace(q, amount_id=amount_id) for q in quantities[i:last + 1]]
        i, amount_id = last + 1, amount_id + 1
    return linked


def _last_linked(quantities: list[Quantity], first: int, text: str) -> int:
    """Index of the last money amount in the parenthesis that follows quantities[first]."""
    def joined(left: int, pattern: re.Pattern) -> bool:
        right = left + 1
        return (right < len(quantities) and quantities[right].kind == "money"
                and pattern.fullmatch(text, quantities[left].end_char, quantities[right].start_char) is not None)

    if not joined(first, LINK_OPEN):
        return first
    last = first + 1
    while joined(last, LINK_JOINER):
        last += 1
    return last if LINK_CLOSE.match(text, quantities[last].end_char) else first


def to_rows(doc_id: str, quantities: list[Quantity], published_date: date | None,
            default_fx_date: date | None) -> list[QuantityRow]:
    """Quantities-table rows: percent as a fraction, money in USD, the article's own USD figure
    beside ours on linked amounts, flagged when the two differ by more than 2%."""
    stated = {q.amount_id: q.value for q in quantities if q.currency == "USD"}
    group_sizes = Counter(q.amount_id for q in quantities)
    rows = []
    for quantity in quantities:
        rate = usd_rate(quantity.currency, published_date, default_fx_date) if quantity.kind == "money" else None
        usd = quantity.value * rate.usd_per_unit if rate and rate.usd_per_unit is not None else None
        usd = usd if usd is None or math.isfinite(usd) else None
        stated_usd = None
        if quantity.kind == "money" and quantity.currency != "USD" and group_sizes.get(quantity.amount_id, 1) > 1:
            stated_usd = stated.get(quantity.amount_id)
        mismatch = None
        if stated_usd and usd is not None:
            mismatch = abs(usd - stated_usd) > USD_MISMATCH_TOLERANCE * abs(stated_usd)
        rows.append(QuantityRow(
            doc_id=doc_id, text=quantity.text, start_char=quantity.start_char, end_char=quantity.end_char,
            kind=quantity.kind, value=quantity.value, currency=quantity.currency,
            fraction=quantity.value / 100 if quantity.kind == "percent" else None, value_usd=usd,
            fx_rate=rate.usd_per_unit if rate else None, fx_rate_date=rate.rate_date if rate else None,
            fx_rate_source=rate.source if rate else None, approximate=quantity.approximate, bound=quantity.bound,
            amount_id=quantity.amount_id, stated_usd=stated_usd, usd_mismatch=mismatch,
        ))
    return rows


def extract_quantities(documents: list[dict], default_fx_date: date | None) -> tuple[list[QuantityRow], list[ErrorRecord]]:
    """Quantity rows of every document (rows with doc_id, source, text, published_date).

    A document the parser fails on becomes an error row; the others go on.
    """
    rows: list[QuantityRow] = []
    errors: list[ErrorRecord] = []
    for document in documents:
        try:
            quantities = find_quantities(document["text"])
            rows += to_rows(document["doc_id"], quantities, document["published_date"], default_fx_date)
        except (ValueError, ArithmeticError, KeyError, IndexError) as error:
            errors.append(ErrorRecord(document["source"], STAGE, "numbers_error",
                                      f"{type(error).__name__}: {error}", document["doc_id"]))
    return rows, errors
