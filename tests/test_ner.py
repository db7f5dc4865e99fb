"""Tests for tasks/ner.py: the lean pipeline, noise rules, canonical names, long texts, BBC cases."""

from __future__ import annotations

import functools
import json
from collections import Counter

import pytest

import tasks.ner
from tasks.clean import clean_text
from tests.conftest import REPO, load_bench_script
from tasks.ner import (
    EXCLUDED_COMPONENTS, MAX_CHUNK_CHARS, PARSER_COMPONENTS, Span, canonical_names, consistent_people, extract_entities, is_noise, load_nlp,
    capitals_runs, consistent_short_forms, name_span, restored_case, restored_windows, text_chunks, titled_people,
)
from tasks.settings import SPACY_MODEL, corpora_dir


@pytest.mark.parametrize(
    "mentions, expected",
    [
        ([("Xi Jinping", "PERSON"), ("President Xi", "PERSON"), ("Xi", "PERSON"), ("Xi’s", "PERSON")],
         ["Xi Jinping"] * 4),
        ([("Bernie Ebbers", "PERSON"), ("Mr Ebbers", "PERSON")], ["Bernie Ebbers", "Bernie Ebbers"]),
        ([("Liu Hua", "PERSON"), ("Liu", "PERSON")], ["Liu Hua", "Liu Hua"]),
        ([("Tony Blair", "PERSON"), ("Cherie Blair", "PERSON"), ("Blair", "PERSON")],
         ["Tony Blair", "Cherie Blair", "Blair"]),  # two full names, each once: left alone
        ([("Jimi Hendrix", "PERSON"), ("Al Hendrix", "PERSON"), ("Jimi Hendrix", "PERSON"), ("Hendrix", "PERSON")],
         ["Jimi Hendrix", "Al Hendrix", "Jimi Hendrix", "Jimi Hendrix"]),  # named first and most: his
        ([("Donna Clarkson", "PERSON"), ("Lana Clarkson", "PERSON"), ("Lana Clarkson", "PERSON"),
          ("Ms Clarkson", "PERSON")],
         ["Donna Clarkson", "Lana Clarkson", "Lana Clarkson", "Clarkson"]),  # first is not most: left alone
        ([("Theo van Gogh", "PERSON"), ("Van Gogh", "PERSON"), ("Symmons Roberts", "PERSON"),
          ("Michael Symmons Roberts", "PERSON")],
         ["Theo van Gogh", "Theo van Gogh", "Michael Symmons Roberts", "Michael Symmons Roberts"]),
        ([("Gordon Brown", "PERSON"), ("Gordon", "PERSON"), ("Brownlow", "PERSON")],
         ["Gordon Brown", "Gordon Brown", "Brownlow"]),
        ([("the World Intellectual Property Organization", "ORG"), ("WIPO", "ORG")],
         ["World Intellectual Property Organization"] * 2),
        ([("ASEAN", "ORG")], ["Association of Southeast Asian Nations"]),
        ([("Bradford & Bingley", "ORG"), ("B&B", "ORG")], ["Bradford & Bingley"] * 2),  # "&" spells no initial
        ([("the Bank of England's", "ORG")], ["Bank of England"]),
        ([("U.S.", "GPE"), ("the United States", "GPE"), ("America", "GPE"), ("US", "GPE")], ["United States"] * 4),
        ([("UK", "GPE"), ("Britain", "GPE"), ("the United Kingdom", "GPE")], ["United Kingdom"] * 3),
    ],
)
def test_canonical_names(mentions, expected):
    assert canonical_names(mentions) == expected


@pytest.mark.parametrize(
    "text, label, noise",
    [('"', "ORG", True), ("“ ”", "ORG", True), ("COVID-19", "ORG", True), ("COVID-19", "PERSON", True),
     ("WIPO", "ORG", False), ("Xi", "PERSON", False)],
)
def test_is_noise(text: str, label: str, noise: bool):
    assert is_noise(text, label) is noise


def test_lean_pipeline_components():
    nlp = load_nlp()
    assert nlp.pipe_names == ["senter", "ner"]  # what nlp.pipe runs on every text
    assert not set(EXCLUDED_COMPONENTS) & set(nlp.component_names)
    assert nlp.disabled == PARSER_COMPONENTS  # loaded for the sentences attribution parses


