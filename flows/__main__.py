"""The newsflow command line: `newsflow ...` (the console script) and `python -m flows ...`.

This module imports nothing heavy at module level on purpose. The NER worker processes are
started with the spawn method, and a spawned process imports the parent's main module before
it runs anything: were that the flow's module, every worker would import Prefect and every
stage (about 1.4 s) before loading spaCy. A package's `__main__` is never re-imported, and the
console script re-imports only this module.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the command line (see flows/news_pipeline.py for the commands and options)."""
    from flows.news_pipeline import main as run_command_line

    return run_command_line(argv)


if __name__ == "__main__":
    sys.exit(main())
