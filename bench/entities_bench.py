"""Entities stage speed: words per CPU-second of the stage against bare nlp.pipe.

Runs on the same clean BBC texts, in one process, one after the other:
1. bare `nlp.pipe` with the lean components (senter + ner), the stage's limit;
2. the entities stage (`extract_entities`: the same pipe plus the naming rules, the places'
   countries and attribution, which parses the sentences that hold a quantity), given each
   text's quantities as the numbers stage hands them over, with the index of place names built
   beforehand, as a NER worker builds it when it starts (its build is timed on its own);
3. the model's full default pipeline, to show what excluding components buys, and how many
   entities differ (senter and the parser cut sentences slightly differently).

    .venv/bin/python bench/entities_bench.py [--limit N] [--json bench/results/entities.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import spacy

from figures import report
from tasks.clean import clean_text
from tasks.ner import NLP_BATCH_SIZE, extract_entities, load_nlp
from tasks.numbers import quantity_spans
from tasks.places import place_index
from tasks.settings import SPACY_MODEL, corpora_dir

CORPUS = corpora_dir() / "bbc"


def timed(function) -> tuple[float, object]:
    started = time.process_time()
    result = function()
    return time.process_time() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=600, help="number of BBC articles (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    paths = sorted(CORPUS.glob("*/*.txt"))[: args.limit]
    texts = [clean_text(path.read_text(encoding="utf-8", errors="replace")) for path in paths]
    # With their quantities, as the numbers stage hands them to the entities stage.
    rows = [{"doc_id": str(i), "source": str(path), "text": text, "quantities": quantity_spans(text)}
            for i, (path, text) in enumerate(zip(paths, texts))]
    words = sum(len(text.split()) for text in texts)
    lean, full = load_nlp(), spacy.load(SPACY_MODEL)
    lean("warm up")
    full("warm up")
    place_index_seconds, _ = timed(place_index)

    bare_seconds, lean_docs = timed(lambda: [{(e.start_char, e.end_char, e.label_) for e in d.ents}
                                             for d in lean.pipe(texts, batch_size=NLP_BATCH_SIZE)])
    stage_seconds, _ = timed(lambda: extract_entities(lean, rows))
    full_seconds, full_docs = timed(lambda: [{(e.start_char, e.end_char, e.label_) for e in d.ents}
                                             for d in full.pipe(texts, batch_size=NLP_BATCH_SIZE)])
    figures = {
        "documents": len(texts), "words": words,
        "bare_lean_pipe_words_per_cpu_second": round(words / bare_seconds),
        "entities_stage_words_per_cpu_second": round(words / stage_seconds),
        "stage_to_bare_ratio": round(bare_seconds / stage_seconds, 3),
        "place_index_build_cpu_seconds": round(place_index_seconds, 2),
        "full_pipeline_words_per_cpu_second": round(words / full_seconds),
        "lean_speedup_over_full": round(full_seconds / bare_seconds, 2),
        "entities_full_pipeline": sum(len(ents) for ents in full_docs),
        "entities_differing_lean_vs_full": sum(len(a ^ b) for a, b in zip(lean_docs, full_docs)),
    }
    report(figures, args.json)


if __name__ == "__main__":
    main()
