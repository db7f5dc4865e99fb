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
  none counts as a miss).

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
from tasks.ner import extract_entities, load_nlp
from tasks.settings import SPACY_MODEL, corpora_dir

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "entity_mentions_dev.jsonl"
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

    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = clean_texts(rows, corpora_dir())
    scored, drifted = [], []
    for row in rows:
        text = texts.get((row["corpus"], row["file"]))
        if text is None or hashlib.sha256(text.encode()).hexdigest() != row["clean_text_sha256"]:
            drifted.append(row["file"])
        else:
            scored.append((row, text))
    documents = [{"doc_id": str(index), "source": row["file"], "text": text} for index, (row, text) in enumerate(scored)]
    mentions, _ = extract_entities(load_nlp(), documents)
    newsflow: list[dict[Span, str]] = [{} for _ in scored]
    for mention in mentions:
        if mention.label in LABELS:
            newsflow[int(mention.doc_id)][(mention.start_char, mention.end_char, mention.label)] = mention.canonical
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
    print(f"{len(scored)} articles scored ({args.data.name}); clean text changed since labelling: {drifted or 'none'}")
    print(f"{'label':<7} {'newsflow P/R/F1':>22} {'bare spaCy P/R/F1':>22}")
    for label in (*LABELS, "all"):
        cells = [figures[system][label] for system in systems]
        print(f"{label:<7} " + " ".join(f"{c['precision']:>6.3f} {c['recall']:>6.3f} {c['f1']:>6.3f} " for c in cells))
    print(f"partial person mentions resolved to the full name: {resolved} of {partial} "
          f"({figures['partial_person_mentions']['share']:.2f})")
    if args.verbose:
        for label, score in systems["newsflow"].items():
            if label != "all":
                print(f"\n== newsflow {label}: {len(score.errors)} errors")
                print("\n".join(sorted(score.errors)))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
