"""Plan: what changed in the raw folder since the latest snapshot, so that a run reads and
computes only that.

Each snapshot records the raw files its tables were built from (path, size, change tag,
how many inputs each held and how many of them were rejected) and the version of everything that
decides the tables (Settings.state_version: the code, the spaCy model, the settings). A run compares
the raw folder's listing with the latest snapshot's: new, changed (size or change tag: the
modification time on disk, the ETag on object storage) and deleted files are the work. When
the version differs, everything is. An article and its sidecar (`NAME.txt`, `NAME.meta.json`)
count as one: when either changes, both are read again, since the sidecar's metadata (or its
being an orphan) depends on the other.

Within a changed file, a document whose input (its ingested row: text and metadata, hashed as
`input_sha256`) equals the published document's of the same doc_id is unchanged: it keeps its
published rows, and only the others are cleaned, parsed and measured. A JSONL feed that grows by
appended lines costs its new lines' work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc

from tasks.fingerprints import StoredFingerprints
from tasks.listing import SourceFile, SourceListing, sources_key
from tasks.snapshots import Snapshot, latest_snapshot, load_snapshot, read_state_table
from tasks.storage import Location

# The raw files a snapshot was built from (an internal table of each snapshot).
SOURCES = pa.schema([
    pa.field("source_file", pa.string(), nullable=False),
    pa.field("size", pa.int64(), nullable=False),
    pa.field("change_tag", pa.string(), nullable=False),  # modification time (ns) on disk, ETag on object storage
    pa.field("n_inputs", pa.int64(), nullable=False),  # articles (or lines) that must be documents or rejections
    pa.field("n_rejected", pa.int64(), nullable=False),
])
ARTICLE_OR_SIDECAR = (".meta.json", ".txt", ".md", ".html", ".htm")


def _stem(relpath: str) -> str:
    """What an article and its sidecar share (`a/b.txt`, `a/b.meta.json` -> `a/b`)."""
    lower = relpath.lower()
    for suffix in ARTICLE_OR_SIDECAR:
        if lower.endswith(suffix):
            return relpath[: -len(suffix)]
    return relpath


@dataclass(frozen=True)
class Plan:
    """The work of a run."""

    changed: SourceListing  # new or changed files: read them
    removed: tuple[str, ...]  # files whose published rows go: the changed and the deleted ones
    rebuild: bool  # no snapshot of this version: every file is changed, no row is kept
    n_files: int
    listing_key: str = ""  # tasks/listing.py's sources_key of the whole listing and the version

    @property
    def nothing_to_do(self) -> bool:
        return not self.changed and not self.removed and not self.rebuild


def plan_changes(listing: SourceListing, previous: pa.Table | None) -> Plan:
    """Compare the raw folder's listing with the files the latest snapshot of this version was
    built from (`previous`: a SOURCES table; None when there is no such snapshot)."""
    if previous is None:
        return Plan(listing, (), True, len(listing))
    known = dict(zip(previous["source_file"].to_pylist(),
                     zip(previous["size"].to_pylist(), previous["change_tag"].to_pylist())))
    current = {source.relpath: source for source in listing}
    touched = {path for path, source in current.items() if known.get(path) != (source.size, source.change_tag)}
    touched |= known.keys() - current.keys()
    touched_stems = {_stem(path) for path in touched}
    touched |= {path for path in current.keys() | known.keys() if _stem(path) in touched_stems}
    changed = SourceListing(source for source in listing if source.relpath in touched)
    removed = tuple(sorted(path for path in touched if path in known))
    return Plan(changed, removed, False, len(listing))


def sources_table(sources: Iterable[SourceFile], n_inputs: dict[str, int], n_rejected: dict[str, int]) -> pa.Table:
    """A SOURCES table of these files."""
    sources = list(sources)
    paths = [source.relpath for source in sources]
    return pa.table([paths, [source.size for source in sources], [source.change_tag for source in sources],
                     [n_inputs.get(path, 0) for path in paths], [n_rejected.get(path, 0) for path in paths]],
                    schema=SOURCES)


def plan_run(processed_dir: str, listing: SourceListing, version: str) -> tuple[Plan, Snapshot | None]:
    """The plan of a run on `listing` (Settings.state_version `version`), against the latest
    snapshot in `processed_dir` when it was built under the same version (returned too)."""
    location = Location(processed_dir)
    latest = latest_snapshot(location)
    key = sources_key(listing, version)  # (once: 0.04 s for 27,000 files)
    base = latest if latest is not None and latest.version == version else None
    if base is not None and base.listing_key == key:  # the fast path of an unchanged run
        return Plan(SourceListing(()), (), False, len(listing), key), base
    # (A snapshot that records no raw files cannot be a base.)
    previous = read_state_table(location, base, "sources") if base is not None else None
    return replace(plan_changes(listing, previous), listing_key=key), base if previous is not None else None


def published_accounting(snapshot: Snapshot) -> tuple[int, int, int]:
    """(inputs, documents, rejected inputs) of a snapshot, from its manifest."""
    return snapshot.n_inputs, snapshot.rows["documents"], snapshot.n_rejected


def published_inputs(processed_dir: str, snapshot_id: int | None, files: Iterable[str]) -> dict[str, str]:
    """doc_id -> input_sha256 of the documents of these raw files in snapshot `snapshot_id`
    (empty for None); reads the fingerprint buckets of these files only."""
    files = list(files)
    if snapshot_id is None or not files:
        return {}
    location = Location(processed_dir)
    prints = StoredFingerprints(location, load_snapshot(location, snapshot_id)).of_files(files)
    prints = prints.filter(pc.is_valid(prints["input_sha256"]))
    return dict(zip(prints["doc_id"].to_pylist(), prints["input_sha256"].to_pylist()))
