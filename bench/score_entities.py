"""Score newsflow's entities and bare spaCy against the hand-labelled development set.

Reads tests/data/entity_mentions_dev.jsonl: 40 articles (BBC's five topics and People's Daily
pages), every PERSON, ORG, GPE, LOC and NORP mention with its offsets into newsflow's clean
text, and each person mention's full name, labelled by reading. Each article's clean text is
made again from the corpus with newsflow's ingest and clean code; an article whose clean text
no longer hashes as it did when it was labelled is reported and left out. Then:

- typed exact-span precision, recall and F1, overall and per label, for newsflow's entities
  stage (tasks/ner.py) and for bare spaCy (the same model, all of its components, `doc.ents`)
  on the same texts;
- the share of partial person mentions (a surname, a first name: the mention is not the full
  name) that newsflow gives the article's full name as `canonical` (a span of another label or
  none counts as a miss);
- country codes: of the place mentions (GPE, LOC, NORP) in tests/data/entity_country_codes.jsonl
  that name or lie in one country, the share newsflow finds as a place with the right
  `country_code` (and the share of those it finds at all), and the codes it gives places that
  are in no single country;
- ambiguous names (tests/data/ambiguous_places.jsonl: "Georgia", "Paris", ... with the country
  each article means): the share whose first place mention of that name gets that country.

    cd /work/main && .venv/bin/python bench/score_entities.py [--verbose] [--json PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

from figures import Score
from tasks.clean import clean_text
from tasks.ingest import ingest_sources
from tasks.listing import discover_sources
from tasks.ner import Mention, extract_entities, load_nlp
from tasks.places import PLACE_LABELS
from tasks.settings import SPACY_MODEL, corpora_dir

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "entity_mentions_dev.jsonl"
COUNTRY_CODES = REPO / "tests" / "data" / "entity_country_codes.jsonl"
AMBIGUOUS_PLACES = REPO / "tests" / "data" / "ambiguous_places.jsonl"
LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP")
CORPUS_FOLDERS = {"bbc": "bbc", "peoplesdaily": "peoplesdaily-dev"}

Span = tuple[int, int, str]  # start, end, label


def score_spans(gold: set[Span], predicted: set[Span], scores: dict[str, Score], text: str, where: str) -> None:
    """Add one article's typed exact-span matches to `scores` (per label and "all")."""
    for span in predicted | gold:
        outcome = "tp" if span in gold and span in predicted else "fp" if span in predicted else "fn"
        for key in (span[2], "all"):
            setattr(scores[key], outcome, getattr(scores[key], outcome) + 1)
        if outcome != "tp":
            scores[span[2]].errors.append(f"{outcome.upper()} {span[2]} {text[span[0]:span[1]]!r} ({where})")


def clean_texts(rows: list[dict], corpora: Path) -> dict[tuple[str, str], str]:
    """(corpus, file) -> newsflow's clean text of each labelled article."""
    texts = {}
    for corpus, folder in CORPUS_FOLDERS.items():
        files = {row["file"] for row in rows if row["corpus"] == corpus}
        if not files:
            continue
        with tempfile.TemporaryDirectory() as copy:  # only the labelled files, as ingest lists them
            for name in files:
                target = Path(copy) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes((corpora / folder / name).read_bytes())
            documents, _ = ingest_sources(copy, discover_sources(copy), 10_000_000)
        texts |= {(corpus, document.source): clean_text(document.raw_text) for document in documents}
    return texts


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def country_code_figures(labelled: list[dict], mentions: dict[tuple[str, str], list[Mention]]) -> dict:
    """Country codes of the labelled place mentions against newsflow's mentions of the same
    spans, per (corpus, file)."""
    found_at = {(key, m.start_char, m.end_char): m for key, found in mentions.items() for m in found}
    in_a_country = right = found_as_place = coded_outside = outside = 0
    misses = []
    for row in labelled:
        mention = found_at.get(((row["corpus"], row["file"]), row["start"], row["end"]))
        place = mention if mention is not None and mention.label in PLACE_LABELS else None
        if row["country_code"] is None:
            outside += 1
            coded_outside += bool(place and place.country_code)
            continue
        in_a_country += 1
        found_as_place += place is not None
        right += bool(place and place.country_code == row["country_code"])
        if place and place.country_code != row["country_code"]:
            misses.append(f"{row['text']!r} {place.country_code} (want {row['country_code']}; {row['file']})")
    return {"place_mentions_in_one_country": in_a_country, "found_as_place": found_as_place, "right": right,
            "share_right_of_found": round(right / found_as_place, 4) if found_as_place else 0.0,
            "share_right_of_all": round(right / in_a_country, 4) if in_a_country else 0.0,
            "places_in_no_country": outside, "given_a_code_anyway": coded_outside, "misses": sorted(misses)}


