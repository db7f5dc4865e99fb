"""Files: a location on any fsspec file system (the published tables), atomic writes and the
content-addressed Arrow hand-off between stages on local disk, the locks."""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
LOCK_FILE = ".newsflow.lock"
CACHE_LOCK_FILE = ".newsflow-cache.lock"


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
        """Write a whole file (made with its folders; replaced if it exists)."""
        self._write(relative, data, "wb")

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
        return {path[prefix:]: info["size"] for path, info in found.items() if info["type"] == "file"}

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


@contextmanager
def exclusive_run_lock(processed_dir: Path) -> Iterator[None]:
    """Hold `<processed_dir>/.newsflow.lock` for the whole run, or fail at once with the holder.

    The lock is an flock on the file, so the kernel releases it when its holder dies, even by
    SIGKILL: a stale lock file (its pid no longer running) never blocks a later run.
    """
    processed_dir.mkdir(parents=True, exist_ok=True)
    path = processed_dir / LOCK_FILE
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise RunLockedError(f"another newsflow run (pid {holder}) is writing {processed_dir}; try again later") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            lock.seek(0)
            lock.truncate()
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def cache_in_use(cache_dir: Path) -> Iterator[Callable[[], bool]]:
    """Hold a shared lock on `cache_dir` for a run (runs with other processed folders may share
    the cache), waiting while another run sweeps it. Yields `try_exclusive()`, to call once at
    the end of the run: it tries to make the lock exclusive and says whether it did, that is
    whether no other run is using the cache, so that unused files can be deleted (tasks/sweep.py).
    """
    with open(cache_dir / CACHE_LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)

        def try_exclusive() -> bool:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # (flock has dropped the shared lock: the run is ending)
                return False
            return True

        try:
            yield try_exclusive
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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
