"""Files: a location on any fsspec file system (the published tables, the cache's run records),
atomic writes and the content-addressed Arrow hand-off between stages on local disk, the run
lease and the claims that say which process holds it."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

import fsspec
import pyarrow as pa
from fsspec.implementations.local import LocalFileSystem
import pyarrow.ipc as ipc

from tasks.settings import ARROW_SUFFIX

ROW_GROUP_SIZE = 64 * 1024
# Files the stages hand to each other are Arrow IPC; published tables are Parquet. lz4: fast
# to read back, at 1.3-2.6 times the size of zstd Parquet.
ARROW_FILE_OPTIONS = ipc.IpcWriteOptions(compression="lz4")
LEASE_FILE = ".newsflow-lease.json"  # in the processed folder, beside the table folders


class Location:
    """A folder on a file system that fsspec knows (a local path or a URL such as s3://bucket/x),
    with the few operations newsflow needs, all of which object stores have too: whole-object
    reads and writes, create-if-absent, listing and delete. No rename, links or locks: a file
    is written once under its final name, and a reader that must not see it half-written finds
    it through a manifest written after it (tasks/snapshots.py)."""

    def __init__(self, url: str | Path) -> None:
        self.url = str(url)
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.root = self.root.rstrip("/")

    def path(self, relative: str) -> str:
        """The file system path of `relative` (a /-separated path under this location)."""
        return f"{self.root}/{relative}" if relative else self.root

    def read_bytes(self, relative: str) -> bytes:
        return self.fs.cat_file(self.path(relative))

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write a whole file (made with its folders; replaced if it exists). Readers see the
        old file or the new one, never a part: a PUT on an object store, a write to a temporary
        file and a rename on disk."""
        if isinstance(self.fs, LocalFileSystem):
            write_atomic(Path(self.path(relative)), lambda sink: sink.write(data), durable=True)
        else:
            self._write(relative, data, "wb")

    def exists(self, relative: str) -> bool:
        return self.fs.exists(self.path(relative))

    def create(self, relative: str, data: bytes) -> None:
        """Write a file that must not exist yet; FileExistsError if it does (an exclusive open
        on disk, a conditional PUT with If-None-Match on S3), so two writers cannot both win."""
        self._write(relative, data, "xb")

    def _write(self, relative: str, data: bytes, mode: str) -> None:
        path = self.path(relative)
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(path, mode) as sink:
            sink.write(data)
            if isinstance(self.fs, LocalFileSystem):  # an object store's PUT is durable when it returns
                sink.flush()
                os.fsync(sink.fileno())

    def copy(self, source: str, target: str) -> None:
        path = self.path(target)
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self.fs.copy(self.path(source), path)

    def sizes(self, relative: str) -> dict[str, int]:
        """Every file beneath `relative` (recursively) and its size, by path relative to this
        location; empty when there is no such folder."""
        try:
            found = self.fs.find(self.path(relative), detail=True)
        except FileNotFoundError:
            return {}
        prefix = len(self.root) + 1
        # (Not only "file": a symbolic link on disk is "other", and is listed too.)
        return {path[prefix:]: info["size"] for path, info in found.items() if info["type"] != "directory"}

    def delete(self, relatives: list[str]) -> None:
        """Delete these files; those already gone are skipped."""
        for relative in relatives:
            try:
                self.fs.rm_file(self.path(relative))
            except FileNotFoundError:
                pass

    def remove_empty_folders(self, relative: str) -> None:
        """Remove the empty folders beneath `relative` (on disk; object stores have none), so
        that a table folder holds no empty partition folder."""
        if not isinstance(self.fs, LocalFileSystem):
            return
        top = self.path(relative)
        for folder, _, _ in os.walk(top, topdown=False):
            if folder != top:
                try:
                    os.rmdir(folder)
                except OSError:
                    pass  # not empty


@dataclass(frozen=True)
class StageOutput:
    """What a stage task returns: where its rows are, and a hash that changes when they do.

    Downstream tasks take this object as input, so their cache keys follow the content hashes.
    """

    path: str
    errors_path: str
    content_sha256: str
    n_rows: int
    n_errors: int
    label: str

    def files(self) -> list[str]:
        """The two files of this output."""
        return [self.path, self.errors_path]

    def is_intact(self) -> bool:
        """True when both files exist and still hold the content this output was made with."""
        try:
            actual = hashlib.sha256((file_sha256(Path(self.path)) + file_sha256(Path(self.errors_path))).encode())
        except FileNotFoundError:
            return False
        return actual.hexdigest() == self.content_sha256


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, write: Callable[[BinaryIO], None], durable: bool) -> None:
    """Write a file through `write` so that readers see the old file or the new one, never a mix.

    The temporary file starts with a dot, so pyarrow, pandas, DuckDB and Polars dataset readers
    skip it while it is being written. `durable` also fsyncs the file and its folder, so that
    the new file survives a power cut; a file that can be recomputed skips that wait.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as sink:
            write(sink)
            if durable:
                sink.flush()
                os.fsync(sink.fileno())
        os.replace(tmp_name, path)
        if durable:
            _fsync_dir(path.parent)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _write_arrow(table: pa.Table, sink: BinaryIO) -> None:
    # One record batch, so that equal tables give equal bytes however they were assembled.
    with ipc.new_file(sink, table.schema, options=ARROW_FILE_OPTIONS) as writer:
        writer.write_table(table.combine_chunks())


def write_arrow_atomic(table: pa.Table, path: Path, durable: bool = False) -> None:
    """Write `table` to the Arrow IPC file `path` atomically (see write_atomic), as one record
    batch, so that equal tables give equal bytes however they were assembled. For the files
    the stages hand to each other, which are read back often and never published."""
    write_atomic(path, lambda sink: _write_arrow(table, sink), durable)


def read_arrow(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """An Arrow IPC file written by write_arrow_atomic, all columns or the given ones. Small
    Arrow files read 1.6 to 3 times faster than small Parquet files (no page decoding or
    schema conversion), and a changed batch reads dozens of them per stage."""
    with pa.OSFile(str(path)) as source:
        table = ipc.open_file(source).read_all()
    return table.select(columns) if columns is not None else table


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_stage_output(rows: pa.Table, errors: pa.Table, folder: Path, label: str) -> StageOutput:
    """Write a stage's rows and errors under `folder`, named by the hash of their content.

    Content-addressed names make every file immutable: a cached result never points at a file
    that a later computation rewrote, and downstream cache keys follow the content. No fsync:
    a cached output whose files a power cut damaged fails is_intact and is recomputed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".staging-{os.getpid()}-{uuid.uuid4().hex}"
    rows_tmp, errors_tmp = staging.with_suffix(".rows"), staging.with_suffix(".errors")
    try:
        for table, tmp in ((rows, rows_tmp), (errors, errors_tmp)):
            with tmp.open("wb") as sink:  # a private staging name: renamed below, once named by content
                _write_arrow(table, sink)
        digest = hashlib.sha256((file_sha256(rows_tmp) + file_sha256(errors_tmp)).encode()).hexdigest()
        path, errors_path = folder / f"{digest}{ARROW_SUFFIX}", folder / f"{digest}.errors{ARROW_SUFFIX}"
        os.replace(rows_tmp, path)
        os.replace(errors_tmp, errors_path)
    finally:
        rows_tmp.unlink(missing_ok=True)
        errors_tmp.unlink(missing_ok=True)
    return StageOutput(str(path), str(errors_path), digest, rows.num_rows, errors.num_rows, label)


