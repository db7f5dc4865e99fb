"""The documentation's own checks: the README stays short, and no relative link is broken.

- README.md is under 15,000 bytes: it is for users; design and benchmarks live in docs/.
- Every relative link and image in README.md and docs/*.md points at a file that exists, and a
  `#anchor` names a heading of its target, by GitHub's rules (lowercase, punctuation removed,
  spaces to hyphens, "-1", "-2", ... for repeated headings).
- External links (http, https, mailto, ...) are not fetched: the tests need no network.
Links inside code blocks and code spans are not links, and are ignored.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCUMENTS = [README, *sorted((REPO / "docs").glob("*.md"))]
README_MAX_BYTES = 15_000

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")  # [text](target "title")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)  # [name]: target
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def without_code(markdown: str) -> str:
    """The text without fenced code blocks and code spans, where brackets are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", markdown))


def link_targets(markdown: str) -> list[str]:
    """Targets of the inline links, images and reference definitions, in order."""
    text = without_code(markdown)
    return INLINE_LINK.findall(text) + REFERENCE_DEFINITION.findall(text)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: its text, lowercased, without punctuation (except
    hyphens and underscores), spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = text.replace("`", "").replace("*", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading anchor of a document; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(FENCE.sub("", markdown)):
        anchor = github_anchor(heading)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        result.add(anchor if count == 0 else f"{anchor}-{count}")
    return result


def broken_link(document: Path, target: str) -> str | None:
    """Why `target`, a link in `document`, does not resolve; None when it does or is external."""
    if SCHEME.match(target):
        return None  # external: not fetched
    path_part, _, anchor = target.partition("#")
    path = (document.parent / unquote(path_part)).resolve() if path_part else document
    if not path.exists():
        return f"{target}: no file {path.relative_to(REPO) if path.is_relative_to(REPO) else path}"
    if anchor:
        if path.suffix != ".md":
            return f"{target}: an anchor into a file that is not markdown"
        if unquote(anchor).lower() not in anchors(path.read_text(encoding="utf-8")):
            return f"{target}: no heading with anchor #{anchor} in {path.name}"
    return None


def test_readme_is_short():
    size = README.stat().st_size
    assert size < README_MAX_BYTES, f"README.md is {size} bytes; move design or benchmark text to docs/"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(REPO)))
def test_relative_links_resolve(document: Path):
    targets = link_targets(document.read_text(encoding="utf-8"))
    broken = [reason for target in targets if (reason := broken_link(document, target))]
    assert not broken, f"broken links in {document.relative_to(REPO)}:\n" + "\n".join(broken)


@pytest.mark.parametrize("heading, anchor", [
    ("Caching and retries", "caching-and-retries"),
    ("Production: the Prefect server on PostgreSQL", "production-the-prefect-server-on-postgresql"),
    ("`documents`", "documents"),
    ("Where an unchanged or one-added run spends its time", "where-an-unchanged-or-one-added-run-spends-its-time"),
    ("Tables (`data/processed/<table>/<table>.parquet`, zstd)", "tables-dataprocessedtabletableparquet-zstd"),
    ("The [README](../README.md) in short", "the-readme-in-short"),
])
def test_github_anchor(heading: str, anchor: str):
    assert github_anchor(heading) == anchor


@pytest.mark.parametrize("markdown, targets", [
    ("see [a](docs/a.md) and ![b](b.png \"title\")", ["docs/a.md", "b.png"]),
    ("[a](https://example.com) [b](#here)", ["https://example.com", "#here"]),
    ("`[not](a-link.md)` and\n```\n[not](either.md)\n```\n", []),
    ("[ref]: docs/c.md", ["docs/c.md"]),
])
def test_link_targets(markdown: str, targets: list[str]):
    assert link_targets(markdown) == targets


def test_broken_links_are_found(tmp_path: Path):
    (tmp_path / "other.md").write_text("# Title\n## Same\n## Same\n")
    document = tmp_path / "doc.md"
    document.write_text("# Here\n")
    assert broken_link(document, "other.md#same-1") is None
    assert broken_link(document, "#here") is None
    assert broken_link(document, "https://example.invalid/never-fetched") is None
    assert "no file" in broken_link(document, "missing.md")
    assert "no heading" in broken_link(document, "other.md#same-2")
    assert "no heading" in broken_link(document, "#elsewhere")
