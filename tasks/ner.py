"""NER for the entities stage: spaCy on the clean text, noise rules, canonical names in a document.

This module imports no Prefect: the NER worker processes import it, spaCy, their pool's module
(tasks/ner_pool.py, which also starts and stops them), tasks/places.py and the command line's
light main module (flows/__main__.py) only, so each is ready in about 1.5 s instead of 3 s.

A mention is the name (`name_span`): the model's span is cut to its first line, without a
leading "the", a possessive or edge punctuation, and for a PERSON without titles ("Ms Lomax"
-> "Lomax"), a heading in capitals before it, what follows a spaced dash or the name
("Cameron 87"), or a sentence's full stop ("said Norbert Ore.").

Canonical names (within one document; no cross-document linking to a knowledge base):
- Every mention is normalised: leading "the", trailing possessive "'s", surrounding quotes and
  punctuation and personal titles ("President", "Mr") are removed.
- PERSON: a name that is the first or last words of longer PERSON names in the document ("Xi",
  "Van Gogh" of "Theo van Gogh") resolves to the one named first, when it is also named
  strictly more often than each other (`named_most`); else it stays as it is.
- ORG: an acronym resolves to a long form in the same document whose initials it spells
  ("WIPO" -> "World Intellectual Property Organization"), or through ORG_ALIASES for acronyms
  whose letters do not match the initials.
- GPE/LOC: GPE_ALIASES maps common variants ("U.S.", "America" -> "United States").
Noise: mentions with no letter or digit, and labels known to be wrong for a text
(MISLABELLED, e.g. "COVID-19" tagged ORG or PERSON), are dropped; a mention that starts with a personal
title ("Mr Ebbers" tagged ORG) is relabelled PERSON.

One person, one label in a document (`consistent_people`): once a person is named in full
("Tony Blair"), the document's other mentions of that name's last or first word ("Blair",
"Mr Blair", "Blair's") are PERSON too, where the model gave them another label (also when two
full names share the word: it is a person's either way), and the later occurrences of the last
word that the model missed become PERSON mentions (case-sensitive, on word boundaries, never
inside another mention). Before that, a name after a personal title ("Mr Toshitsune" tagged
PRODUCT) is a PERSON (`titled_people`). `label_source` says how each label was decided: `model` (spaCy's),
`document` (the document's full name), `rule` (a personal title, or a missed name found again).

Places get their country's code (tasks/places.py).
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right, insort
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from tasks.attribution import QuantityContext, Quotation, TextReading
from tasks.errors import ErrorRecord
from tasks.places import country_codes
from tasks.settings import SPACY_MODEL

STAGE = "entities"

# The model's ner component has its own tok2vec, so the shared tok2vec and what listens to it
# are not run on every text: about 2x faster with identical entities. senter gives sentences.
# The parser (with the tok2vec and tagger it reads) is loaded but disabled: `parse_sentences`
# runs it on the few sentences that attribution needs (tasks/attribution.py).
EXCLUDED_COMPONENTS = ["lemmatizer", "attribute_ruler"]
PARSER_COMPONENTS = ["tok2vec", "tagger", "parser"]
# The tokenizer spaCy builds from its English language data is byte for byte the one the model
# saved (tests/test_ner.py checks it), so it is not loaded again from disk: 0.08 s less in the
# start of every NER process.
NOT_LOADED_FROM_DISK = ["tokenizer"]
NLP_BATCH_SIZE = 32
PARSE_BATCH_SIZE = 128  # sentences
# Longer texts go through NER in pieces (cut at whitespace): spaCy refuses texts over
# nlp.max_length (1,000,000 characters) and its memory grows with the length of one text.
MAX_CHUNK_CHARS = 100_000

TITLES = {
    "mr", "mrs", "ms", "miss", "dr", "prof", "professor", "sir", "dame", "lord", "lady",
    "president", "premier", "chancellor", "minister", "secretary", "secretary-general",
    "general", "senator", "governor", "mayor", "judge", "chairman", "chairwoman", "ceo",
    "king", "queen", "prince", "princess", "pope", "rev", "vice", "prime", "deputy",
}
GPE_ALIASES = {
    "u.s.": "United States", "us": "United States", "u.s": "United States", "usa": "United States",
    "u.s.a.": "United States", "united states": "United States", "united states of america": "United States",
    "america": "United States", "la": "Los Angeles", "uk": "United Kingdom", "u.k.": "United Kingdom", "britain": "United Kingdom",
    "great britain": "United Kingdom", "united kingdom": "United Kingdom", "prc": "China",
    "people's republic of china": "China", "mainland china": "China", "uae": "United Arab Emirates",
}
ORG_ALIASES = {
    "ASEAN": "Association of Southeast Asian Nations",
    "CELAC": "Community of Latin American and Caribbean States",
    "WIPO": "World Intellectual Property Organization",
    "NDRC": "National Development and Reform Commission",
    "UN": "United Nations",
    "EU": "European Union",
    "WTO": "World Trade Organization",
    "IMF": "International Monetary Fund",
    "PWC": "PricewaterhouseCoopers",
}
NAME_SUFFIXES = {"qc", "kc", "mp", "jr", "sr", "ii", "iii"}
# Titles that only people carry: a mention starting with one is a PERSON whatever NER said.
PERSONAL_TITLES = {"mr", "mrs", "ms", "miss", "dr", "sir", "dame", "lord", "lady"}
# (text, label) pairs the small model gets wrong often enough to be worth a rule.
MISLABELLED = {(name, label) for name in ("covid-19", "covid", "coronavirus") for label in ("ORG", "PERSON", "GPE")}
INITIAL_STOPWORDS = {"of", "and", "for", "the", "on", "in", "&"}
EDGE_JUNK = re.compile(r"^[\W_]+|[\W_]+$")
LABEL_SOURCES = ("model", "document", "rule")
# A word of a full name that is found again on its own must look like a name: capitalised, at
# least three letters (not an initial), not a title; "McDonald", "O'Brien", "Kilroy-Silk" too.
NAME_WORD = re.compile(r"^(?=.{3})[A-Z][a-z]*(?:[A-Z][a-z]+)?(?:['’-][A-Z]?[a-z]+)*$")
POSSESSIVE = re.compile(r"['’]s?$")
LEADING_ARTICLE = re.compile(r"^(?:the|The|THE)\s+")
ACRONYM = re.compile(r"^[A-Z][A-Z&.]{1,9}$")
# Labels of names that a text may shorten to their initials ("the Office for National Statistics
# (ONS)", "the China International Import Expo (CIIE)"); places have their aliases instead.
SHORT_FORM_LABELS = frozenset({"ORG", "NORP", "FAC", "EVENT", "PRODUCT", "LAW", "WORK_OF_ART"})
# A short form introduced in brackets right after the name.
INTRODUCED_SHORT_FORM = re.compile(r"[ \t]*\(([A-Z][A-Z&.]{1,9})\)")


@dataclass(frozen=True)
class Mention:
    """One row of the `entities` table."""

    doc_id: str
    text: str
    label: str
    start_char: int
    end_char: int
    sentence: int
    canonical: str
    label_source: str = "model"  # model, document or rule: how the label was decided (LABEL_SOURCES)
    country_code: str | None = None  # ISO 3166-1 alpha-2 of a place's country (tasks/places.py)


@functools.cache
def load_nlp():
    """The lean spaCy pipeline (senter + ner; the parser loaded, disabled), once per process."""
    import spacy

    nlp = spacy.load(SPACY_MODEL, exclude=EXCLUDED_COMPONENTS + NOT_LOADED_FROM_DISK, disable=PARSER_COMPONENTS)
    nlp.enable_pipe("senter")
    return nlp


def parse_sentences(nlp, texts: list[str]) -> list:
    """The texts tokenised, tagged and parsed by the pipeline's disabled parser components."""
    docs = (nlp.make_doc(text) for text in texts)
    for name in PARSER_COMPONENTS:
        docs = nlp.get_pipe(name).pipe(docs, batch_size=PARSE_BATCH_SIZE)
    return list(docs)