class RunLockedError(RuntimeError):
    """Another newsflow run holds the processed folder."""


# A claim from another host cannot be checked for a live process: after this long it is
# taken to be abandoned (a run that long is far beyond any measured here).
FOREIGN_CLAIM_HOURS = 24.0


@dataclass(frozen=True)
class Claim:
    """Who holds a lease or made a cache run record: a process on a host, since a time, with a
    token of its own (so that it releases only its own claim)."""

    host: str
    pid: int
    started: float  # seconds since the epoch
    token: str

    @classmethod
    def mine(cls) -> Claim:
        """A new claim for this process."""
        return cls(socket.gethostname(), os.getpid(), time.time(), uuid.uuid4().hex)

    @classmethod
    def from_dict(cls, data: dict) -> Claim:
        return cls(str(data["host"]), int(data["pid"]), float(data["started"]), str(data["token"]))

    def to_dict(self) -> dict:
        return {"host": self.host, "pid": self.pid, "started": self.started, "token": self.token}

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.started, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"pid {self.pid} on {self.host}, since {since}"

    def is_abandoned(self, now: float) -> bool:
        """True when its process is gone: on this host, no process has its pid; on another
        host, it is older than FOREIGN_CLAIM_HOURS."""
        if self.host == socket.gethostname():
            return not _process_exists(self.pid)
        return now - self.started > FOREIGN_CLAIM_HOURS * 3600


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _read_claim(location: Location, relative: str) -> Claim | None:
    """The claim in `relative`; None when the file is gone. A file that does not parse (being
    written, or cut short) raises RunLockedError naming it."""
    try:
        data = location.read_bytes(relative)
    except FileNotFoundError:
        return None
    try:
        return Claim.from_dict(json.loads(data))
    except (ValueError, KeyError, TypeError):
        raise RunLockedError(
            f"{location.path(relative)} does not hold a readable claim (a run is starting, or one was cut off while "
            "it wrote it); if no newsflow run is going, delete that file") from None


@contextmanager
def exclusive_run_lease(location: Location) -> Iterator[Claim]:
    """Hold the lease on `location` (the processed folder) for a run or a rollback, or fail at
    once with RunLockedError naming the holder.

    The lease is a small file created only if absent (an exclusive create on disk, a
    conditional PUT on an object store), holding the holder's Claim. A holder that died (its
    pid gone on this host, or a claim from another host older than FOREIGN_CLAIM_HOURS) does not
    block: its lease is taken over. Two runs that take over the same dead lease at once could
    both go on; the snapshot manifest's own conditional create still lets only one publish.
    """
    claim = Claim.mine()
    payload = json.dumps(claim.to_dict()).encode()
    try:
        location.create(LEASE_FILE, payload)
    except FileExistsError:
        holder = _read_claim(location, LEASE_FILE)
        if holder is not None and not holder.is_abandoned(time.time()):
            raise RunLockedError(f"another newsflow run ({holder.describe()}) is writing {location.url}; "
                                 "try again later") from None
        location.delete([LEASE_FILE])
        try:
            location.create(LEASE_FILE, payload)
        except FileExistsError:
            holder = _read_claim(location, LEASE_FILE)
            raise RunLockedError(f"another newsflow run ({holder.describe() if holder else 'just finished'}) "
                                 f"is writing {location.url}; try again later") from None
    try:
        yield claim
    finally:
        try:
            holder = _read_claim(location, LEASE_FILE)
        except RunLockedError:
            holder = None
        if holder is not None and holder.token == claim.token:
            location.delete([LEASE_FILE])


def ensure_private_folder(folder: Path) -> None:
    """Create `folder` (mode 700) or check that only its owner can write it.

    Cached results are pickles: anyone who can write them can run code as the pipeline's user.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = folder.stat().st_mode
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PermissionError(
            f"{folder} is writable by other users ({stat.filemode(mode)}); cached results are pickles, "
            f"so newsflow refuses to use it. Fix with: chmod go-w {folder}"
        )
