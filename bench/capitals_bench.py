"""What reading words in capitals a second time costs the entities stage (tasks/ner.py).

People's Daily pages open with a dateline in capitals ("BEIJING, Nov. 18 (Xinhua) --"), so they
have more runs in capitals than most news. In one process, alternating three times, the stage
runs on their clean texts with the case-restored second reading and without it (the windows
replaced by none); CPU seconds.

    .venv/bin/python bench/capitals_bench.py [--corpus peoplesdaily-dev] [--json bench/results/capitals.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import tasks.ner as ner
from figures import report
from tasks.clean import clean_text
from tasks.ingest import ingest_sources
from tasks.listing import discover_sources
from tasks.places import place_index
from tasks.settings import corpora_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="peoplesdaily-dev", help="folder under the corpora (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    folder = str(corpora_dir() / args.corpus)
    documents, _ = ingest_sources(folder, discover_sources(folder), 10_000_000)
    rows = [{"doc_id": str(index), "source": document.source, "text": clean_text(document.raw_text)}
            for index, document in enumerate(documents)]
    nlp = ner.load_nlp()
    place_index()
    restored_windows = ner.restored_windows
    seconds: dict[str, float] = {"with": 0.0, "without": 0.0}
    for _ in range(3):
        for mode in ("without", "with"):
            ner.restored_windows = restored_windows if mode == "with" else (lambda text: [])
            started = time.process_time()
            ner.extract_entities(nlp, rows)
            seconds[mode] += time.process_time() - started
    ner.restored_windows = restored_windows
    windows = [window for row in rows for window in restored_windows(row["text"])]
    report({
        "corpus": args.corpus, "documents": len(rows),
        "documents_with_runs_read_again": sum(1 for row in rows if ner.capitals_runs(row["text"])),
        "windows": len(windows), "window_chars": sum(len(text) for _, text, _ in windows),
        "text_chars": sum(len(row["text"]) for row in rows),
        "cpu_seconds_without": round(seconds["without"] / 3, 3), "cpu_seconds_with": round(seconds["with"] / 3, 3),
        "throughput_with_to_without": round(seconds["without"] / seconds["with"], 3),
    }, args.json)


if __name__ == "__main__":
    main()
