"""Storage: a location on any fsspec file system (local folders, s3://, gs://, az://), the
run lease and the claims that say which process holds it.

Everything newsflow keeps (the raw articles it reads, the published tables, the cache) is
reached through Location, with the few operations that object stores have too: whole-object
reads and writes, create-if-absent, listing and delete. No rename, links, locks or
modification times, so one code path serves a laptop's folders and a bucket.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

LEASE_FILE = ".newsflow-lease.json"  # in the processed folder, beside the table folders
# fsspec caches folder listings in each file system object, for good unless told otherwise: a
# long-lived process (a served schedule, a Dask worker) would then miss the files that other
# processes add (new articles, a newer snapshot, cache files), and even fail to read them.
FILE_SYSTEM_OPTIONS = {"use_listings_cache": False}


def file_system(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The file system of `url` (a URL or a local path) and the path on it, as newsflow opens
    every location: without a listings cache."""
    return fsspec.core.url_to_fs(url, **FILE_SYSTEM_OPTIONS)


def normalize_url(text: str | Path) -> str:
    """A location as newsflow stores and compares it: a local path made absolute (`file://`
    URLs too), any other URL without its trailing slash. ValueError for a protocol that fsspec
    does not know or whose package is not installed (gs:// needs gcsfs, az:// adlfs)."""
    text = str(text)
    protocol, has_protocol, rest = text.partition("://")
    if not has_protocol or protocol == "file":
        return str(Path(rest if has_protocol else text).expanduser().resolve())
    try:
        fsspec.get_filesystem_class(protocol)
    except (ValueError, ImportError) as error:
        raise ValueError(f"cannot use {text}: {error}") from None
    return text.rstrip("/")


@dataclass(frozen=True)
class ListedFile:
    """A file beneath a location: its path relative to it, size, and a tag that changes when
    its content may have (the modification time in ns on disk, the ETag on object storage)."""

    relpath: str
    size: int
    change_tag: str
    is_link: bool = False


def _change_tag(info: dict) -> str:
    # ETag on S3 and Azure, the MD5 on Google Cloud Storage; a time for other file systems.
    for key in ("ETag", "etag", "md5Hash", "LastModified", "last_modified", "mtime", "created"):
        if info.get(key) is not None:
            return str(info[key]).strip('"')
    return ""