def normalise_name(text: str) -> str:
    """A mention without leading "the", possessive, edge punctuation or quotes."""
    name = " ".join(text.split())
    name = LEADING_ARTICLE.sub("", name)
    name = POSSESSIVE.sub("", name) if re.search(r"\w['’]s?$", name) else name
    return EDGE_JUNK.sub("", name)


def is_title(word: str) -> bool:
    """True for a title ("President", "Mr.", "Secretary-General"), in any case."""
    return word.lower().rstrip(".") in TITLES


def strip_titles(name: str) -> str:
    """A person's name without leading titles ("President", "Mr") or trailing suffixes ("QC")."""
    words = name.split()
    while len(words) > 1 and is_title(words[0]):
        words = words[1:]
    while len(words) > 1 and words[-1].lower().rstrip(".,") in NAME_SUFFIXES:
        words = words[:-1]
    return " ".join(words)


def corrected_label(text: str, label: str) -> str:
    """spaCy's label, except that a mention starting with a personal title is a PERSON
    (the small model tags "Mr Ebbers" as ORG now and then)."""
    first = text.split()[0].lower().rstrip(".") if text.split() else ""
    return "PERSON" if label != "PERSON" and first in PERSONAL_TITLES and len(text.split()) > 1 else label


def initials(name: str) -> str:
    return "".join(word[0] for word in name.split() if word.lower() not in INITIAL_STOPWORDS).upper()


