"""Score `tasks.encodings.decode_bytes` on the CJK encoding test set (tests/data/encodings/).

Each UTF-8 passage file holds one group of passages (separated by blank lines), written in
the encodings listed in GROUP_ENCODINGS; a passage that an encoding cannot represent is skipped
for it (Big5 cannot hold most simplified characters). BOM-less UTF-16-LE is written for every
other passage; "utf-16" is Python's codec, which writes a byte-order mark. A decoding is right when
its text equals the passage (GB18030 bytes decoded with the gbk codec to the same text are right).

For each group and encoding it prints right / total, how many decodings were flagged doubtful
(and how many of those were long passages), and how many were wrong but not flagged; then the
overall figures, the mean decode time of a document that is not UTF-8, and the time of the first
detection in the process (it builds the frequency tables once).

    cd /work/main && .venv/bin/python bench/score_encodings.py [--verbose] [--json PATH] [--ref REV]

--ref REV scores the decode_bytes of git revision REV (tasks/encodings.py, or tasks/ingest.py where it
lived before) instead of the working tree's (the figure before a change); a decode_bytes that returns no doubt flag counts as never doubtful.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "encodings"
SHORT_MAX_CHARS = 40  # a short passage is one line of 8-40 characters
LONG_MIN_CHARS = 150  # a long one is several sentences, 150-600 characters
BOMLESS = "utf-16-le"  # written for every other passage only
GROUP_ENCODINGS = {
    "simplified": ("gb18030", "gbk", "utf-8", "utf-16", BOMLESS),
    "traditional": ("big5", "utf-8", "utf-16", BOMLESS),
    "japanese": ("shift_jis", "utf-8", "utf-16", BOMLESS),
    "korean": ("euc_kr", "utf-8", "utf-16", BOMLESS),
    # Negative cases: western and Cyrillic single-byte text must not be read as CJK.
    "western": ("cp1252", "latin-1"),
    "cyrillic": ("cp1251", "koi8_r"),
}
CJK_GROUPS = ("simplified", "traditional", "japanese", "korean")


@dataclass(frozen=True)
class Pair:
    """One passage written in one encoding."""

    group: str
    number: int  # the passage's position in its file, from 0
    text: str
    encoding: str
    data: bytes

    @property
    def is_long(self) -> bool:
        return len(self.text) >= LONG_MIN_CHARS


@dataclass(frozen=True)
class Outcome:
    """What decode_bytes made of one pair."""

    pair: Pair
    text: str | None  # None when decode_bytes raised
    codec: str
    doubtful: bool
    seconds: float

    @property
    def right(self) -> bool:
        return self.text == self.pair.text


@dataclass
class Tally:
    """Counts for one group and encoding (or overall)."""

    total: int = 0
    right: int = 0
    doubtful: int = 0
    doubtful_long: int = 0
    wrong_not_doubtful: int = 0
    codecs: dict[str, int] = field(default_factory=dict)  # the codecs of the right decodings

    def add(self, outcome: Outcome) -> None:
        self.total += 1
        self.right += outcome.right
        self.doubtful += outcome.doubtful
        self.doubtful_long += outcome.doubtful and outcome.pair.is_long
        self.wrong_not_doubtful += not outcome.right and not outcome.doubtful
        if outcome.right:
            self.codecs[outcome.codec] = self.codecs.get(outcome.codec, 0) + 1

    def figures(self) -> dict:
        return {"right": self.right, "total": self.total,
                "accuracy": round(self.right / self.total, 4) if self.total else None,
                "doubtful": self.doubtful, "doubtful_long": self.doubtful_long,
                "wrong_not_doubtful": self.wrong_not_doubtful, "codecs": dict(sorted(self.codecs.items()))}


def passages(group: str) -> list[str]:
    """The group's passages: blocks of its UTF-8 file separated by blank lines."""
    text = (DATA / f"{group}.txt").read_text(encoding="utf-8")
    return [block.strip("\n") for block in text.split("\n\n") if block.strip()]


def pairs(groups: tuple[str, ...] = tuple(GROUP_ENCODINGS)) -> Iterator[Pair]:
    """Every representable (passage, encoding) pair of the test set, in a fixed order."""
    for group in groups:
        for number, text in enumerate(passages(group)):
            for encoding in GROUP_ENCODINGS[group]:
                if encoding == BOMLESS and number % 2:
                    continue
                try:
                    data = text.encode(encoding)
                except UnicodeEncodeError:
                    continue  # the encoding cannot hold this passage: not a test of detection
                yield Pair(group, number, text, encoding, data)