def ambiguous_place_figures(labelled: list[dict], mentions: dict[tuple[str, str], list[Mention]]) -> dict:
    """For each (article, ambiguous name): is the first place mention of that name given the
    country the article means?"""
    found = right = 0
    misses = []
    for row in labelled:
        places = [m for m in mentions.get((row["corpus"], row["file"]), [])
                  if m.label in PLACE_LABELS and row["name"] in (m.text, m.canonical)]
        found += bool(places)
        right += bool(places) and places[0].country_code == row["country_code"]
        if places and places[0].country_code != row["country_code"]:
            misses.append(f"{row['name']!r} {places[0].country_code} (want {row['country_code']}; {row['file']})")
    return {"names": len(labelled), "found_as_place": found, "right": right,
            "share_right_of_found": round(right / found, 4) if found else 0.0, "misses": sorted(misses)}


def newsflow_mentions(texts: dict[tuple[str, str], str]) -> dict[tuple[str, str], list[Mention]]:
    """newsflow's mentions of each text."""
    keys = list(texts)
    documents = [{"doc_id": str(index), "source": key[1], "text": texts[key]} for index, key in enumerate(keys)]
    found: dict[tuple[str, str], list[Mention]] = {key: [] for key in keys}
    for mention in extract_entities(load_nlp(), documents).mentions:
        found[keys[int(mention.doc_id)]].append(mention)
    return found


def bare_spacy_spans(texts: list[str]) -> list[set[Span]]:
    """Bare spaCy's entities of the scored labels, per text."""
    import spacy

    nlp = spacy.load(SPACY_MODEL)
    return [{(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents if ent.label_ in LABELS}
            for doc in nlp.pipe(texts)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list newsflow's misses per label")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--data", type=Path, default=DATA, help="labelled articles (default: %(default)s)")
    args = parser.parse_args()

    rows = read_jsonl(args.data)
    texts = clean_texts(rows, corpora_dir())
    scored, drifted = [], []
    for row in rows:
        text = texts.get((row["corpus"], row["file"]))
        if text is None or hashlib.sha256(text.encode()).hexdigest() != row["clean_text_sha256"]:
            drifted.append(row["file"])
        else:
            scored.append((row, text))
    by_file = newsflow_mentions({(row["corpus"], row["file"]): text for row, text in scored})
    newsflow: list[dict[Span, str]] = [
        {(m.start_char, m.end_char, m.label): m.canonical
         for m in by_file[(row["corpus"], row["file"])] if m.label in LABELS}
        for row, _ in scored]
    bare = bare_spacy_spans([text for _, text in scored])

    systems = {"newsflow": {label: Score() for label in (*LABELS, "all")},
               "bare_spacy": {label: Score() for label in (*LABELS, "all")}}
    partial = resolved = 0
    for (row, text), found, spacy_found in zip(scored, newsflow, bare):
        gold = {(m["start"], m["end"], m["label"]) for m in row["mentions"]}
        score_spans(gold, set(found), systems["newsflow"], text, row["file"])
        score_spans(gold, spacy_found, systems["bare_spacy"], text, row["file"])
        for mention in row["mentions"]:
            if mention["label"] == "PERSON" and mention["full_name"] != mention["text"]:
                partial += 1
                resolved += found.get((mention["start"], mention["end"], "PERSON")) == mention["full_name"]

    figures = {system: {label: score.figures() for label, score in scores.items()} for system, scores in systems.items()}
    figures["partial_person_mentions"] = {"count": partial, "resolved_to_full_name": resolved,
                                          "share": round(resolved / partial, 4) if partial else 0.0}
    figures["articles"] = {"scored": len(scored), "clean_text_changed": drifted}
    figures["country_codes"] = country_code_figures(read_jsonl(COUNTRY_CODES), by_file)
    ambiguous = read_jsonl(AMBIGUOUS_PLACES)
    figures["ambiguous_places"] = ambiguous_place_figures(
        ambiguous, newsflow_mentions(clean_texts(ambiguous, corpora_dir())))
    print(f"{len(scored)} articles scored ({args.data.name}); clean text changed since labelling: {drifted or 'none'}")
    print(f"{'label':<7} {'newsflow P/R/F1':>22} {'bare spaCy P/R/F1':>22}")
    for label in (*LABELS, "all"):
        cells = [figures[system][label] for system in systems]
        print(f"{label:<7} " + " ".join(f"{c['precision']:>6.3f} {c['recall']:>6.3f} {c['f1']:>6.3f} " for c in cells))
    print(f"partial person mentions resolved to the full name: {resolved} of {partial} "
          f"({figures['partial_person_mentions']['share']:.2f})")
    codes = figures["country_codes"]
    print(f"country codes: right on {codes['right']} of the {codes['found_as_place']} place mentions in one country "
          f"that newsflow finds as places ({codes['share_right_of_found']:.3f}; of all "
          f"{codes['place_mentions_in_one_country']}: {codes['share_right_of_all']:.3f}); "
          f"{codes['given_a_code_anyway']} of {codes['places_in_no_country']} places in no one country given a code")
    places = figures["ambiguous_places"]
    print(f"ambiguous place names: right in {places['right']} of the {places['found_as_place']} articles that "
          f"mention them as places ({places['share_right_of_found']:.3f}; {places['names']} labelled)")
    if args.verbose:
        for label, score in systems["newsflow"].items():
            if label != "all":
                print(f"\n== newsflow {label}: {len(score.errors)} errors")
                print("\n".join(sorted(score.errors)))
        print("\n== country codes\n" + "\n".join(codes["misses"] + places["misses"]))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