def is_noise(text: str, label: str) -> bool:
    """Mentions that are not names at all: no letter or digit, or a known mislabelling."""
    return not re.search(r"\w", text) or (text.lower(), label) in MISLABELLED


def named_most(counts: Counter[str]) -> str | None:
    """The full name that `counts` (full names in order of first mention, with their numbers of
    mentions) names first and strictly more often than any other, else None: the article's
    main person of that name ("Tony Blair" twice, then "Cherie Blair" once: a bare "Blair" is
    Tony Blair; Donna Clarkson once, then Lana Clarkson twice: undecided)."""
    first, *others = counts
    return first if all(counts[other] < counts[first] for other in others) else None


def part_of_name(name: str, full: str) -> bool:
    """True when `name` is the first or last words of the longer `full` name ("Blair" of
    "Tony Blair", "Van Gogh" of "Theo van Gogh"; particles' case is ignored)."""
    part, whole = name.casefold().split(), full.casefold().split()
    return 0 < len(part) < len(whole) and part in (whole[:len(part)], whole[-len(part):])


def canonical_names(mentions: list[tuple[str, str]]) -> list[str]:
    """Canonical names for a document's (text, label) mentions, in the same order."""
    names = [normalise_name(text) for text, _ in mentions]
    names = [strip_titles(name) if label == "PERSON" else name for name, (_, label) in zip(names, mentions)]
    full_people = Counter(name for name, (_, label) in zip(names, mentions) if label == "PERSON" and " " in name)
    long_names = {(name, label) for name, (_, label) in zip(names, mentions)
                  if label in SHORT_FORM_LABELS and " " in name}
    canonical = []
    for name, (_, label) in zip(names, mentions):
        if label == "PERSON" and (matches := Counter({full: count for full, count in full_people.items()
                                                      if part_of_name(name, full)})):
            name = named_most(matches) or name
        elif label in SHORT_FORM_LABELS and ACRONYM.match(name):
            acronym = name.replace(".", "").replace("&", "")  # "B&B": Bradford & Bingley
            spelled = {long for long, long_label in long_names if long_label == label and initials(long) == acronym}
            name = spelled.pop() if len(spelled) == 1 else ORG_ALIASES.get(acronym, name) if label == "ORG" else name
        elif label in ("GPE", "LOC"):
            name = GPE_ALIASES.get(name.lower(), name)
        canonical.append(name)
    return canonical


