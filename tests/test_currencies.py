"""Tests for tasks/currencies.py: the kept symbol table is babel's (CLDR's)."""

from __future__ import annotations

import json

from tasks.currencies import SYMBOLS_FILE, cldr_symbols


def test_the_kept_symbols_are_those_babel_gives():
    """The symbols are kept in a file so that a process need not read every CLDR locale; after
    a babel upgrade, `python -m tasks.currencies > tasks/currency_symbols.json` renews them."""
    assert json.loads(SYMBOLS_FILE.read_text(encoding="utf-8")) == cldr_symbols()
