"""What attribution costs the entities stage: its CPU time on the BBC corpus with and without it.

The same `extract_entities` runs on every BBC article, once untimed (the first pass over a text
is slower: spaCy's vocabulary and caches grow), then alternating three times:
- with each text's quantities, as the numbers stage hands them over: the sentences that hold
  money or a percentage are parsed, and each quantity gets its subject and speaker;
- without: no quantities, so nothing is parsed (NER, the naming rules, places and quotes run
  as in both).
The issue's limit: the stage may lose at most 15% of its throughput.

    .venv/bin/python bench/attribution_bench.py [--limit N] [--json bench/results/attribution_cost.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from figures import report
from tasks.clean import clean_text
from tasks.ner import extract_entities, load_nlp
from tasks.numbers import quantity_spans
from tasks.places import place_index
from tasks.settings import corpora_dir

ROUNDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="number of BBC articles (default: all)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    paths = sorted((corpora_dir() / "bbc").glob("*/*.txt"))
    paths = paths[:args.limit] if args.limit else paths
    texts = [clean_text(path.read_text(encoding="utf-8", errors="replace")) for path in paths]
    with_quantities = [{"doc_id": str(i), "source": str(path), "text": text, "quantities": quantity_spans(text)}
                       for i, (path, text) in enumerate(zip(paths, texts))]
    without = [{key: value for key, value in row.items() if key != "quantities"} for row in with_quantities]
    words = sum(len(text.split()) for text in texts)
    nlp = load_nlp()
    place_index()
    extract_entities(nlp, with_quantities)  # untimed: the first pass over new text grows spaCy's caches
    seconds = {"with": 0.0, "without": 0.0}
    for _ in range(ROUNDS):
        for mode, rows in (("without", without), ("with", with_quantities)):
            started = time.process_time()
            found = extract_entities(nlp, rows)
            seconds[mode] += time.process_time() - started
    kinds = [kind for row in with_quantities for *_, kind in row["quantities"]]
    report({
        "documents": len(texts), "words": words, "quantities": len(kinds),
        "money_or_percent": sum(kind != "count" for kind in kinds),
        "quantity_contexts": len(found.quantity_contexts), "quotations": len(found.quotations),
        "stage_words_per_cpu_second_without_attribution": round(words * ROUNDS / seconds["without"]),
        "stage_words_per_cpu_second_with_attribution": round(words * ROUNDS / seconds["with"]),
        "throughput_ratio": round(seconds["without"] / seconds["with"], 3),
    }, args.json)


if __name__ == "__main__":
    main()