class Location:
    """A folder on a file system that fsspec knows (a local path or a URL such as s3://bucket/x),
    with the operations newsflow needs. A file is written once under its final name, and a
    reader that must not see it half-written finds it through a manifest written after it
    (tasks/snapshots.py)."""

    def __init__(self, url: str | Path) -> None:
        self.url = normalize_url(url)
        self.fs, self.root = file_system(self.url)
        self.root = self.root.rstrip("/")
        self.is_local = isinstance(self.fs, LocalFileSystem)

    def __repr__(self) -> str:
        return f"Location({self.url!r})"

    def path(self, relative: str) -> str:
        """The file system path of `relative` (a /-separated path under this location)."""
        return f"{self.root}/{relative}" if relative else self.root

    def url_of(self, relative: str) -> str:
        """The URL of `relative` (a plain path on disk), which `file_location` opens again."""
        return self.path(relative) if self.is_local else self.fs.unstrip_protocol(self.path(relative))

    def relative(self, url: str) -> str | None:
        """The path of `url` (or a path on this file system) relative to this location; None
        when it lies outside."""
        path = self.fs._strip_protocol(str(url))
        return path[len(self.root) + 1:] if path.startswith(self.root + "/") else None

    def child(self, relative: str) -> Location:
        """The location of a folder beneath this one."""
        return Location(self.url_of(relative))

    def read_bytes(self, relative: str, limit: int | None = None) -> bytes:
        """A whole file, or its first `limit` bytes."""
        path = self.path(relative)
        if limit is None:
            return self.fs.cat_file(path)
        try:
            return self.fs.cat_file(path, start=0, end=limit)  # one ranged GET on S3
        except OSError as error:
            # S3 refuses any range of an empty object (HTTP 416, which s3fs raises as EINVAL).
            if error.errno == errno.EINVAL and self.fs.size(path) == 0:
                return b""
            raise

    def open(self, relative: str):
        """A binary file object to read `relative` as a stream (a JSONL feed of any size)."""
        return self.fs.open(self.path(relative), "rb")

    def write_bytes(self, relative: str, data: bytes, durable: bool = True) -> None:
        """Write a whole file (made with its folders; replaced if it exists). Readers see the
        old file or the new one, never a part: a PUT on an object store, a write to a temporary
        file and a rename on disk. `durable` (on disk) also waits until it would survive a power
        cut; a file that can be recomputed skips that wait."""
        if self.is_local:
            write_atomic(Path(self.path(relative)), lambda sink: sink.write(data), durable)
        else:
            self.fs.pipe_file(self.path(relative), data)  # one PUT of the whole object

    def exists(self, relative: str) -> bool:
        return self.fs.exists(self.path(relative))

    def create(self, relative: str, data: bytes) -> None:
        """Write a file that must not exist yet; FileExistsError if it does (an exclusive open
        on disk, a conditional PUT with If-None-Match on S3), so two writers cannot both win.
        The data is written in one call, never inside an open block that could fail half-way
        (an object store would commit the part written)."""
        path = self.path(relative)
        self._make_folder(path)
        with self.fs.open(path, "xb") as sink:
            sink.write(data)
            if self.is_local:  # an object store's PUT is durable when it returns
                sink.flush()
                os.fsync(sink.fileno())

    def copy(self, source: str, target: str) -> None:
        path = self.path(target)
        self._make_folder(path)
        self.fs.copy(self.path(source), path)

    def _make_folder(self, path: str) -> None:
        """The folder of `path`, on disk. Object stores need none, and s3fs's makedirs would
        create a missing bucket, where a wrong URL must fail instead."""
        if self.is_local:
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)

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

    def list_files(self) -> list[ListedFile]:
        """Every file beneath this location whose path has no part starting with a dot, sorted;
        on disk, symbolic links are listed (is_link), not followed. FileNotFoundError when the
        location does not exist; a folder that cannot be read raises too (skipping it would
        publish tables without its articles)."""
        if self.is_local:
            found = _scan_folder(self.root)
        else:
            prefix = len(self.root) + 1
            listed = self.fs.find(self.root, detail=True)
            if not listed and not self.fs.isdir(self.root):  # (an object store has no empty folders)
                raise FileNotFoundError(errno.ENOENT, "no such folder, or nothing in it", self.url)
            found = [ListedFile(path[prefix:], int(info["size"]), _change_tag(info))
                     for path, info in listed.items()
                     if info["type"] != "directory" and not any(part.startswith(".") for part in
                                                                 path[prefix:].split("/"))]
        return sorted(found, key=lambda listed: listed.relpath)

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
        if not self.is_local:
            return
        top = self.path(relative)
        for folder, _, _ in os.walk(top, topdown=False):
            if folder != top:
                try:
                    os.rmdir(folder)
                except OSError:
                    pass  # not empty