def test_the_tokenizer_not_loaded_from_disk_is_the_one_the_model_saved():
    import spacy

    from_disk = spacy.load(SPACY_MODEL, exclude=EXCLUDED_COMPONENTS)
    fresh = load_nlp.__wrapped__()  # not the cached pipeline, whose vocabulary earlier tests grew
    assert fresh.tokenizer.to_bytes() == from_disk.tokenizer.to_bytes()


def test_seed_entities(seed_text: str):
    text = clean_text(seed_text)
    found = extract_entities(load_nlp(), [{"doc_id": "seed", "source": "seed.txt", "text": text}])
    mentions, errors = found.mentions, found.errors
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


def test_text_chunks_cover_the_text_and_cut_at_whitespace():
    text = ("word " * 50 + "\n") * 40
    chunks = text_chunks(text, max_chars=500)
    assert "".join(chunk for _, chunk in chunks) == text
    assert all(len(chunk) <= 500 for _, chunk in chunks)
    assert all(text[offset - 1].isspace() for offset, _ in chunks[1:])
    assert [offset for offset, _ in chunks] == sorted(offset for offset, _ in chunks)


def test_a_text_that_documents_share_is_parsed_once(seed_text: str):
    nlp = load_nlp()
    parsed = []

    class CountingNlp:
        def pipe(self, texts, **kwargs):
            texts = list(texts)
            parsed.extend(texts)
            return nlp.pipe(texts, **kwargs)

        def __getattr__(self, name):  # the parser's components and tokenizer
            return getattr(nlp, name)

    rows = [{"doc_id": doc_id, "source": f"{doc_id}.txt", "text": text}
            for doc_id, text in (("a", seed_text), ("b", "Angela Merkel visited Paris."), ("c", seed_text))]
    found = extract_entities(CountingNlp(), rows)
    mentions, errors = found.mentions, found.errors
    # The seed's pieces (its text, and a case-restored copy of its words in capitals) and the
    # other text's: nothing of "c", which has the seed's text.
    assert errors == [] and {document for _, (document, *_) in parsed} == {0, 1}
    assert [piece for piece, (document, *_) in parsed if document == 1] == ["Angela Merkel visited Paris."]
    strip = lambda doc_id: [(m.text, m.label, m.start_char, m.sentence, m.canonical)  # noqa: E731
                            for m in mentions if m.doc_id == doc_id]
    assert strip("a") == strip("c") and len(strip("a")) > 50
    assert [m.doc_id for m in mentions if m.doc_id != "b"] == ["a"] * len(strip("a")) + ["c"] * len(strip("c"))
    assert strip("a") == [(m.text, m.label, m.start_char, m.sentence, m.canonical)
                          for m in extract_entities(nlp, rows[:1]).mentions]


LONG_SENTENCE = ("Angela Merkel met Emmanuel Macron in Paris on Monday. "
                 "Later, Merkel told reporters that Macron had agreed. ")


def test_a_long_document_goes_through_ner_in_chunks(monkeypatch):
    """A text over the pipeline's max_length goes through NER in pieces, and its mentions come
    back with the whole document's offsets and canonical names. At a twentieth of the real scale
    (NER on the real 1.1 million characters takes 20-30 s): a max_length of 50,000 characters
    and pieces of at most 5,000; the next test checks the real piece size against the real limit."""
    nlp = load_nlp()
    monkeypatch.setattr(nlp, "max_length", 50_000)
    monkeypatch.setattr(tasks.ner, "text_chunks", functools.partial(text_chunks, max_chars=5_000))
    text = LONG_SENTENCE * 500  # 53,500 characters: over the lowered max_length
    with pytest.raises(ValueError, match="E088"):  # as spaCy refuses a text over the real limit
        nlp(text)
    found = extract_entities(nlp, [{"doc_id": "long", "source": "long.txt", "text": text}])
    mentions, errors = found.mentions, found.errors
    assert errors == []
    people = [m for m in mentions if m.label == "PERSON"]
    assert len(people) > 2 * 500  # as over 20,000 in 10,000 sentences at the real scale
    assert max(m.start_char for m in people) > 10 * 5_000  # mentions from the last pieces too
    assert all(text[m.start_char:m.end_char] == m.text for m in mentions)
    assert {m.canonical for m in people if m.text == "Merkel"} == {"Angela Merkel"}


