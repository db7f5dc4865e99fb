"""Shared by the bench scripts: print the figures and write them where docs/performance.md quotes
them, and precision, recall and F1 from counts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


def report(figures: dict, path: Path | None) -> None:
    """Print `figures` as JSON, and write them to `path` when one is given."""
    print(json.dumps(figures, indent=2))
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2) + "\n")


@dataclass
class Score:
    """True positives, false positives and false negatives of one group, and the misses to list
    with --verbose."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float | int]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}
