"""Tests for tests/s3_faults.py: the fault-injecting proxy relays s3fs's requests to a real S3
server (moto's server mode) faithfully, and its faults reach s3fs the way S3's own would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
import s3fs

from s3_faults import FaultProxy

BUCKET = "faults"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "faults-test", "AWS_SECRET_ACCESS_KEY": "faults-test-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        return True  # any HTTP answer will do
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """moto's S3 server on a free loopback port, with an empty bucket; its URL."""
    url = f"http://127.0.0.1:{_free_port()}"
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", url.rsplit(":", 1)[1]],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _answers(url):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("moto's S3 server did not start")
            time.sleep(0.1)
        boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                     aws_secret_access_key="y").create_bucket(Bucket=BUCKET)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)


@pytest.fixture
def proxy(upstream: str) -> Iterator[FaultProxy]:
    with FaultProxy(upstream) as proxy:
        yield proxy


@pytest.fixture
def fs(proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> s3fs.S3FileSystem:
    """An s3fs file system that reaches S3 through the proxy, as the tests that use the proxy will."""
    for name, value in (CREDENTIALS | {"AWS_ENDPOINT_URL": proxy.url}).items():
        monkeypatch.setenv(name, value)
    # The endpoint is passed as well: fsspec's configuration (which tests/conftest.py's s3_bucket
    # sets in the worker process) would otherwise take precedence over AWS_ENDPOINT_URL.
    return s3fs.S3FileSystem(skip_instance_cache=True, endpoint_url=proxy.url)


def _key(request: pytest.FixtureRequest, name: str = "") -> str:
    return f"{BUCKET}/{request.node.name}/{name}".rstrip("/")


def test_requests_and_answers_are_relayed_unchanged(fs: s3fs.S3FileSystem, proxy: FaultProxy,
                                                    request: pytest.FixtureRequest):
    big = os.urandom(6 << 20)
    fs.pipe({_key(request, "small"): b"hello", _key(request, "empty"): b"", _key(request, "big"): big})
    with fs.open(_key(request, "parts"), "wb", block_size=5 << 20) as file:  # a multipart upload
        for _ in range(11):
            file.write(b"p" * (1 << 20))

    assert fs.cat(_key(request, "small")) == b"hello"
    assert fs.cat(_key(request, "empty")) == b""
    assert fs.cat(_key(request, "big")) == big
    assert fs.cat_file(_key(request, "big"), start=10, end=20) == big[10:20]  # a range read: 206
    assert fs.cat(_key(request, "parts")) == b"p" * (11 << 20)
    assert fs.info(_key(request, "parts"))["size"] == 11 << 20  # a HEAD
    assert fs.find(_key(request)) == [_key(request, name) for name in ("big", "empty", "parts", "small")]
    assert not fs.exists(_key(request, "missing"))

    seen = proxy.requests
    assert any(method == "PUT" and "partNumber=2" in path for method, path, _ in seen)
    assert {status for _, _, status in seen} <= {200, 206, 404}  # 404: the missing key's HEAD


def test_a_burst_of_slow_downs_on_a_read_is_retried_transparently(fs: s3fs.S3FileSystem, proxy: FaultProxy,
                                                                 request: pytest.FixtureRequest):
    key = _key(request, "object")
    fs.pipe(key, b"content")
    rule = proxy.fail(f"^/{key}$", times=2, method="GET")
    start = len(proxy.requests)

    assert fs.cat(key) == b"content"
    assert [status for method, _, status in proxy.requests[start:] if method == "GET"] == [503, 503, 200]
    assert rule.hits == 2 and rule.remaining == 0


def test_a_fault_answer_is_an_s3_error_document(proxy: FaultProxy):
    proxy.fail("^/", times=1, status=500, code="InternalError")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(f"{proxy.url}/{BUCKET}/anything", timeout=5)
    error = raised.value
    body = error.read().decode()
    assert error.code == 500 and error.headers["Content-Type"] == "application/xml"
    assert int(error.headers["Content-Length"]) == len(body)
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "<Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message>" in body
    assert "<RequestId>" in body


def test_denied_requests_raise_permission_error_until_cleared(fs: s3fs.S3FileSystem, proxy: FaultProxy,
                                                              request: pytest.FixtureRequest):
    key = _key(request, "object")
    fs.pipe(key, b"content")
    proxy.deny(f"^/{BUCKET}", method="GET")
    proxy.deny(f"^/{BUCKET}", method="PUT")

    start = len(proxy.requests)
    with pytest.raises(PermissionError, match="^Access Denied$"):
        fs.cat(key)  # s3fs asks with a HEAD first, which goes through
    with pytest.raises(PermissionError, match="^Access Denied$"):
        fs.pipe(key, b"other")
    with pytest.raises(PermissionError, match="^Access Denied$"):
        fs.find(_key(request))
    proxy.deny(f"^/{BUCKET}", method="HEAD")
    with pytest.raises(PermissionError, match="^Forbidden$"):  # a HEAD's error has no body to say more
        fs.info(key)
    assert [(method, status) for method, _, status in proxy.requests[start:]] == [
        ("HEAD", 200), ("GET", 403), ("PUT", 403), ("GET", 403), ("HEAD", 403)]  # none retried

    proxy.clear()
    assert fs.cat(key) == b"content"


def test_a_reset_connection_is_retried(fs: s3fs.S3FileSystem, proxy: FaultProxy, request: pytest.FixtureRequest):
    key = _key(request, "object")
    fs.pipe(key, b"content")
    proxy.reset(f"^/{key}$", times=1, method="GET")
    start = len(proxy.requests)

    assert fs.cat(key) == b"content"
    assert [status for method, _, status in proxy.requests[start:] if method == "GET"] == [None, 200]


def test_a_held_put_waits_until_released(fs: s3fs.S3FileSystem, proxy: FaultProxy, request: pytest.FixtureRequest):
    key = _key(request, "object")
    held = proxy.hold(f"^/{key}$", method="PUT")
    writer = threading.Thread(target=fs.pipe, args=(key, b"content"))
    writer.start()
    try:
        assert held.arrived.wait(10)
        writer.join(0.3)
        assert writer.is_alive() and held.waiting == 1
        assert not fs.exists(key)  # a HEAD, which the hold does not match: the PUT has not reached S3
    finally:
        held.release()
        writer.join(10)
    assert not writer.is_alive()
    assert fs.cat(key) == b"content"
    assert ("PUT", f"/{key}", 200) in proxy.requests


def test_a_client_killed_while_its_put_is_held_writes_nothing(fs: s3fs.S3FileSystem, proxy: FaultProxy,
                                                              request: pytest.FixtureRequest):
    """What the hold is for: a client process killed in the middle of a PUT, whose cut-off
    request the proxy drops on release (as S3 drops an interrupted upload)."""
    key = _key(request, "object")
    held = proxy.hold(f"^/{key}$", method="PUT")
    code = ("import s3fs, sys; s3fs.S3FileSystem(skip_instance_cache=True, endpoint_url=sys.argv[1])"
            ".pipe(sys.argv[2], b'x' * (3 << 20))")
    client = subprocess.Popen([sys.executable, "-c", code, proxy.url, key], env=os.environ | CREDENTIALS)
    try:
        assert held.arrived.wait(30)
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait()
    held.release()

    deadline = time.monotonic() + 10
    while ("PUT", f"/{key}", None) not in proxy.requests:
        assert time.monotonic() < deadline, proxy.requests
        time.sleep(0.05)
    assert not fs.exists(key)
