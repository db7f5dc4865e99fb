"""The raw folder's listing: the files ingest reads, and the key ingest's cache is made of.

Imports neither Prefect nor pyarrow: the command line reads the listing before it imports them,
to start a NER worker early when ingest will run (flows/__main__.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tasks.settings import ARROW_SUFFIX

STAGE = "ingest"


@dataclass(frozen=True)
class SourceFile:
    """A file found under the raw folder; size and mtime make the ingest cache key."""

    relpath: str
    size: int
    mtime_ns: int


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


def discover_sources(raw_dir: Path) -> SourceListing:
    """Every regular, non-hidden file under `raw_dir`, sorted; symlinks are listed, not followed.
    A folder that cannot be read (or `raw_dir` missing) raises: skipping it, as os.walk does by
    default, would publish tables without its articles. (os.scandir with string paths: Path
    objects cost 1 s for 27,000 files, this 0.1 s.)"""
    found = []
    folders = [("", str(raw_dir))]
    while folders:
        prefix, folder = folders.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append((f"{prefix}{entry.name}/", entry.path))
                else:
                    stat = entry.stat(follow_symlinks=False)
                    found.append(SourceFile(prefix + entry.name, stat.st_size, stat.st_mtime_ns))
    return SourceListing(sorted(found, key=lambda source: source.relpath))


def sources_key(sources: Iterable[SourceFile], cache_version: str) -> str:
    """A hash of a listing (names, sizes, mtimes) and a version (the listing key)."""
    digest = hashlib.sha256(cache_version.encode())
    for source in sources:
        digest.update(f"\n{source.relpath}\0{source.size}\0{source.mtime_ns}".encode())
    return digest.hexdigest()


def ingest_errors_path(work_dir: Path, sources: Iterable[SourceFile], cache_version: str) -> Path:
    """Where ingest writes the error rows of this listing; it exists once ingest has read it."""
    return work_dir / STAGE / f"{sources_key(sources, cache_version)}.errors{ARROW_SUFFIX}"


def published_listing_key(processed_dir: Path) -> str | None:
    """The listing key of the latest snapshot in `processed_dir` (its newest manifest that parses:
    tasks/snapshots.py), or None when there is none. Reads JSON only, for the command line's
    early check; OSError when the folder cannot be listed."""
    try:
        names = sorted((name for name in os.listdir(processed_dir / "_snapshots") if name.endswith(".json")),
                       reverse=True)
    except FileNotFoundError:
        return None
    for name in names:
        try:
            return json.loads((processed_dir / "_snapshots" / name).read_bytes())["listing_key"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def ingest_will_run(processed_dir: Path, sources: Iterable[SourceFile], version: str) -> bool:
    """True unless the latest snapshot in `processed_dir` was built from this listing under this
    Settings.state_version: then the run will read files (and new text is likely)."""
    return published_listing_key(processed_dir) != sources_key(sources, version)