def test_the_real_piece_size_keeps_a_long_document_under_spacys_limit():
    text = LONG_SENTENCE * 10_000  # 1.1 million characters
    assert len(text) > load_nlp().max_length  # over spaCy's limit as it is
    chunks = text_chunks(text)  # the size extract_entities cuts at
    assert len(chunks) > 1 and "".join(chunk for _, chunk in chunks) == text
    assert all(len(chunk) <= MAX_CHUNK_CHARS < load_nlp().max_length for _, chunk in chunks)
    assert all(text[offset - 1].isspace() for offset, _ in chunks[1:])


def _bbc_cases():
    path = REPO / "tests" / "data" / "bbc_entities.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


BBC = corpora_dir() / "bbc"


@pytest.mark.skipif(not BBC.is_dir(), reason="the BBC corpus is not on this machine")
@pytest.mark.parametrize("case", _bbc_cases(), ids=lambda case: case["file"])
def test_hand_checked_bbc_articles(case: dict):
    """Canonical names on real BBC articles (tests/data/bbc_entities.jsonl, checked by reading).

    Only mentions that spaCy tags with exactly that text are compared: the NER model, not the
    canonicaliser, decides which spans exist.
    """
    text = clean_text((BBC / case["file"]).read_text(encoding="utf-8"))
    mentions = extract_entities(load_nlp(), [{"doc_id": "d", "source": case["file"], "text": text}]).mentions
    found: dict[str, set[str]] = {}
    for mention in mentions:
        found.setdefault(mention.text, set()).add(mention.canonical)
    compared = {text: want for text, want in case["expected"].items() if text in found}
    assert compared, "spaCy tagged none of the expected mentions"
    assert {text: found[text] for text in compared} == {text: {want} for text, want in compared.items()}
    for mention in case.get("ambiguous", []):
        assert all(" " not in name for name in found.get(mention, set())), f"{mention!r} was guessed"


@pytest.mark.parametrize(("gold", "predicted", "tp", "fp", "fn"), [
    ({(0, 4, "PERSON")}, {(0, 4, "PERSON")}, 1, 0, 0),
    ({(0, 4, "PERSON")}, {(0, 4, "ORG")}, 0, 1, 1),  # typed: the right span with another label is wrong twice
    ({(0, 9, "PERSON")}, {(4, 9, "PERSON")}, 0, 1, 1),  # exact spans only
    (set(), {(0, 4, "GPE")}, 0, 1, 0),
    ({(0, 4, "NORP")}, set(), 0, 0, 1),
])
def test_the_entity_scorer_counts_typed_exact_spans(gold, predicted, tp, fp, fn):
    score_entities = load_bench_script("score_entities")
    scores = {label: score_entities.Score() for label in (*score_entities.LABELS, "all")}
    score_entities.score_spans(gold, predicted, scores, "Jane Doe said", "a.txt")
    assert (scores["all"].tp, scores["all"].fp, scores["all"].fn) == (tp, fp, fn)


@pytest.mark.parametrize(("mention", "label", "name"), [
    ("Ms Lomax", "PERSON", "Lomax"),
    ("Prime Minister Tony Blair", "PERSON", "Tony Blair"),
    ("Van Gogh's", "PERSON", "Van Gogh"),
    ("Andrew Collins'", "PERSON", "Andrew Collins"),
    ("Alan Milburn - the", "PERSON", "Alan Milburn"),
    ("Cameron 87", "PERSON", "Cameron"),
    ("SPLIT Esper", "PERSON", "Esper"),
    ("Santini\n\n", "PERSON", "Santini"),
    ("the Bank of England's", "ORG", "Bank of England"),
    ("The Labor Department", "ORG", "Labor Department"),
    ("BBC 6 Music\n\nThe Manic Street Preachers", "ORG", "BBC 6 Music"),
    ("BBC Radio 4", "ORG", "BBC Radio 4"),  # a number in an ORG's name stays
    ("PyeongChang 2018", "ORG", "PyeongChang 2018"),
    ("the U.S.", "GPE", "U.S."),  # a final full stop may be the name's
    ("Norbert Ore.", "PERSON", "Norbert Ore"),  # a sentence's is not
    ("Hank Williams Jr.", "PERSON", "Hank Williams Jr."),
    ("“Xinhua", "ORG", "Xinhua"),
    ("Mr", "PERSON", "Mr"),  # a title alone is left as it is
    ("JK Rowling", "PERSON", "JK Rowling"),  # short capitals are initials, not a heading
    ("President", "ORG", "President"),
    ('" - "', "ORG", None),
])
def test_a_mention_is_cut_to_the_name_it_holds(mention: str, label: str, name: str | None):
    text = "So " + mention + " then."
    span = name_span(Span(3, 3 + len(mention), mention, label, "model"))
    if name is None:
        assert span is None
    else:
        assert (span.text, text[span.start:span.end]) == (name, name)


