"""Score what each quantity measures and who said it, and the quotations, against hand labels.

- tests/data/quantity_attribution.jsonl: quantities of BBC business articles and People's Daily
  pages with the phrase each measures (`subject`) and who the text attributes it to
  (`speaker`), labelled by reading. A subject is right when newsflow's phrase holds the
  labelled one, or the labelled one holds newsflow's and both share the labelled phrase's
  head word (its root in spaCy's parse, or the noun before a final participle: "the companies
  surveyed"); null is right only for null. A speaker is right when
  the names match (case, a leading "the" and titles such as "Lord" aside), or one name's words are all in the other's
  ("Nationwide" and "Nationwide building society").
- tests/data/quotations.jsonl: every direct quote of the labelled articles, with its speaker.
  A quote is found when newsflow has a quote with the same text (edge punctuation and
  whitespace aside); precision, recall and F1 over the labelled articles, the share of the
  found quotes whose speaker is right (as above), the share given a speaker (not null), and
  the share of those that are right.

    cd /work/main && .venv/bin/python bench/score_attribution.py [--verbose] [--json PATH]
    .venv/bin/python bench/score_attribution.py --quantities tests/data/quantity_attribution_holdout.jsonl \
        --quotations tests/data/quotations_holdout.jsonl    # the held-out sets
    .venv/bin/python bench/score_attribution.py --quantities tests/data/quantity_attribution_final2.jsonl \
        --quotations tests/data/quotations_final2.jsonl --json bench/results/attribution_final2.json \
        --totals-only    # a set kept unseen: its totals only
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import spacy
from figures import Score
from score_entities import clean_texts, read_jsonl

from tasks.ner import extract_entities, initials, load_nlp
from tasks.numbers import quantity_spans
from tasks.settings import SPACY_MODEL, corpora_dir

REPO = Path(__file__).resolve().parent.parent
QUANTITIES = REPO / "tests" / "data" / "quantity_attribution.jsonl"
QUOTATIONS = REPO / "tests" / "data" / "quotations.jsonl"


def words(text: str) -> list[str]:
    return re.findall(r"\w+(?:['’&.-]\w+)*", text.lower())


# "The" and titles: "Lord Butler" is "Robin Butler", "Sir Anthony Greener" is "Anthony Greener".
NOT_NAME_WORDS = frozenset({"the", "mr", "mrs", "ms", "miss", "dr", "prof", "sir", "lord", "lady", "dame", "baroness"})


def same_name(predicted: str | None, expected: str | None) -> bool:
    """Equal names, one name's words all in the other's (titles aside), or one the other's initials ("IMF",
    "International Monetary Fund": the canonical may be either, see docs/entities.md)."""
    if predicted is None or expected is None:
        return predicted is expected
    got, want = set(words(predicted)) - NOT_NAME_WORDS, set(words(expected)) - NOT_NAME_WORDS
    if predicted.isupper() or expected.isupper():
        acronym, name = (predicted, expected) if predicted.isupper() else (expected, predicted)
        if acronym.replace(".", "") == initials(name):
            return True
    return bool(got and want) and (got <= want or want <= got)


def share(hits: int, total: int) -> float | None:
    """hits / total to four places; None for an empty set."""
    return round(hits / total, 4) if total else None


def squeeze(text: str) -> str:
    return " ".join(words(text))


def head_word(phrase) -> str:
    """A parsed noun phrase's head word: its root, or the noun a final participle follows
    ("the companies surveyed", which the parser reads alone as a clause with "surveyed" its root)."""
    root = next(token for token in phrase if token.dep_ == "ROOT")
    subject = next((child for child in root.children if child.dep_ in ("nsubj", "nsubjpass")), None)
    if subject is not None and root.i == len(phrase) - 1 and root.tag_ in ("VBN", "VBD") and root.text.endswith("ed"):
        return subject.text
    return root.text


def head_words(rows: list[dict]) -> dict[str, str]:
    """Each labelled subject's head word (`head_word` of spaCy's parse of the phrase)."""
    subjects = sorted({row["subject"] for row in rows if row["subject"]})
    return {subject: head_word(doc) for subject, doc in zip(subjects, spacy.load(SPACY_MODEL).pipe(subjects))}


def subject_right(predicted: str | None, expected: str | None, head: str | None) -> bool:
    """newsflow's phrase holds the labelled one, or the labelled one holds newsflow's and both
    have the labelled phrase's head word."""
    if predicted is None or expected is None:
        return predicted is expected
    got, want = squeeze(predicted), squeeze(expected)
    if f" {want} " in f" {got} ":
        return True
    return f" {got} " in f" {want} " and head is not None and head.lower() in words(predicted)


