"""How often two people agree on subjects and speakers: the ceiling a target on one person's labels can have.

A second annotator labelled the final sets' quantities (subject, speaker) and quotes (speaker)
from the text, without seeing the first annotator's labels. This scores the second labels
against the first with score_attribution's rules, as newsflow's are scored.

    .venv/bin/python bench/label_agreement.py [--json bench/results/label_agreement.json]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from figures import report
from score_attribution import head_words, same_name, subject_right
from score_entities import read_jsonl

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def agreement(first: list[dict], second: list[dict], fields: tuple[str, ...]) -> dict[str, float | int]:
    """The share of rows whose second label is right against the first, per field."""
    assert len(first) == len(second), "the two files must label the same rows in the same order"
    heads = head_words(first) if "subject" in fields else {}
    right = dict.fromkeys(fields, 0)
    for one, two in zip(first, second):
        same_row = (one["file"], one.get("quantity") or one.get("quote")) == (two["file"], two.get("quantity") or two.get("quote"))
        assert same_row, f"the files disagree on which row this is: {one} / {two}"
        if "subject" in fields:
            right["subject"] += subject_right(two["subject"], one["subject"], heads.get(one["subject"]))
        if "speaker" in fields:
            right["speaker"] += same_name(two["speaker"], one["speaker"])
    return {"rows": len(first), **{f"{field}_agree": round(count / len(first), 4) for field, count in right.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    report({
        "quantities": agreement(read_jsonl(DATA / "quantity_attribution_final.jsonl"),
                                read_jsonl(DATA / "quantity_attribution_final_second.jsonl"), ("subject", "speaker")),
        "quotations": agreement(read_jsonl(DATA / "quotations_final.jsonl"),
                                read_jsonl(DATA / "quotations_final_second.jsonl"), ("speaker",)),
    }, args.json)


if __name__ == "__main__":
    main()
