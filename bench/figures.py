"""Shared by the bench scripts: print the figures and write them where docs/performance.md quotes them."""

from __future__ import annotations

import json
from pathlib import Path


def report(figures: dict, path: Path | None) -> None:
    """Print `figures` as JSON, and write them to `path` when one is given."""
    print(json.dumps(figures, indent=2))
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2) + "\n")
