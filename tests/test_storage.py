"""Tests for tasks/storage.py: locations and their listing, the run lease, the cache folder check."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tasks import storage
from tasks.storage import (
    CLAIM_EXPIRY_SECONDS, LEASE_FILE, Claim, Location, RunLockedError, ensure_private_folder, exclusive_run_lease,
    normalize_url,
)
from tests.conftest import REPO, wait_until

def test_a_second_run_on_the_same_folder_is_refused_with_the_holder(tmp_path: Path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from tasks.storage import Location, exclusive_run_lease\n"
         "with exclusive_run_lease(Location(sys.argv[1])):\n    print('locked', flush=True); time.sleep(60)",
         str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"pid {holder.pid} on {socket.gethostname()}, since "):
            with exclusive_run_lease(Location(str(tmp_path))):
                pass
    finally:
        holder.kill()  # SIGKILL: its lease file stays behind
        holder.wait()
    assert (tmp_path / LEASE_FILE).exists()
    with exclusive_run_lease(Location(str(tmp_path))):  # a dead holder's lease is taken over
        pass
    assert not (tmp_path / LEASE_FILE).exists()  # released


@pytest.mark.parametrize(("started_ago", "renewed_ago", "taken_over"), [
    (60, None, False),  # just started
    (CLAIM_EXPIRY_SECONDS + 60, None, True),  # never renewed: its holder died early
    (48 * 3600, 60, False),  # a long run, renewed a minute ago
    (48 * 3600, CLAIM_EXPIRY_SECONDS + 60, True),  # renewals stopped: its container was killed
])
def test_a_lease_held_from_another_host_blocks_while_it_is_renewed(tmp_path: Path, started_ago: float,
                                                                    renewed_ago: float | None, taken_over: bool):
    now = time.time()
    foreign = Claim("another-host", os.getpid(), now - started_ago, "f" * 32,
                    None if renewed_ago is None else now - renewed_ago)
    (tmp_path / LEASE_FILE).write_text(json.dumps(foreign.to_dict()))
    if taken_over:
        with exclusive_run_lease(Location(str(tmp_path))) as claim:
            assert json.loads((tmp_path / LEASE_FILE).read_text())["token"] == claim.token
    else:
        with pytest.raises(RunLockedError, match="on another-host"):
            with exclusive_run_lease(Location(str(tmp_path))):
                pass


def test_the_holder_renews_its_lease_while_it_runs(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(storage, "CLAIM_RENEW_SECONDS", 0.05)
    with exclusive_run_lease(Location(tmp_path)) as claim:
        wait_until(lambda: json.loads((tmp_path / LEASE_FILE).read_text())["renewed"], 10, "a renewal")
        held = Claim.from_dict(json.loads((tmp_path / LEASE_FILE).read_text()))
        assert held.token == claim.token and held.renewed > held.started
    assert not (tmp_path / LEASE_FILE).exists()


def test_a_lease_that_does_not_parse_is_refused_with_the_file_to_delete(tmp_path: Path):
    (tmp_path / LEASE_FILE).write_text("")  # a run cut off between creating the file and writing it
    with pytest.raises(RunLockedError, match=f"{LEASE_FILE} does not hold a readable claim.*delete that file"):
        with exclusive_run_lease(Location(str(tmp_path))):
            pass


def test_a_run_releases_only_its_own_lease(tmp_path: Path):
    other = Claim(socket.gethostname(), os.getpid(), time.time(), "o" * 32)
    with exclusive_run_lease(Location(str(tmp_path))):
        (tmp_path / LEASE_FILE).write_text(json.dumps(other.to_dict()))  # taken over meanwhile
    assert json.loads((tmp_path / LEASE_FILE).read_text())["token"] == other.token


def test_cache_folder_must_not_be_writable_by_others(tmp_path: Path):
    fresh = tmp_path / "cache"
    ensure_private_folder(Location(fresh))
    assert fresh.stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(PermissionError, match="chmod go-w"):
        ensure_private_folder(Location(shared))


@pytest.mark.parametrize(("given", "expected"), [
    ("data/raw", str(REPO / "data" / "raw")),  # relative to the working folder (the tests run in the repo)
    ("file:///srv/news/", "/srv/news"),
    ("/srv/news/../news", "/srv/news"),
    ("s3://bucket/news/raw/", "s3://bucket/news/raw"),
    ("s3://bucket", "s3://bucket"),
])
def test_locations_are_normalized(given: str, expected: str, monkeypatch):
    monkeypatch.chdir(REPO)
    assert normalize_url(given) == expected


@pytest.mark.parametrize(("url", "message"), [
    ("nosuch://bucket/x", "Protocol not known: nosuch"),
    ("gs://bucket/x", "install gcsfs"),
])
def test_a_location_fsspec_cannot_open_is_refused_naming_it(url: str, message: str):
    with pytest.raises(ValueError, match=f"cannot use {url}: .*{message}"):
        Location(url)


def test_listing_on_s3_skips_hidden_files_and_tags_content_changes(s3_bucket: str):
    raw = Location(f"{s3_bucket}/listing-{uuid.uuid4().hex[:8]}")
    with pytest.raises(FileNotFoundError):
        raw.list_files()
    for relative, data in [("a.txt", b"one"), ("b/c.txt", b"two"), (".hidden.txt", b"x"), ("d/.e/f.txt", b"x")]:
        raw.write_bytes(relative, data)
    first = raw.list_files()
    assert [(listed.relpath, listed.size) for listed in first] == [("a.txt", 3), ("b/c.txt", 3)]
    raw.write_bytes("a.txt", b"ONE")  # the same size, other content: another ETag
    raw.write_bytes("b/g.txt", b"new")  # added by another writer: seen at once (no cached listing)
    second = raw.list_files()
    assert [listed.relpath for listed in second] == ["a.txt", "b/c.txt", "b/g.txt"]
    assert second[0].change_tag != first[0].change_tag and second[1] == first[1]


def test_an_exclusive_create_on_s3_admits_one_writer(s3_bucket: str):
    location = Location(f"{s3_bucket}/create-{uuid.uuid4().hex[:8]}")
    location.create("manifest.json", b"first")
    with pytest.raises(FileExistsError):
        location.create("manifest.json", b"second")
    assert location.read_bytes("manifest.json") == b"first"