def text_chunks(text: str, max_chars: int = MAX_CHUNK_CHARS) -> list[tuple[int, str]]:
    """(offset, chunk) pieces of at most `max_chars`, cut after a newline or a space when
    possible, so that long documents stay under spaCy's max_length and its memory per text."""
    chunks, start = [], 0
    while len(text) - start > max_chars:
        end = start + max_chars
        cut = max(text.rfind("\n", start + max_chars // 2, end), text.rfind(" ", start + max_chars // 2, end))
        end = cut + 1 if cut > 0 else end
        chunks.append((start, text[start:end]))
        start = end
    chunks.append((start, text[start:]))
    return chunks


@dataclass(frozen=True)
class Span:
    """A mention before its canonical name: where it is, its label and how that was decided."""

    start: int
    end: int
    text: str
    label: str
    label_source: str


TRAILING_POSSESSIVE = re.compile(r"(?<=\w)['’]s?$")
# Punctuation that is never a name's own first or last character (a final "." may be: "U.S.").
LEADING_JUNK = re.compile(r"^[\s\"“”'‘’(\[,;:/*•·–—-]+")
TRAILING_JUNK = re.compile(r"[\s\"“”'‘’\[\],;:/*•·–—-]+$")
# A player's minute or a score after a name in sports reports ("Cameron 87", "Grady 29").
TRAILING_NUMBER = re.compile(r"\s+\d+$")
SENTENCE_STOP = re.compile(r"(?<=[a-z]{2})\.$")


def name_span(span: Span) -> Span | None:
    """The span cut to the name it holds, as the hand-labelled set and OntoNotes mark names:
    the first line only; no leading "the", possessive ("Van Gogh's" -> "Van Gogh"), edge
    punctuation or space; for a PERSON, no leading titles ("Ms Lomax" -> "Lomax") and nothing
    after a spaced dash, a trailing number ("Cameron 87") or a sentence's full stop ("Ore."). None
    when nothing is left."""
    text = span.text.split("\n")[0]
    if span.label == "PERSON":
        # a sentence's full stop taken in ("said chairman Norbert Ore.") goes; an initial's stays ("Jr.")
        text = SENTENCE_STOP.sub("", TRAILING_NUMBER.sub("", re.split(r"\s[-–—]\s", text)[0]))
    start = span.start
    while True:
        cut = LEADING_ARTICLE.match(text) or LEADING_JUNK.match(text)
        words = text.split()
        # A title, or a heading in capitals run into the text ("PUBLIC SPLIT Esper, 56, began").
        if not cut and span.label == "PERSON" and len(words) > 1 and (
                is_title(words[0]) or len(words[0]) > 3 and words[0].isupper() and not words[1].isupper()):
            cut = re.match(re.escape(words[0]) + r"\s+", text)
        if not cut or cut.end() == len(text):
            break
        text, start = text[cut.end():], start + cut.end()
    text = TRAILING_JUNK.sub("", TRAILING_POSSESSIVE.sub("", TRAILING_JUNK.sub("", text)))
    return Span(start, start + len(text), text, span.label, span.label_source) if re.search(r"\w", text) else None


def _full_names(spans: list[Span], names: list[str]) -> dict[str, int]:
    """The document's full person names (`names`: the spans' names without titles), each with
    the start of its first mention."""
    first: dict[str, int] = {}
    for span, name in zip(spans, names):
        words = name.split() if span.label == "PERSON" else []
        # (A "full name" holding a title is the model's mistake: "Tory Treasurer Lord".)
        if len(words) > 1 and not any(map(is_title, words)):
            first.setdefault(name, span.start)
    return first


def _name_words(full_names: dict[str, int]) -> dict[str, tuple[int, bool]]:
    """The first and last words of the full names that look like names, each with the start of
    the first full name holding it and whether it ends one (a surname)."""
    words: dict[str, tuple[int, bool]] = {}
    for full, start in full_names.items():
        parts = full.split()
        for word in (parts[0], parts[-1]):
            if NAME_WORD.match(word):
                earlier, surname = words.get(word, (start, False))
                words[word] = (min(start, earlier), surname or word == parts[-1])
    return words


def _word_occurrences(text: str, name: str) -> Iterator[tuple[int, int]]:
    """Where `name` occurs in `text` as whole words (case-sensitive; a possessive "'s" may
    follow). A plain search and a look at the characters around it: a regular expression per
    name would be compiled for every document, which cost more than the rest of the pass."""
    start = text.find(name)
    while start != -1:
        end = start + len(name)
        before, after = text[start - 1:start], text[end:end + 1]
        if not (before.isalnum() or before in "_'’-" and before) and not (after.isalnum() or after in "_-" and after):
            if after not in ("'", "’") or (text[end + 1:end + 2] == "s" and not text[end + 2:end + 3].isalnum()):
                yield start, end
        start = text.find(name, start + 1)


def consistent_people(text: str, spans: list[Span]) -> list[Span]:
    """The document's mentions with its people labelled consistently (see the module's
    docstring), sorted by position."""
    names = [TRAILING_NUMBER.sub("", strip_titles(normalise_name(span.text))) for span in spans]
    full_names = _full_names(spans, names)
    words = _name_words(full_names)
    if not words:
        return spans
    relabelled = [
        Span(span.start, span.start + len(name), name, "PERSON", "document")
        if span.label != "PERSON" and name in words and span.text.startswith(name) else span
        for span, name in zip(spans, names)
    ]
    taken = sorted((span.start, span.end) for span in relabelled)
    found = []
    # The full names the model missed, then the surnames (first names are too often common
    # words to be looked for), each after the name's first full mention.
    wanted = list(full_names.items()) + [(word, start) for word, (start, surname) in words.items() if surname]
    for name, first_full in wanted:
        for start, end in _word_occurrences(text, name):
            if start > first_full and not _overlaps_taken(taken, start, end):
                found.append(Span(start, end, name, "PERSON", "rule"))
                insort(taken, (start, end))
    return sorted(relabelled + found, key=lambda span: span.start)


# A personal title before capitalised words: a person's name, whatever the model made of it
# ("Mr Toshitsune" as a PRODUCT, "Dr Vancheshwar" missed). Not "Miss" ("Miss World").
CAPITALISED_WORD = r"[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:['’-][A-Z][a-z]+)*"  # "Hadi", "McDonald", "Kilroy-Silk"
TITLED_NAME = re.compile(rf"\b(?:Mr|Mrs|Ms|Dr|Prof|Professor|Sir|Lord|Lady|Dame)\.? "
                         rf"({CAPITALISED_WORD}(?: {CAPITALISED_WORD}){{0,2}})\b(?!-?\w)")
# Words after "Lord" that make an office, not a name ("Lord Chief Justice", "Lord Chancellor").
OFFICE_WORDS = frozenset({"chief", "justice", "provost", "advocate", "lieutenant", "speaker", "privy", "high"})


def titled_people(text: str, spans: list[Span]) -> list[Span]:
    """The document's mentions with every name after a personal title a PERSON (`rule`): a
    model span inside the name with another label is relabelled, a name with no span becomes
    a mention; a span reaching beyond the name is left as the model made it. Sorted by position."""
    starts = [span.start for span in spans]
    kept, found = list(spans), []
    for match in TITLED_NAME.finditer(text):
        start, end = match.span(1)
        if any(is_title(word) or word.lower() in OFFICE_WORDS for word in match.group(1).split()):
            continue
        overlapping = []
        for index in range(max(bisect_right(starts, match.start()) - 1, 0), len(spans)):
            if spans[index].start >= end:
                break
            if spans[index].end > match.start():
                overlapping.append(index)
        if any(spans[index].label == "PERSON" or spans[index].start < start or spans[index].end > end
               for index in overlapping):
            continue
        for index in overlapping:
            kept[index] = None
        found.append(Span(start, end, match.group(1), "PERSON", "rule"))
    return sorted([span for span in kept if span is not None] + found, key=lambda span: span.start)


def _overlaps_taken(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    """True when [start, end) overlaps one of the sorted, disjoint `taken` ranges."""
    before = bisect_right(taken, (start, end))
    return (before > 0 and taken[before - 1][1] > start) or (before < len(taken) and taken[before][0] < end)


def consistent_short_forms(text: str, spans: list[Span]) -> list[Span]:
    """The document's mentions with the short forms it introduces labelled as their names.

    A short form in brackets right after a name, spelling the name's initials ("the Office for
    National Statistics (ONS)", "the China International Import Expo (CIIE)"), takes the name's
    label in the whole document: a mention of it with another label gets the name's (`document`),
    and its occurrences from the brackets on that the model missed become mentions (`rule`;
    case-sensitive, on word boundaries, never inside another mention). Sorted by position."""
    introduced: dict[str, tuple[str, int]] = {}
    for span in spans:
        match = INTRODUCED_SHORT_FORM.match(text, span.end)
        if (match and span.label in SHORT_FORM_LABELS
                and initials(normalise_name(span.text)) == match.group(1).replace(".", "")):
            introduced.setdefault(match.group(1), (span.label, match.start(1)))
    if not introduced:
        return spans
    relabelled = [replace(span, label=introduced[span.text][0], label_source="document")
                  if span.text in introduced and span.label != introduced[span.text][0] else span for span in spans]
    taken = sorted((span.start, span.end) for span in relabelled)
    found = []
    for short, (label, first) in introduced.items():
        for start, end in _word_occurrences(text, short):
            if start >= first and not _overlaps_taken(taken, start, end):
                found.append(Span(start, end, short, label, "rule"))
                insort(taken, (start, end))
    return sorted(relabelled + found, key=lambda span: span.start)


# Words in capitals ("XI MEETS BIDEN AS BEIJING ...", "2. 杨依婷 YEONG YI TING"), which the small
# model reads poorly: runs of words of two or more capitals, kept when a word has four letters
# or more, so that acronyms ("US GDP") are left to the model as they are; a run of one word
# ("BEIJING, Nov. 18 (Xinhua)") only when the document also writes it not in capitals
# ("Beijing"), as acronyms ("COVID", "BRICS", "ASEAN") are written in capitals throughout.
CAPITALS_RUN = re.compile(r"\b[A-Z][A-Z'’-]*[A-Z]\b(?: [A-Z][A-Z'’-]*[A-Z]\b)*")
# Text around runs in capitals that goes through NER with them, for context.
CAPITALS_CONTEXT_CHARS = 80

Run = tuple[int, int]
# A piece of a document through NER: its offset in the clean text, spaCy's Doc, and for a
# case-restored copy (see restored_windows) the runs in capitals it stands for (else none).
Piece = tuple[int, object, tuple[Run, ...]]


def capitals_runs(text: str) -> list[Run]:
    """Where `text` has runs of words in capitals that the model reads poorly (CAPITALS_RUN)."""
    runs = []
    written: set[str] | None = None  # words the document writes not in capitals, lower-cased
    for match in CAPITALS_RUN.finditer(text):
        words = match.group().split()
        if len(words) == 1 and len(words[0]) >= 4:
            if written is None:
                written = {word.lower() for word in re.findall(r"[^\W\d_]+", text) if not word.isupper()}
            if words[0].lower() in written:
                runs.append((match.start(), match.end()))
        elif len(words) > 1 and max(map(len, words)) >= 4:
            runs.append((match.start(), match.end()))
    return runs


def restored_case(text: str, runs: list[Run], guess: bool = True) -> str:
    """`text` with its runs in capitals in the case the document writes those words elsewhere
    ("AND" as "and", "XI" as "Xi"). With `guess`, the other words too: capitalised ("YEONG" ->
    "Yeong"), except that in a headline (a run of four words or more) an unknown word after
    the first is taken to be an ordinary one ("MEETS" -> "meets"). As long as `text`, so that
    offsets hold."""
    masked = list(text)
    for start, end in runs:
        masked[start:end] = " " * (end - start)
    outside = "".join(masked)
    written: dict[str, str] = {}  # a word's form elsewhere: in lower case if ever so ("And" and "and": "and")
    for match in re.finditer(r"[^\W\d_]+", outside):
        word = match.group()
        if word.islower() or word.lower() not in written:
            written[word.lower()] = word
    chars = list(text)
    for start, end in runs:
        words = list(re.finditer(r"[^\W\d_]+", text[start:end]))
        headline = len(words) >= 4
        for number, match in enumerate(words):
            word = match.group()
            capitalised = word[0] + word[1:].lower()
            form = written.get(word.lower(), (word.lower() if headline and number else capitalised) if guess else word)
            form = capitalised if number == 0 and form.islower() else form  # a run starts a sentence or a name
            if len(form) == len(word):
                chars[start + match.start():start + match.end()] = form
    return "".join(chars)


def restored_windows(text: str) -> list[tuple[int, str, tuple[Run, ...]]]:
    """(offset, case-restored window, runs) for the runs in capitals of `text`: each window is
    the runs with up to CAPITALS_CONTEXT_CHARS of their line on either side (nearby runs share a
    window)."""
    runs = capitals_runs(text)
    if not runs:
        return []
    windows: list[tuple[int, int, list[Run]]] = []
    for start, end in runs:
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end) if "\n" in text[end:] else len(text)
        low, high = max(line_start, start - CAPITALS_CONTEXT_CHARS), min(line_end, end + CAPITALS_CONTEXT_CHARS)
        if windows and low <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], high), windows[-1][2] + [(start, end)])
        else:
            windows.append((low, high, [(start, end)]))
    restored = restored_case(text, runs)
    return [(low, restored[low:high], tuple(window_runs)) for low, high, window_runs in windows]


