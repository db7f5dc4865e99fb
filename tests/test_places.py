"""Places to countries (tasks/places.py): names from the pinned data packages, and the
document's other places deciding ambiguous names."""

from __future__ import annotations

import pytest

from tasks.places import candidates, country_codes, fold


@pytest.mark.parametrize(("name", "label", "code"), [
    # Countries by their ISO names, common names and other spellings.
    ("China", "GPE", "CN"), ("United States", "GPE", "US"), ("United Kingdom", "GPE", "GB"), ("Holland", "GPE", "NL"),
    ("Taiwan", "GPE", "TW"), ("Hong Kong", "GPE", "HK"), ("the Netherlands", "GPE", "NL"), ("Côte d'Ivoire", "GPE", "CI"),
    # Demonyms, also in the plural.
    ("British", "NORP", "GB"), ("Dutch", "NORP", "NL"), ("Chinese", "NORP", "CN"), ("Americans", "NORP", "US"),
    # Subdivisions and provinces, with or without the administrative word.
    ("Scotland", "GPE", "GB"), ("Texas", "GPE", "US"), ("Guangdong", "GPE", "CN"), ("Hebei Province", "GPE", "CN"),
    ("Gujarat", "GPE", "IN"),
    # Cities, a capital standing for its government, and "City of".
    ("Beijing", "GPE", "CN"), ("City of Seattle", "GPE", "US"), ("Washington", "GPE", "US"),
    # Without other places: a country's name beats a state's, a region beats a city, a larger city a smaller one.
    ("Georgia", "GPE", "GE"), ("Birmingham", "GPE", "GB"), ("Paris", "GPE", "FR"), ("Madrid", "GPE", "ES"),
    ("Mexico", "GPE", "MX"),
    # No single country: continents, regions, groups, parties, other labels.
    ("Asia", "LOC", None), ("Europe", "LOC", None), ("Middle East", "LOC", None), ("Muslim", "NORP", None),
    ("Tory", "NORP", None), ("Democrats", "NORP", None), ("China", "ORG", None), ("Paris", "PERSON", None),
    ("Atlantis", "GPE", None),
])
def test_a_place_gets_its_country(name: str, label: str, code: str | None):
    assert country_codes([(name, label)]) == [code]


@pytest.mark.parametrize(("mentions", "codes"), [
    # Georgia the US state when the story names places in the US ...
    ([("Georgia", "GPE"), ("Atlanta", "GPE"), ("Texas", "GPE")], ["US", "US", "US"]),
    # ... but the country Georgia when it names only the United States itself.
    ([("Georgia", "GPE"), ("United States", "GPE")], ["GE", "US"]),
    # The namesake in the country of the story's other places: Hamilton beside Auckland.
    ([("Hamilton", "GPE"), ("Auckland", "GPE"), ("Christchurch", "GPE")], ["NZ", "NZ", "NZ"]),
    ([("Hamilton", "GPE"), ("Toronto", "GPE")], ["CA", "CA"]),
    # ... unless it has less than a fifth of the people of the default: Moscow in a story that
    # names Houston, and (known misses) Perth in Scotland or Birmingham in Alabama.
    ([("Moscow", "GPE"), ("Houston", "GPE")], ["RU", "US"]),
    ([("Perth", "GPE"), ("Dundee", "GPE"), ("Glasgow", "GPE")], ["AU", "GB", "GB"]),
    ([("Birmingham", "GPE"), ("Alabama", "GPE"), ("Montgomery", "GPE")], ["GB", "US", "US"]),
    # A country's name never becomes a foreign town's.
    ([("Mexico", "GPE"), ("Manila", "GPE"), ("Cebu", "GPE")], ["MX", "PH", "PH"]),
    # A small place needs its country among the story's places.
    ([("Karlovac", "GPE")], [None]),
    ([("Karlovac", "GPE"), ("Croatia", "GPE")], ["HR", "HR"]),
    ([("Manzhouli", "GPE"), ("Inner Mongolia", "GPE"), ("China", "GPE")], ["CN", None, "CN"]),
])
def test_ambiguous_names_follow_the_documents_other_places(mentions, codes):
    assert country_codes(mentions) == codes


def test_every_mention_of_a_name_gets_the_same_country():
    mentions = [("Georgia", "GPE"), ("Atlanta", "GPE"), ("Georgia", "GPE"), ("Georgia", "ORG")]
    assert country_codes(mentions) == ["US", "US", "US", None]


@pytest.mark.parametrize(("name", "folded"), [
    ("the Côte d’Ivoire", "cote d'ivoire"), ("U.S.", "us"), ("  New   York ", "new york"), ("Gujarāt", "gujarat"),
])
def test_fold(name: str, folded: str):
    assert fold(name) == folded


def test_candidates_of_an_ambiguous_name_rank_how_each_country_knows_it():
    found = candidates("Georgia", "GPE")
    assert set(found) >= {"GE", "US"} and found["GE"].rank < found["US"].rank