@pytest.mark.parametrize(("text", "model", "expected"), [
    # a name after a personal title that the model missed, or read as something else
    ("A spokesman, Dr Vancheshwar, told the BBC.", [("BBC", "ORG")],
     [("Vancheshwar", "PERSON", "rule"), ("BBC", "ORG", "model")]),
    ("Mr Toshitsune wants to outlive everyone.", [("Toshitsune", "PRODUCT")], [("Toshitsune", "PERSON", "rule")]),
    ("Observes Mr Hadi's friend.", [], [("Hadi", "PERSON", "rule")]),
    # the model's person, or a span reaching beyond the name, is left alone
    ("Mr Hadi spoke.", [("Hadi", "PERSON")], [("Hadi", "PERSON", "model")]),
    ("Lord Dubs' Succession Bill", [("Dubs' Succession Bill", "LAW")], [("Dubs' Succession Bill", "LAW", "model")]),
    # offices, and "Miss World", are no names
    ("The Lord Chief Justice and the Lord Chancellor met Miss World.", [], []),
])
def test_a_name_after_a_personal_title_is_a_person(text: str, model: list, expected: list):
    found = titled_people(text, _spans(text, *model))
    assert [(span.text, span.label, span.label_source) for span in found] == expected
    assert all(text[span.start:span.end] == span.text for span in found)


def _spans(text: str, *marked: tuple[str, str] | tuple[str, str, int]) -> list[Span]:
    """Model spans: (mention, label) or (mention, label, occurrence) found in `text`."""
    spans = []
    for mention, label, *occurrence in marked:
        start = -1
        for _ in range((occurrence or [1])[0]):
            start = text.index(mention, start + 1)
        spans.append(Span(start, start + len(mention), mention, label, "model"))
    return sorted(spans, key=lambda span: span.start)


