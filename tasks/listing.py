"""The raw folder's listing: the files ingest reads, and the key ingest's cache is made of.

Imports neither Prefect nor pyarrow: the command line reads the listing before it imports them,
to start a NER worker early when ingest will run (flows/__main__.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from tasks.settings import ARROW_SUFFIX
from tasks.storage import ListedFile, Location

STAGE = "ingest"

# A file found under the raw folder: its size and change tag (mtime on disk, ETag on object
# storage) make the ingest cache key.
SourceFile = ListedFile


class SourceListing:
    """The files under the raw folder (SourceFile, sorted by path), as one value.

    Neither a list nor a dataclass on purpose: Prefect walks every item of a list or a
    dataclass in a task's inputs looking for futures, which cost 0.1-0.2 s per submission for a
    listing of 2,000 files. Equal listings pickle (and so hash, for the cache key) equally.
    """

    __slots__ = ("files",)

    def __init__(self, files: Iterable[SourceFile]):
        self.files = tuple(files)

    def __iter__(self) -> Iterator[SourceFile]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        return f"SourceListing({len(self.files)} files)"


def discover_sources(raw_dir: str | Path) -> SourceListing:
    """Every non-hidden file under the raw folder (a path or URL), sorted (Location.list_files:
    on disk, symlinks are listed, not followed). A folder that cannot be read, or a raw folder
    that does not exist, raises."""
    return SourceListing(Location(raw_dir).list_files())


def sources_key(sources: Iterable[SourceFile], cache_version: str) -> str:
    """A hash of a listing (names, sizes, change tags) and a version (the listing key)."""
    digest = hashlib.sha256(cache_version.encode())
    for source in sources:
        digest.update(f"\n{source.relpath}\0{source.size}\0{source.change_tag}".encode())
    return digest.hexdigest()


def ingest_errors_path(sources: Iterable[SourceFile], cache_version: str) -> str:
    """Where ingest writes the error rows of this listing in the work location; it exists once
    ingest has read it."""
    return f"{STAGE}/{sources_key(sources, cache_version)}.errors{ARROW_SUFFIX}"


def published_listing_key(processed_dir: str | Path) -> str | None:
    """The listing key of the latest snapshot in the processed folder (its newest manifest
    that parses: tasks/snapshots.py), or None when there is none. Reads JSON only, for the
    command line's early check; OSError when the folder cannot be listed."""
    processed = Location(processed_dir)
    names = sorted((name for name in processed.sizes("_snapshots") if name.endswith(".json")), reverse=True)
    for name in names:
        try:
            return json.loads(processed.read_bytes(name))["listing_key"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def ingest_will_run(processed_dir: str | Path, sources: Iterable[SourceFile], version: str) -> bool:
    """True unless the latest snapshot in the processed folder was built from this listing
    under this Settings.state_version: then the run will read files (and new text is likely)."""
    return published_listing_key(processed_dir) != sources_key(sources, version)