def _overlaps(start: int, end: int, runs: tuple[Run, ...] | list[Run]) -> bool:
    return any(start < run_end and run_start < end for run_start, run_end in runs)


def sentence_bounds(pieces: list[Piece]) -> list[tuple[int, int]]:
    """The (start, end) offsets of a document's sentences, from its chunks' Docs; a sentence
    never runs over a line break (the senter joins a headline to the first sentence)."""
    bounds = []
    for offset, doc, runs in pieces:
        if runs:
            continue
        for sentence in doc.sents:
            start = offset + sentence.start_char
            for line in re.finditer(r"\S(?:.*\S)?", sentence.text):
                bounds.append((start + line.start(), start + line.end()))
    return bounds


def document_mentions(doc_id: str, text: str, pieces: list[Piece], sentences: list[tuple[int, int]]) -> list[Mention]:
    """The kept mentions of one document (its clean `text`) from its spaCy Docs (one per
    chunk, and one per case-restored window, with offsets): in runs in capitals, the entities
    of the restored window, with their text from `text`. `sentences`: sentence_bounds(pieces)."""
    restored_runs = [run for _, _, runs in pieces for run in runs]
    # Names are read in the case the body writes them ("BIDEN" as "Biden", so that it is the
    # body's Joe Biden; "NHTSA" stays an acronym); the mentions' text is the clean text's.
    named_text = restored_case(text, restored_runs, guess=False) if restored_runs else text
    spans = []
    sentence_starts = [start for start, _ in sentences]
    for offset, doc, runs in pieces:
        for ent in doc.ents:
            start, end = offset + ent.start_char, offset + ent.end_char
            if _overlaps(start, end, runs) if runs else not _overlaps(start, end, restored_runs):
                mention = text[start:end]
                if not is_noise(normalise_name(mention), ent.label_):
                    label = corrected_label(mention, ent.label_)
                    spans.append(Span(start, end, mention, label, "model" if label == ent.label_ else "rule"))
    spans = [replace(named, text=named_text[named.start:named.end])
             for span in sorted(spans, key=lambda span: span.start) if (named := name_span(span))]
    spans = consistent_short_forms(named_text, consistent_people(named_text, titled_people(named_text, spans)))
    names = canonical_names([(span.text, span.label) for span in spans])
    codes = country_codes([(name, span.label) for span, name in zip(spans, names)])
    return [
        Mention(doc_id, text[span.start:span.end], span.label, span.start, span.end,
                bisect_right(sentence_starts, span.start) - 1, name, span.label_source, code)
        for span, name, code in zip(spans, names, codes)
    ]