@pytest.mark.parametrize(("text", "model", "expected"), [
    # The full name makes a later mislabelled surname a PERSON ("document").
    ("Tony Blair spoke. Blair said no.", [("Tony Blair", "PERSON"), ("Blair", "ORG", 2)],
     [("Tony Blair", "PERSON", "model"), ("Blair", "PERSON", "document")]),
    # A first name the model mislabelled, too.
    ("Jacques Santini left. Jacques said so.", [("Jacques Santini", "PERSON"), ("Jacques", "NORP", 2)],
     [("Jacques Santini", "PERSON", "model"), ("Jacques", "PERSON", "document")]),
    # Missed surnames after the full name are found ("rule"), possessive and after a title too.
    ("Tony Blair spoke. Mr Blair and Blair's aides left.", [("Tony Blair", "PERSON")],
     [("Tony Blair", "PERSON", "model"), ("Blair", "PERSON", "rule"), ("Blair", "PERSON", "rule")]),
    # Hyphenated and Mc/O' surnames are names too; a part after a hyphen is not one on its own.
    ("Robert Kilroy-Silk quit. Kilroy-Silk and Silk left; O'Brien met Sean O'Brien. O'Brien spoke.",
     [("Robert Kilroy-Silk", "PERSON"), ("Sean O'Brien", "PERSON")],
     [("Robert Kilroy-Silk", "PERSON", "model"), ("Kilroy-Silk", "PERSON", "rule"),
      ("Sean O'Brien", "PERSON", "model"), ("O'Brien", "PERSON", "rule")]),
    # A full name the model missed later is one mention, not its surname alone.
    ("Xi Jinping spoke. Later Xi Jinping urged.", [("Xi Jinping", "PERSON")],
     [("Xi Jinping", "PERSON", "model"), ("Xi Jinping", "PERSON", "rule")]),
    # ... but not before the full name, not in other words or case, not inside another mention.
    ("Blair lost. Tony Blair spoke. Blairite blair BLAIR. The Blair Foundation met.",
     [("Tony Blair", "PERSON"), ("Blair Foundation", "ORG")],
     [("Tony Blair", "PERSON", "model"), ("Blair Foundation", "ORG", "model")]),
    # Two full names share the surname: it is a person's all the same (which one: canonical_names).
    ("Tony Blair and Cherie Blair came. Blair spoke.", [("Tony Blair", "PERSON"), ("Cherie Blair", "PERSON"),
                                                       ("Blair", "ORG", 3)],
     [("Tony Blair", "PERSON", "model"), ("Cherie Blair", "PERSON", "model"), ("Blair", "PERSON", "document")]),
    # A player's minute after the name in a sports report is cut off.
    ("James Grady scored. Scorers: Grady 29.", [("James Grady", "PERSON"), ("Grady 29", "ORG")],
     [("James Grady", "PERSON", "model"), ("Grady", "PERSON", "document")]),
    # A "full name" holding a title is the model's mistake, not evidence.
    ("Tory Treasurer Lord Ashcroft gave. Tory MPs agreed.", [("Tory Treasurer Lord", "PERSON"), ("Tory", "NORP", 2)],
     [("Tory Treasurer Lord", "PERSON", "model"), ("Tory", "NORP", "model")]),
    # No full name, no change: Jordan the country stays a GPE.
    ("Jordan and Syria met. Jordan agreed.", [("Jordan", "GPE"), ("Syria", "GPE"), ("Jordan", "GPE", 2)],
     [("Jordan", "GPE", "model"), ("Syria", "GPE", "model"), ("Jordan", "GPE", "model")]),
])
def test_one_person_gets_one_label_in_a_document(text: str, model: list, expected: list):
    found = consistent_people(text, _spans(text, *model))
    assert [(span.text, span.label, span.label_source) for span in found] == expected
    assert all(text[span.start:span.end] == span.text for span in found)


@pytest.mark.parametrize(("text", "runs"), [
    # One word only when the document also writes it not in capitals; acronyms are not.
    ("BERLIN, Nov. 8 (Xinhua) -- Doctors in Berlin said", ["BERLIN"]),
    ("BERLIN, Nov. 8 (Xinhua) -- In a study", []),
    ("COVID cases rose as BRICS met; COVID fell.", []),
    ("1. 骆恒 LORENC JAN 2. 杨依婷 YEONG YI TING", ["LORENC JAN", "YEONG YI TING"]),
    ("XI MEETS BIDEN AS BEIJING SEEKS THAW", ["XI MEETS BIDEN AS BEIJING SEEKS THAW"]),
    ("O'NEILL-SMITH WINS", ["O'NEILL-SMITH WINS"]),
    # Acronyms are left to the model: short words, one short word, single letters.
    ("The BBC and UKIP said US GDP grew; A B C.", []),
    ("Mixed Case Words and lower ones", []),
])
def test_runs_in_capitals(text: str, runs: list[str]):
    assert [text[start:end] for start, end in capitals_runs(text)] == runs


@pytest.mark.parametrize(("text", "guess", "restored"), [
    # Words the document writes elsewhere take that form; others are capitalised ...
    ("BERLIN: Berlin is big.", True, "Berlin: Berlin is big."),
    ("LORENC JAN of Poland.", True, "Lorenc Jan of Poland."),
    # ... but in a headline an unknown word after the first is an ordinary word.
    ("XI MEETS BIDEN AS BEIJING SEEKS THAW. Xi Jinping met Joe Biden as Beijing seeks calm.", True,
     "Xi meets Biden as Beijing seeks thaw. Xi Jinping met Joe Biden as Beijing seeks calm."),
    # A word the document ever writes in lower case is an ordinary word, but a run's first
    # word is capitalised.
    ("OIL AND GAS PRICES RISE. And then oil and gas prices rose.", True,
     "Oil and gas prices rise. And then oil and gas prices rose."),
    # Without guessing, only the forms the document writes elsewhere ("NHTSA" stays).
    ("NHTSA and BIDEN. Joe Biden spoke.", False, "NHTSA and Biden. Joe Biden spoke."),
    # Runs are of A-Z capitals only (lower() keeps their length, so offsets hold).
    ("İSTANBUL SUMMIT OPENS TODAY", True, "İSTANBUL Summit Opens Today"),
])
def test_restored_case(text: str, guess: bool, restored: str):
    result = restored_case(text, capitals_runs(text), guess=guess)
    assert result == restored and len(result) == len(text)


