"""Score `tasks.numbers.find_quantities` against the hand-labelled BBC business sentences.

Reads tests/data/bbc_business_quantities.jsonl (one sentence per line with its expected money
amounts and percentages), runs the parser on each sentence, ignores predicted counts and matches
predictions to expected items greedily and one-to-one within each sentence. A match needs the same
kind, the same currency (money only) and a value within 0.5% of the expected one. Precision,
recall and F1 are reported for money and for percentages (percent and percentage points together).

    cd /work/main && .venv/bin/python bench/score_numbers.py [--verbose] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from figures import Score
from tasks.numbers import find_quantities
from tasks.settings import corpora_dir

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "bbc_business_quantities.jsonl"
CORPUS = corpora_dir() / "bbc"
GROUPS = {"money": "money", "percent": "percent", "percentage_points": "percent"}
TOLERANCE = 0.005


@dataclass(frozen=True)
class Item:
    """One expected or predicted quantity, reduced to what is scored."""

    text: str
    kind: str
    value: float
    currency: str | None


def matches(predicted: Item, expected: Item) -> bool:
    """Same kind, same currency for money, value within 0.5% (exact when the expected value is 0)."""
    if predicted.kind != expected.kind:
        return False
    if predicted.kind == "money" and predicted.currency != expected.currency:
        return False
    return abs(predicted.value - expected.value) <= TOLERANCE * abs(expected.value)


def describe(item: Item) -> str:
    currency = f" {item.currency}" if item.currency else ""
    return f"{item.text!r} {item.kind} {item.value:g}{currency}"


def predictions(row: dict, corpus: Path | None) -> list[Item]:
    """The parser's money and percentages in the sentence, read in its article when available
    (as the pipeline does: the article decides ambiguous currencies such as "rupees")."""
    sentence = row["sentence"]
    article = corpus / row["file"] if corpus else None
    if article is None or not article.is_file():
        found = find_quantities(sentence)
    else:
        text = article.read_text(encoding="utf-8")
        start = text.index(sentence)
        found = [q for q in find_quantities(text) if start <= q.start_char and q.end_char <= start + len(sentence)]
    return [Item(q.text, q.kind, q.value, q.currency) for q in found if q.kind in GROUPS]


def score_sentence(row: dict, scores: dict[str, Score], corpus: Path | None) -> None:
    """Match one sentence's predictions to its expected items and add the outcome to `scores`."""
    sentence = row["sentence"]
    expected = [Item(e["text"], e["kind"], e["value"], e["currency"]) for e in row["expected"]]
    predicted = predictions(row, corpus)
    unmatched = list(expected)
    where = f"{row['file']}: {sentence}"
    for prediction in predicted:
        score = scores[GROUPS[prediction.kind]]
        hit = next((e for e in unmatched if matches(prediction, e)), None)
        if hit is None:
            score.fp += 1
            score.errors.append(f"FP {describe(prediction)}\n    {where}")
        else:
            score.tp += 1
            unmatched.remove(hit)
    for item in unmatched:
        score = scores[GROUPS[item.kind]]
        score.fn += 1
        score.errors.append(f"FN {describe(item)}\n    {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list every false positive and negative")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--data", type=Path, default=DATA, help="labelled sentences (default: %(default)s)")
    parser.add_argument("--corpus", type=Path, default=CORPUS,
                        help="BBC corpus folder, to read each sentence in its article (default: %(default)s)")
    args = parser.parse_args()
    corpus = args.corpus if args.corpus.is_dir() else None
    print(f"context: {'whole articles from ' + str(corpus) if corpus else 'sentences only (corpus not found)'}")

    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    scores = {"money": Score(), "percent": Score()}
    for row in rows:
        score_sentence(row, scores, corpus)

    print(f"{len(rows)} sentences from {len({row['file'] for row in rows})} articles ({args.data.name})")
    print(f"{'group':<8} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>6} {'f1':>6}")
    for group, score in scores.items():
        f = score.figures()
        print(f"{group:<8} {f['tp']:>4} {f['fp']:>4} {f['fn']:>4} "
              f"{f['precision']:>9.3f} {f['recall']:>6.3f} {f['f1']:>6.3f}")
    if args.verbose:
        for group, score in scores.items():
            print(f"\n== {group}: {len(score.errors)} errors")
            print("\n".join(score.errors))
    if args.json:
        args.json.write_text(json.dumps({group: score.figures() for group, score in scores.items()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