def _scan_folder(root: str) -> list[ListedFile]:
    """list_files on disk, through os.scandir: half the time of fsspec's find (4 against 8 us a
    file, which an unchanged run of a large archive spends most of its time on), and it does
    not follow a symbolic link to a folder."""
    found = []
    folders = [("", root)]
    while folders:
        prefix, folder = folders.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append((f"{prefix}{entry.name}/", entry.path))
                else:
                    info = entry.stat(follow_symlinks=False)
                    found.append(ListedFile(prefix + entry.name, info.st_size, str(info.st_mtime_ns),
                                            stat.S_ISLNK(info.st_mode)))
    return found


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, write: Callable[[BinaryIO], None], durable: bool) -> None:
    """Write a local file through `write` so that readers see the old file or the new one,
    never a mix.

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


class RunLockedError(RuntimeError):
    """Another newsflow run holds the processed folder."""


# A claim from another host (another container) cannot be checked for a live process: its
# holder renews it every CLAIM_RENEW_SECONDS while it runs, and one that nobody renewed for
# CLAIM_EXPIRY_SECONDS is taken to be abandoned. So a killed container blocks the runs after it
# for minutes, not for good.
CLAIM_RENEW_SECONDS = 60.0
CLAIM_EXPIRY_SECONDS = 10 * 60.0


@dataclass(frozen=True)
class Claim:
    """Who holds a lease or made a cache run record: a process on a host, since a time, with a
    token of its own (so that it releases only its own claim)."""

    host: str
    pid: int
    started: float  # seconds since the epoch
    token: str
    renewed: float | None = None  # the holder's latest renewal (renewed_while_held), if any

    @classmethod
    def mine(cls) -> Claim:
        """A new claim for this process."""
        return cls(socket.gethostname(), os.getpid(), time.time(), uuid.uuid4().hex)

    @classmethod
    def from_dict(cls, data: dict) -> Claim:
        renewed = data.get("renewed")
        return cls(str(data["host"]), int(data["pid"]), float(data["started"]), str(data["token"]),
                   None if renewed is None else float(renewed))

    def to_dict(self) -> dict:
        return {"host": self.host, "pid": self.pid, "started": self.started, "token": self.token,
                "renewed": self.renewed}

    def renewed_now(self) -> Claim:
        return replace(self, renewed=time.time())

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.started, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"pid {self.pid} on {self.host}, since {since}"

    def is_abandoned(self, now: float) -> bool:
        """True when its process is gone: on this host, no process has its pid; on another
        host, nobody renewed it for CLAIM_EXPIRY_SECONDS."""
        if self.host == socket.gethostname():
            return not _process_exists(self.pid)
        return now - (self.renewed or self.started) > CLAIM_EXPIRY_SECONDS


@contextmanager
def renewed_while_held(renew: Callable[[], None]) -> Iterator[None]:
    """Call `renew` every CLAIM_RENEW_SECONDS, in a thread, until the block ends. A renewal that
    fails (a storage fault) is tried again at the next one: a holder loses its claim only when
    none succeeds for CLAIM_EXPIRY_SECONDS."""
    stop = threading.Event()

    def keep_renewing() -> None:
        while not stop.wait(CLAIM_RENEW_SECONDS):
            try:
                renew()
            except Exception:  # whatever the storage raised: the next renewal tries again
                pass

    renewer = threading.Thread(target=keep_renewing, name="newsflow-claim-renewal", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()


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
    pid gone on this host, or a claim from another host that nobody renewed lately) does not
    block: its lease is taken over. While it runs, the holder renews its claim (so that a holder
    on another host is seen to be alive: Claim.is_abandoned). Two runs that take over the same
    dead lease at once could both go on; the snapshot manifest's own conditional create still
    lets only one publish.
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
    def renew() -> None:
        holder = _read_claim(location, LEASE_FILE)
        if holder is not None and holder.token == claim.token:
            location.write_bytes(LEASE_FILE, json.dumps(claim.renewed_now().to_dict()).encode())

    try:
        with renewed_while_held(renew):
            yield claim
    finally:
        try:
            holder = _read_claim(location, LEASE_FILE)
        except RunLockedError:
            holder = None
        if holder is not None and holder.token == claim.token:
            location.delete([LEASE_FILE])


def ensure_private_folder(location: Location) -> None:
    """Create a local folder (mode 700) or check that only its owner can write it; nothing for
    object storage, where the bucket's policy decides who writes.

    Cached results are pickles: anyone who can write them can run code as the pipeline's user.
    """
    if not location.is_local:
        return
    folder = Path(location.root)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = folder.stat().st_mode
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PermissionError(
            f"{folder} is writable by other users ({stat.filemode(mode)}); cached results are pickles, "
            f"so newsflow refuses to use it. Fix with: chmod go-w {folder}"
        )