def test_a_headline_in_capitals_is_read_in_the_case_of_its_body():
    text = ("XI MEETS BIDEN AS BEIJING AND WASHINGTON SEEK THAW\n\nChinese President Xi Jinping met US "
            "President Joe Biden in Bali on Monday, as Beijing and Washington seek to ease tensions.")
    mentions = extract_entities(load_nlp(), [{"doc_id": "d", "source": "s", "text": text}]).mentions
    headline = [(m.text, m.label, m.canonical) for m in mentions if m.end_char <= text.index("\n")]
    assert headline == [("XI", "PERSON", "Xi Jinping"), ("BIDEN", "PERSON", "Joe Biden"), ("BEIJING", "GPE", "Beijing"),
                        ("WASHINGTON", "GPE", "Washington")]
    assert all(text[m.start_char:m.end_char] == m.text for m in mentions)
    # Bare spaCy reads "XI MEETS BIDEN AS" as one person.
    assert ("XI MEETS BIDEN AS", "PERSON") in {(ent.text, ent.label_) for ent in load_nlp()(text).ents}


@pytest.mark.parametrize(("text", "model", "expected"), [
    # The short form takes its name's label, where the model gave another or missed it.
    ("The China International Import Expo (CIIE) opened. The CIIE ends; CIIE visitors left.",
     [("China International Import Expo", "EVENT"), ("CIIE", "GPE", 2)],
     [("China International Import Expo", "EVENT", "model"), ("CIIE", "EVENT", "rule"), ("CIIE", "EVENT", "document"),
      ("CIIE", "EVENT", "rule")]),
    ("Data from the Office for National Statistics (ONS) show it. The ONS said so.",
     [("Office for National Statistics", "ORG"), ("ONS", "ORG", 2)],
     [("Office for National Statistics", "ORG", "model"), ("ONS", "ORG", "rule"), ("ONS", "ORG", "model")]),
    # Not before the brackets, not in other case or inside another word or mention.
    ("ONS first. The Office for National Statistics (ONS) said. ons ONSET The ONS Index.",
     [("Office for National Statistics", "ORG"), ("ONS Index", "ORG")],
     [("Office for National Statistics", "ORG", "model"), ("ONS", "ORG", "rule"), ("ONS Index", "ORG", "model")]),
    # Letters that are not the name's initials introduce nothing ("TCM" for a herbal medicine).
    ("Traditional Chinese Herbal Medicine (TCM) helps. TCM is old.",
     [("Traditional Chinese Herbal Medicine", "ORG"), ("TCM", "GPE", 2)],
     [("Traditional Chinese Herbal Medicine", "ORG", "model"), ("TCM", "GPE", "model")]),
    # Brackets after a date or a person introduce nothing.
    ("BERLIN, Nov. 8 (Xinhua) -- Joe Bloggs (JB) said.", [("Nov. 8", "DATE"), ("Joe Bloggs", "PERSON")],
     [("Nov. 8", "DATE", "model"), ("Joe Bloggs", "PERSON", "model")]),
])
def test_a_short_form_the_text_introduces_gets_its_names_label(text: str, model: list, expected: list):
    found = consistent_short_forms(text, _spans(text, *model))
    assert [(span.text, span.label, span.label_source) for span in found] == expected
    assert all(text[span.start:span.end] == span.text for span in found)


def test_a_short_form_is_named_as_the_long_form_of_its_label():
    mentions = [("China International Import Expo", "EVENT"), ("CIIE", "EVENT"), ("CIIE", "ORG")]
    assert canonical_names(mentions) == ["China International Import Expo"] * 2 + ["CIIE"]


def test_each_window_of_a_document_is_restored_alike():
    text = "BEIJING, Nov. 1 -- " + "Talks went on. " * 20 + "\nBEIJING, Nov. 2 -- Beijing said so."
    windows = restored_windows(text)
    assert len(windows) == 2
    assert [window[:7] for _, window, _ in windows] == ["Beijing", "Beijing"]
    assert all(text[offset:offset + len(window)].lower() == window.lower() for offset, window, _ in windows)
