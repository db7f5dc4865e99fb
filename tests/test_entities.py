"""Tests for tasks/entities.py: canonical names (pure) and the real spaCy model on the seed."""

from __future__ import annotations

from collections import Counter

import pytest

from tasks.clean import clean_text
from tasks.entities import EXCLUDED_COMPONENTS, canonical_names, extract_entities, is_noise, load_nlp


@pytest.mark.parametrize(
    "mentions, expected",
    [
        ([("Xi Jinping", "PERSON"), ("President Xi", "PERSON"), ("Xi", "PERSON"), ("Xi’s", "PERSON")],
         ["Xi Jinping"] * 4),
        ([("Bernie Ebbers", "PERSON"), ("Mr Ebbers", "PERSON")], ["Bernie Ebbers", "Bernie Ebbers"]),
        ([("Liu Hua", "PERSON"), ("Liu", "PERSON")], ["Liu Hua", "Liu Hua"]),
        ([("Tony Blair", "PERSON"), ("Cherie Blair", "PERSON"), ("Blair", "PERSON")],
         ["Tony Blair", "Cherie Blair", "Blair"]),  # ambiguous: left alone
        ([("the World Intellectual Property Organization", "ORG"), ("WIPO", "ORG")],
         ["World Intellectual Property Organization"] * 2),
        ([("ASEAN", "ORG")], ["Association of Southeast Asian Nations"]),
        ([("the Bank of England's", "ORG")], ["Bank of England"]),
        ([("U.S.", "GPE"), ("the United States", "GPE"), ("America", "GPE"), ("US", "GPE")], ["United States"] * 4),
        ([("UK", "GPE"), ("Britain", "GPE"), ("the United Kingdom", "GPE")], ["United Kingdom"] * 3),
    ],
)
def test_canonical_names(mentions, expected):
    assert canonical_names(mentions) == expected


@pytest.mark.parametrize(
    "text, label, noise",
    [('"', "ORG", True), ("“ ”", "ORG", True), ("COVID-19", "ORG", True), ("WIPO", "ORG", False), ("Xi", "PERSON", False)],
)
def test_is_noise(text: str, label: str, noise: bool):
    assert is_noise(text, label) is noise


def test_lean_pipeline_components():
    nlp = load_nlp()
    assert nlp.pipe_names == ["senter", "ner"]
    assert not set(EXCLUDED_COMPONENTS) & set(nlp.component_names)


def test_seed_entities(seed_text: str):
    text = clean_text(seed_text)
    mentions, errors = extract_entities(load_nlp(), [{"doc_id": "seed", "source": "seed.txt", "text": text}])
    assert errors == []
    for mention in mentions:
        assert text[mention.start_char:mention.end_char] == mention.text
    people = {m.canonical for m in mentions if m.label == "PERSON"}
    assert people == {"Xi Jinping", "Liu Hua", "Zuo Xiaodong", "Hu Zucai", "Wang Wenbin", "Antonio Guterres", "Shen Yi"}
    counts = Counter(m.canonical for m in mentions if m.label == "PERSON")
    assert counts["Xi Jinping"] == sum(1 for m in mentions if m.text.startswith("Xi"))
    wipo = {m.canonical for m in mentions if m.text in ("WIPO", "the World Intellectual Property Organization")}
    assert wipo == {"World Intellectual Property Organization"}
    assert not any("Photo" in m.text or "COVID" in m.text for m in mentions)
    assert [m.sentence for m in mentions] == sorted(m.sentence for m in mentions)