def _decode_bytes_at(ref: str) -> Callable:
    """decode_bytes as it was at git revision `ref`: in tasks/encodings.py, or before that module
    existed, tasks/ingest.py."""
    for module_path in ("tasks/encodings.py", "tasks/ingest.py"):
        shown = subprocess.run(["git", "show", f"{ref}:{module_path}"], cwd=REPO, capture_output=True, text=True)
        if shown.returncode == 0:
            source = shown.stdout
            break
    else:
        raise SystemExit(f"no decode_bytes at {ref}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ingest_at_ref.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location("ingest_at_ref", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return module.decode_bytes


def decode(decode_bytes: Callable, pair: Pair) -> Outcome:
    """Run decode_bytes on one pair and time it; an exception is a wrong, undoubted decoding."""
    start = time.perf_counter()
    try:
        text, codec, *doubt = decode_bytes(pair.data)
    except Exception as error:  # noqa: BLE001 - an InputError of either version is a failure to decode
        return Outcome(pair, None, f"error: {error}", False, time.perf_counter() - start)
    return Outcome(pair, text, codec, bool(doubt and doubt[0]), time.perf_counter() - start)


def score(decode_bytes: Callable, groups: tuple[str, ...] = tuple(GROUP_ENCODINGS)) -> list[Outcome]:
    """The outcome of every pair of the test set."""
    return [decode(decode_bytes, pair) for pair in pairs(groups)]


def report(outcomes: list[Outcome]) -> dict:
    """Figures per group and encoding, per group, for the CJK groups, overall, and decode times."""
    by_encoding: dict[str, dict[str, Tally]] = {}
    by_group: dict[str, Tally] = {}
    cjk, overall = Tally(), Tally()
    for outcome in outcomes:
        group, encoding = outcome.pair.group, outcome.pair.encoding
        by_encoding.setdefault(group, {}).setdefault(encoding, Tally()).add(outcome)
        by_group.setdefault(group, Tally()).add(outcome)
        overall.add(outcome)
        if group in CJK_GROUPS:
            cjk.add(outcome)
    # UTF-8 and BOM data never reach detection: time the documents that do.
    detected = [o.seconds for o in outcomes if o.pair.encoding not in ("utf-8", "utf-16")]
    return {
        "groups": {group: {"all": by_group[group].figures(),
                           "encodings": {enc: tally.figures() for enc, tally in encodings.items()}}
                   for group, encodings in by_encoding.items()},
        "cjk": cjk.figures(),
        "overall": overall.figures(),
        "decode_ms_per_detected_document": {
            "n": len(detected),
            "mean": round(1000 * sum(detected) / len(detected), 3),
            "max": round(1000 * max(detected), 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--ref", help="score decode_bytes at this git revision")
    parser.add_argument("--verbose", action="store_true", help="list the wrong and doubtful decodings")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    if args.ref:
        decode_bytes = _decode_bytes_at(args.ref)
    else:
        from tasks.encodings import decode_bytes
    first = decode(decode_bytes, next(pair for pair in pairs() if pair.encoding == "gb18030"))
    outcomes = score(decode_bytes)
    figures = report(outcomes)
    figures["first_detection_ms"] = round(1000 * first.seconds, 1)
    figures["ref"] = args.ref or "working tree"
    print(f"{'group':12} {'encoding':10} {'right':>9} {'acc':>7} {'doubtful':>8} {'(long)':>6} "
          f"{'wrong+sure':>10}  codecs")
    for group, entry in figures["groups"].items():
        for encoding, row in entry["encodings"].items():
            print(f"{group:12} {encoding:10} {row['right']:>4}/{row['total']:<4} {row['accuracy']:>7.2%} "
                  f"{row['doubtful']:>8} {row['doubtful_long']:>6} {row['wrong_not_doubtful']:>10}  {row['codecs']}")
    for name in ("cjk", "overall"):
        row = figures[name]
        print(f"{name:23} {row['right']:>4}/{row['total']:<4} {row['accuracy']:>7.2%} "
              f"{row['doubtful']:>8} {row['doubtful_long']:>6} {row['wrong_not_doubtful']:>10}")
    timing = figures["decode_ms_per_detected_document"]
    print(f"decode time per non-UTF-8 document (n={timing['n']}): mean {timing['mean']} ms, max {timing['max']} ms; "
          f"first detection in the process {figures['first_detection_ms']} ms")
    if args.verbose:
        for outcome in outcomes:
            if not outcome.right or outcome.doubtful:
                mark = "DOUBTFUL" if outcome.doubtful else "WRONG"
                mark += "" if outcome.right else " (wrong)" if outcome.doubtful else ""
                print(f"{mark:17} {outcome.pair.group}/{outcome.pair.number} {outcome.pair.encoding} -> "
                      f"{outcome.codec}: {(outcome.text or '')[:40]!r} (expected {outcome.pair.text[:20]!r})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