def locate(text: str, sentence: str, quantity: str) -> tuple[int, int] | None:
    """The quantity's offsets in the clean text, found through its sentence (whitespace aside)."""
    pattern = r"\s+".join(re.escape(part) for part in sentence.split())
    found = re.search(pattern, text)
    if not found:
        return None
    where = text.find(quantity, found.start(), found.end())
    return (where, where + len(quantity)) if where >= 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true", help="print every miss")
    parser.add_argument("--json", help="write the figures (and every miss) to this file")
    parser.add_argument("--totals-only", action="store_true",
                        help="write no misses: for a set kept unseen, whose misses nobody should read")
    parser.add_argument("--quantities", type=Path, default=QUANTITIES,
                        help="labelled quantities (default: %(default)s; 'none' for none)")
    parser.add_argument("--quotations", type=Path, default=QUOTATIONS,
                        help="labelled quotes (default: %(default)s; 'none' for none)")
    args = parser.parse_args()
    quantity_rows = [] if str(args.quantities) == "none" else read_jsonl(args.quantities)
    quote_rows = [] if str(args.quotations) == "none" else read_jsonl(args.quotations)
    texts = clean_texts(quantity_rows + quote_rows, corpora_dir())
    keys = sorted(texts)
    documents = [{"doc_id": str(index), "source": key[1], "text": texts[key], "quantities": quantity_spans(texts[key])}
                 for index, key in enumerate(keys)]
    found = extract_entities(load_nlp(), documents)
    contexts, quotations, named = defaultdict(dict), defaultdict(list), defaultdict(set)
    for mention in found.mentions:
        if mention.label in ("PERSON", "ORG", "GPE"):
            named[keys[int(mention.doc_id)]].add(mention.canonical)
    for context in found.quantity_contexts:
        contexts[keys[int(context.doc_id)]][context.start_char] = context
    for quotation in found.quotations:
        quotations[keys[int(quotation.doc_id)]].append(quotation)

    heads = head_words(quantity_rows)

    def no_entity(speaker: str | None, key: tuple[str, str]) -> bool:
        """A labelled speaker that no PERSON, ORG or GPE mention of the article names: out of
        reach of a speaker that must be an entity's canonical."""
        return speaker is not None and not any(same_name(name, speaker) for name in named[key])

    subject_hits = speaker_hits = both = scored = unlocated = speakers_out_of_reach = 0
    misses = []
    for row in quantity_rows:
        key = (row["corpus"], row["file"])
        span = locate(texts.get(key, ""), row["sentence"], row["quantity"])
        context = contexts[key].get(span[0]) if span else None
        if context is None:
            unlocated += 1
            misses.append(f"NOT FOUND {row['quantity']!r} ({row['file']})")
            continue
        scored += 1
        subject_ok = subject_right(context.subject, row["subject"], heads.get(row["subject"]))
        speaker_ok = same_name(context.speaker, row["speaker"])
        speakers_out_of_reach += no_entity(row["speaker"], key)
        subject_hits += subject_ok
        speaker_hits += speaker_ok
        both += subject_ok and speaker_ok
        if not (subject_ok and speaker_ok):
            misses.append(f"{row['quantity']!r}: subject {context.subject!r} (want {row['subject']!r}){'' if subject_ok else ' X'}; "
                          f"speaker {context.speaker!r} (want {row['speaker']!r}){'' if speaker_ok else ' X'} "
                          f"({row['file']}) || {row['sentence'][:160]}")

    quotes = Score()
    quote_speakers = quote_found = quote_speakers_out_of_reach = given = given_right = 0
    quote_misses = []
    for key in sorted({(row["corpus"], row["file"]) for row in quote_rows}):
        want = [row for row in quote_rows if (row["corpus"], row["file"]) == key]
        got = {squeeze(q.text): q for q in quotations[key]}
        matched = set()
        for row in want:
            quotation = got.get(squeeze(row["quote"]))
            if quotation is None:
                quotes.fn += 1
                quote_misses.append(f"FN {row['quote'][:90]!r} ({key[1]})")
                continue
            quotes.tp += 1
            matched.add(squeeze(row["quote"]))
            quote_found += 1
            quote_speakers_out_of_reach += no_entity(row["speaker"], key)
            given += quotation.speaker is not None
            if same_name(quotation.speaker, row["speaker"]):
                quote_speakers += 1
                given_right += quotation.speaker is not None
            else:
                quote_misses.append(f"SPEAKER {quotation.speaker!r} (want {row['speaker']!r}) {row['quote'][:70]!r} ({key[1]})")
        for text, quotation in got.items():
            if text not in matched:
                quotes.fp += 1
                quote_misses.append(f"FP {quotation.text[:90]!r} ({key[1]})")

    figures = {
        "quantities": {"labelled": len(quantity_rows), "scored": scored, "not_found": unlocated,
                       "subject_right": share(subject_hits, scored), "speaker_right": share(speaker_hits, scored),
                       "both_right": share(both, scored), "speaker_named_by_no_entity": speakers_out_of_reach},
        "quotations": {"labelled": len(quote_rows), **quotes.figures(),
                       "speaker_right_of_found": share(quote_speakers, quote_found),
                       # how far a speaker newsflow gives can be trusted: null is "nobody named"
                       "speaker_given_of_found": share(given, quote_found),
                       "speaker_right_of_given": share(given_right, given),
                       "speaker_named_by_no_entity": quote_speakers_out_of_reach},
    }
    if args.verbose:
        print("\n".join(misses + quote_misses))
    print(json.dumps(figures, indent=2))
    if args.json:
        written = figures if args.totals_only else figures | {"misses": misses, "quote_misses": quote_misses}
        Path(args.json).write_text(json.dumps(written, indent=2) + "\n")


if __name__ == "__main__":
    main()