@dataclass
class EntitiesResult:
    """What the entities stage finds in a job's documents: mentions, the quantities' sentences,
    subjects and speakers, the quotes, and error rows."""

    mentions: list[Mention] = field(default_factory=list)
    quantity_contexts: list[QuantityContext] = field(default_factory=list)
    quotations: list[Quotation] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)

    def extend(self, other: EntitiesResult) -> None:
        self.mentions += other.mentions
        self.quantity_contexts += other.quantity_contexts
        self.quotations += other.quotations
        self.errors += other.errors


def extract_entities(nlp, documents: list[dict]) -> EntitiesResult:
    """Mentions, quantity contexts and quotes of every document (rows with doc_id, source,
    text, and its quantities as (start, end, amount id, kind) from the numbers stage, if any),
    processed with nlp.pipe. A text that several documents share is read once (NER and
    the parse are functions of the text); the sentences that hold a quantity are parsed
    together, in one pass of the parser over the job."""
    first_with_text: dict[str, int] = {}
    for index, row in enumerate(documents):
        first_with_text.setdefault(row["text"], index)
    chunks = ((piece, (index, offset, runs)) for text, index in first_with_text.items()
              for offset, piece, runs in [*((offset, chunk, ()) for offset, chunk in text_chunks(text)),
                                          *restored_windows(text)])
    pieces: dict[int, list[Piece]] = {}
    for doc, (index, offset, runs) in nlp.pipe(chunks, as_tuples=True, batch_size=NLP_BATCH_SIZE):
        pieces.setdefault(index, []).append((offset, doc, runs))
    sentences = {index: sentence_bounds(pieces.get(index, [])) for index in first_with_text.values()}
    readings = {index: TextReading(text, sentences[index], documents[index].get("quantities", []))
                for text, index in first_with_text.items()}
    wanted = [(reading, sentence) for reading in readings.values() for sentence in reading.sentences_to_parse()]
    parsed = parse_sentences(nlp, [reading.text[slice(*reading.sentences[index])] for reading, index in wanted])
    for (reading, sentence), doc in zip(wanted, parsed):
        reading.parsed[sentence] = doc
    result = EntitiesResult()
    for row in documents:
        index = first_with_text[row["text"]]
        try:
            mentions = document_mentions(row["doc_id"], row["text"], pieces.get(index, []), sentences[index])
        except (ValueError, KeyError, IndexError) as error:
            result.errors.append(ErrorRecord(row["source"], STAGE, "entity_error", f"{type(error).__name__}: {error}",
                                             row["doc_id"]))
            continue
        result.mentions += mentions
        try:  # a failure here loses the document's quotes and quantity contexts, not its mentions
            contexts, quotations = readings[index].attribution(row["doc_id"], mentions)
        except (ValueError, KeyError, IndexError, AttributeError) as error:
            result.errors.append(ErrorRecord(row["source"], STAGE, "attribution_error",
                                             f"{type(error).__name__}: {error}", row["doc_id"]))
            continue
        result.quantity_contexts += contexts
        result.quotations += quotations
    return result


def extract_in_worker(documents: list[dict]) -> EntitiesResult:
    """extract_entities with this process's pipeline (the pool's workers call it)."""
    return extract_entities(load_nlp(), documents)
