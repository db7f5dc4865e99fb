"""Numbers stage figures on real text: USD agreement of linked amounts, and parser speed.

1. Linked amounts: in every "X yuan ($Y)" or "£X ($Y)" of the seed and of BBC business, the
   share of pairs whose value_usd (ECB rate at the document's date) is within 5% of the
   article's own USD figure. BBC articles carry no metadata and rarely a full date, so undated
   ones use --default-fx-date (the corpus is from 2004-05).
2. Speed: CPU time of the number parser against the lean spaCy pipeline (senter + ner, the
   entities stage) on the same clean texts of the whole BBC corpus.

    .venv/bin/python bench/numbers_bench.py [--limit N] [--json bench/results/numbers.json]
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

from figures import report
from tasks.clean import clean_text
from tasks.dates import infer_published_date
from tasks.ner import NLP_BATCH_SIZE, load_nlp
from tasks.numbers import extract_quantities, find_quantities
from tasks.settings import corpora_dir

REPO = Path(__file__).resolve().parent.parent
CORPUS = corpora_dir() / "bbc"
SEED = REPO / "seeds" / "000_8a74b926aa5c5ac4.txt"
AGREEMENT = 0.05


def load(paths: list[Path]) -> list[dict]:
    documents = []
    for path in paths:
        text = clean_text(path.read_text(encoding="utf-8", errors="replace"))
        published_date, _ = infer_published_date(text, None)
        documents.append({"doc_id": path.name, "source": str(path), "text": text, "published_date": published_date})
    return documents


def agreement(documents: list[dict], default_fx_date: date) -> dict:
    """Share of linked (non-USD, USD) pairs whose converted USD agrees within 5%."""
    rows, _ = extract_quantities(documents, default_fx_date)
    pairs = [row for row in rows if row.stated_usd and row.value_usd is not None]
    agreeing = [row for row in pairs if abs(row.value_usd - row.stated_usd) <= AGREEMENT * row.stated_usd]
    return {"pairs": len(pairs), "agree_within_5pct": len(agreeing),
            "share": round(len(agreeing) / len(pairs), 3) if pairs else None,
            "flagged_over_2pct": sum(bool(row.usd_mismatch) for row in pairs)}


def speed(documents: list[dict]) -> dict:
    """CPU seconds of the number parser and of the lean spaCy pipeline on the same texts."""
    texts = [document["text"] for document in documents]
    nlp = load_nlp()
    started = time.process_time()
    for text in texts:
        find_quantities(text)
    parser_seconds = time.process_time() - started
    started = time.process_time()
    for _ in nlp.pipe(texts, batch_size=NLP_BATCH_SIZE):
        pass
    spacy_seconds = time.process_time() - started
    return {"documents": len(texts), "words": sum(len(t.split()) for t in texts),
            "parser_cpu_seconds": round(parser_seconds, 2), "spacy_cpu_seconds": round(spacy_seconds, 2),
            "parser_share_of_spacy": round(parser_seconds / spacy_seconds, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="use only the first N BBC articles for the speed figure")
    parser.add_argument("--default-fx-date", type=date.fromisoformat, default=date(2005, 1, 1))
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    business = sorted((CORPUS / "business").glob("*.txt"))
    everything = sorted(CORPUS.glob("*/*.txt"))[: args.limit]
    figures = {
        "seed_pairs": agreement(load([SEED]), args.default_fx_date),
        "bbc_business_pairs": agreement(load(business), args.default_fx_date),
        "speed": speed(load(everything)),
    }
    report(figures, args.json)


if __name__ == "__main__":
    main()
