"""Does a run cost what changed? The same BBC text as 2,225 articles and as about 27,500 short
documents, each: cold, unchanged, one article added, one changed, one deleted.

The short documents are the articles cut at sentence ends into pieces of at least 20 words (the
last piece of an article may be shorter): the same words, twelve times the files. For each
corpus, against one Prefect server started here, each step runs `newsflow run` in a subprocess:
its flow run's duration as Prefect recorded it, the process's wall and CPU time and peak RSS
(the whole process tree), then the cache's bytes and each table folder's bytes and files. Bare
`nlp.pipe` (the same components and processes) on the same documents is the limit a cold run is
compared with. The unchanged step runs three times (the median is reported).

    .venv/bin/python bench/scale_bench.py [--workers 2] [--json bench/results/scale.json]   # make bench-scale
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

from prefect.server.api.server import SubprocessASGIServer

from figures import report
from pipeline_bench import BARE_PIPE, CORPUS, flow, measure, median_run
from tasks.schemas import PUBLISHED_TABLES

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
PIECE_WORDS = 20


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def write_articles(paths: list[Path], raw: Path) -> int:
    """The articles as they are; returns the number of words."""
    raw.mkdir(parents=True)
    words = 0
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        (raw / f"{path.parent.name}_{path.stem}.txt").write_text(text, encoding="utf-8")
        words += len(text.split())
    return words


def write_pieces(paths: list[Path], raw: Path) -> int:
    """The articles cut at sentence ends into documents of at least PIECE_WORDS words; returns
    the number of documents."""
    raw.mkdir(parents=True)
    count = 0
    for path in paths:
        sentences = SENTENCE_END.split(path.read_text(encoding="utf-8", errors="replace").strip())
        piece: list[str] = []
        for sentence in sentences:
            piece.append(sentence)
            if len(" ".join(piece).split()) >= PIECE_WORDS or sentence is sentences[-1]:
                (raw / f"{path.parent.name}_{path.stem}_{count:05d}.txt").write_text(" ".join(piece), encoding="utf-8")
                piece, count = [], count + 1
    return count


def sizes(state: Path) -> dict:
    """Cache bytes, and each table folder's bytes and files."""
    processed = state / "processed"
    tables = {name: {"bytes": folder_bytes(processed / name), "files": len(list((processed / name).rglob("*.parquet")))}
              for name in PUBLISHED_TABLES}
    return {"cache_bytes": folder_bytes(state / "cache"), "processed_bytes": folder_bytes(processed),
            "tables": tables}


def steps_on(raw: Path, state: Path, extra: Path, workers: int, env: dict) -> dict:
    """Cold, unchanged (three times), one added, one changed, one deleted: each a flow run."""
    bare = [sys.executable, "-c", BARE_PIPE, str(raw), str(workers)]
    steps = {"bare_nlp_pipe": measure(bare, env)}
    steps["bare_nlp_pipe"].pop("output")
    steps["cold"] = flow(raw, state, workers, env) | sizes(state)
    steps["unchanged"] = median_run([flow(raw, state, workers, env) for _ in range(3)])
    # A new text, not a copy of one (NER parses an exact copy's text once).
    (raw / "added_article.txt").write_text(extra.read_text(encoding="utf-8", errors="replace")
                                           + "\nThis article was updated on Friday.\n", encoding="utf-8")
    steps["one_added"] = flow(raw, state, workers, env)
    changed = sorted(raw.glob("business_*.txt"))[7]
    changed.write_text(changed.read_text(encoding="utf-8") + " Shares fell 3% to 120p on Friday.", encoding="utf-8")
    steps["one_changed"] = flow(raw, state, workers, env)
    sorted(raw.glob("sport_*.txt"))[3].unlink()
    steps["one_deleted"] = flow(raw, state, workers, env) | sizes(state)
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    paths = sorted(CORPUS.glob("*/*.txt"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # its heartbeat races SQLite at start-up
    server = SubprocessASGIServer()
    server.start()
    env = os.environ | {"PREFECT_API_URL": server.api_url}
    figures: dict = {"workers": args.workers, "cores": os.cpu_count(), "command": "make bench-scale"}
    with tempfile.TemporaryDirectory(prefix="newsflow-scale-") as folder:
        work = Path(folder)
        figures["words"] = write_articles(paths[:-1], work / "articles" / "raw")
        figures["documents"] = {"articles": len(paths) - 1, "pieces": write_pieces(paths[:-1], work / "pieces" / "raw")}
        for corpus in ("articles", "pieces"):
            figures[corpus] = steps_on(work / corpus / "raw", work / corpus / "state", paths[-1], args.workers, env)
    articles, pieces = figures["articles"], figures["pieces"]
    figures["pieces_vs_articles"] = {
        step: round(pieces[step]["flow_run_seconds"] / articles[step]["flow_run_seconds"], 2)
        for step in ("cold", "unchanged", "one_added", "one_changed", "one_deleted")
    } | {
        "bare_nlp_pipe": round(pieces["bare_nlp_pipe"]["seconds"] / articles["bare_nlp_pipe"]["seconds"], 2),
        "cold_peak_rss": round(pieces["cold"]["peak_rss_mb"] / articles["cold"]["peak_rss_mb"], 2),
        "cache_bytes": round(pieces["cold"]["cache_bytes"] / articles["cold"]["cache_bytes"], 2),
    }
    figures["cold_vs_bare"] = {corpus: round(figures[corpus]["bare_nlp_pipe"]["seconds"]
                                             / figures[corpus]["cold"]["seconds"], 3)
                               for corpus in ("articles", "pieces")}
    report(figures, args.json)


if __name__ == "__main__":
    main()
