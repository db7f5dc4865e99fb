"""A fault-injecting HTTP reverse proxy to put in front of a real S3 server (moto's server mode) in tests.

    with FaultProxy(upstream="http://127.0.0.1:5000") as proxy:
        fs = s3fs.S3FileSystem(skip_instance_cache=True, endpoint_url=proxy.url)
        proxy.fail(r"^/bucket/key", times=2)          # two 503 SlowDown, then the real answer
        proxy.deny(r"^/bucket/private/", method="PUT")  # 403 AccessDenied until proxy.clear()
        proxy.reset(r"^/bucket/key", times=1)         # the connection is cut without an answer
        held = proxy.hold(r"^/bucket/key", method="PUT")  # blocks until held.release()

Every other request is relayed to the upstream unchanged (method, path and query, headers with the
client's Host, body) over a kept-alive connection, and the answer is relayed back unchanged. Rules
match the request's method (None: any) and `re.search` their pattern in the path with its query
string; the first rule that matches and is still active applies. `proxy.requests` lists every
request seen, with the status it was answered with.

Standard library only, so it costs the test suite no dependency.
"""

from __future__ import annotations

import dataclasses
import http.client
import logging
import re
import secrets
import socket
import struct
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal, NamedTuple
from xml.sax.saxutils import escape

__all__ = ["FaultProxy", "Hold", "Rule", "Seen"]

log = logging.getLogger(__name__)

# What S3 says for the codes tests are likely to inject (from its error code list).
MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "ServiceUnavailable": "Service is unable to handle request.",
    "AccessDenied": "Access Denied",
    "NoSuchBucket": "The specified bucket does not exist",
    "NoSuchKey": "The specified key does not exist.",
    "RequestTimeout": "Your socket connection to the server was not read from or written to within the timeout "
                      "period. Idle connections will be closed.",
}

# Hop-by-hop headers (RFC 9110 section 7.6.1) describe one connection, not the message, so a proxy
# does not pass them on. Expect is handled here too: the proxy answers the client's
# `Expect: 100-continue` itself and then has the whole body to send upstream.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "transfer-encoding", "upgrade", "expect"})

Action = Literal["fail", "reset", "close", "hold"]


class Seen(NamedTuple):
    """A request the proxy saw; `status` is None when it was not answered (reset, or a held
    request whose client went away or that the proxy dropped on closing)."""

    method: str
    path: str
    status: int | None


class Hold:
    """Matching requests wait in the proxy, not forwarded, until `release()`; then they (and any
    later ones) go on to the upstream. `arrived` is set when the first one comes in.

    A request waits after its headers are read and before its body is, and before the proxy answers
    its `Expect: 100-continue`. s3fs's PUTs ask for that and wait for it, so one whose client is
    killed while held never delivers its body: on release the cut-off request is discarded (and
    recorded with status None), the way S3 drops an interrupted upload. (A client that sends its
    body without waiting has it buffered by the kernel meanwhile, and a whole one is forwarded.)
    """

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self._released = threading.Event()
        self._dropped = False  # the proxy closed: held requests are dropped, not forwarded
        self._lock = threading.Lock()
        self._waiting = 0

    @property
    def released(self) -> bool:
        return self._released.is_set()

    @property
    def waiting(self) -> int:
        """How many requests are held at the moment."""
        with self._lock:
            return self._waiting

    def release(self) -> None:
        """Forward the held requests and let later matching ones through."""
        self._released.set()

    def _drop(self) -> None:
        self._dropped = True
        self._released.set()

    def _wait(self) -> bool:
        """Block the calling request until released; False if it is to be dropped instead."""
        with self._lock:
            self._waiting += 1
        self.arrived.set()
        try:
            self._released.wait()
        finally:
            with self._lock:
                self._waiting -= 1
        return not self._dropped

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclasses.dataclass(eq=False)
class Rule:
    """One fault: what it matches, what it does, how many more times (None: until cleared)."""

    pattern: re.Pattern[str]
    method: str | None
    action: Action
    remaining: int | None
    status: int = 0
    code: str = ""
    message: str = ""
    hold: Hold | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.hold is not None and self.hold.released:
            return False
        return self.pattern.search(path) is not None


class FaultProxy:
    """A reverse proxy on a free loopback port in front of `upstream` ("http://host:port"), which
    fails, denies, resets or holds the requests that the rules given to it match.

    Use it as a context manager (or call `start()` and `close()`); `url` is its address.
    """

    def __init__(self, upstream: str, *, timeout: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the upstream must be an http:// URL, not {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.timeout = timeout
        self._rules: list[Rule] = []
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._holds: list[Hold] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        """Bind a free loopback port and serve from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the proxy is already started")
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"FaultProxy:{self._server.server_address[1]}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving: held requests are dropped and open client connections closed, so no
        handler thread is left waiting."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            holds, connections = list(self._holds), list(self._connections)
        for hold in holds:
            hold._drop()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # --- rules ---

    def fail(self, pattern: str, times: int = 1, status: int = 503, code: str = "SlowDown",
             method: str | None = None, message: str | None = None) -> Rule:
        """The next `times` matching requests get an S3 XML error (`status`, `code`) from the
        proxy, without reaching the upstream."""
        return self._add(Rule(re.compile(pattern), _method(method), "fail", times, status, code,
                              message if message is not None else MESSAGES.get(code, code)))

    def deny(self, pattern: str, method: str | None = None) -> Rule:
        """Every matching request gets 403 AccessDenied until `clear()`."""
        return self._add(Rule(re.compile(pattern), _method(method), "fail", None, 403, "AccessDenied",
                              MESSAGES["AccessDenied"]))

    def reset(self, pattern: str, times: int = 1, method: str | None = None, rst: bool = True) -> Rule:
        """The next `times` matching requests get no answer: right after their headers the proxy
        resets the connection (a TCP RST, as from a crashed server or a load balancer), or with
        `rst=False` closes it cleanly (a FIN: the client sees the server disconnect). botocore
        treats the two differently (the first as a failed connection, the second as a retryable
        closed one), so both are here."""
        return self._add(Rule(re.compile(pattern), _method(method), "reset" if rst else "close", times))

    def hold(self, pattern: str, method: str | None = None) -> Hold:
        """Matching requests wait in the proxy until the returned hold is released (see `Hold`)."""
        hold = Hold()
        with self._lock:
            self._holds.append(hold)
        self._add(Rule(re.compile(pattern), _method(method), "hold", None, hold=hold))
        return hold

    def clear(self) -> None:
        """Remove every rule; requests held at the moment go on to the upstream."""
        with self._lock:
            rules, self._rules = self._rules, []
        for rule in rules:
            if rule.hold is not None:
                rule.hold.release()

    @property
    def requests(self) -> list[Seen]:
        """Every request seen so far, oldest first (a copy)."""
        with self._lock:
            return list(self._seen)

    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def _apply(self, method: str, path: str) -> Rule | None:
        """The rule for this request, if any, with its count taken."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    return rule
        return None

    def _record(self, method: str, path: str, status: int | None) -> None:
        with self._lock:
            self._seen.append(Seen(method, path, status))


def _method(method: str | None) -> str | None:
    return method.upper() if method else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, handler)


class _Upstream(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as in _Handler.setup


class _ClientGone(Exception):
    """The client closed its connection before its request was whole."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and 100-continue is answered
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without NODELAY, Nagle's algorithm holds the
        # body back until the client's delayed ACK, 40 ms a response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.upstream: http.client.HTTPConnection | None = None
        self.upstream_reused = False
        with self.server.proxy._lock:
            self.server.proxy._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.proxy._lock:
            self.server.proxy._connections.discard(self.connection)
        if self.upstream is not None:
            self.upstream.close()
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def handle_expect_100(self) -> bool:
        # Deferred to _read_body: a held or reset request must not get "100 Continue" (the client
        # would start sending its body).
        return True

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError, _ClientGone):
            self.close_connection = True

    def _handle(self) -> None:
        proxy = self.server.proxy
        method, path = self.command, self.path
        rule = proxy._apply(method, path)
        if rule is not None and rule.action in ("reset", "close"):
            proxy._record(method, path, None)
            self._cut(rst=rule.action == "reset")
            return
        if rule is not None and rule.hold is not None and not rule.hold._wait():
            proxy._record(method, path, None)
            self.close_connection = True
            return
        try:
            body = self._read_body()
        except _ClientGone:
            proxy._record(method, path, None)
            raise
        if rule is not None and rule.action == "fail":
            proxy._record(method, path, rule.status)
            self._send_error(rule.status, rule.code, rule.message)
        else:
            self._forward(body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = _handle

    # --- the client's side ---

    def _read_body(self) -> bytes | None:
        """The request body as sent (chunked framing and trailers kept), or None without one."""
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length = self.headers.get("Content-Length")
        if not chunked and length is None:
            return None
        if self.headers.get("Expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()
        if not chunked:
            return self._read_exactly(int(length))
        raw = bytearray()
        while True:  # chunk-size [;ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF
            line = self._read_line()
            raw += line
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            raw += self._read_exactly(size + 2)
        while (line := self._read_line()) not in (b"\r\n", b"\n"):
            raw += line
        return bytes(raw + line)

    def _read_exactly(self, size: int) -> bytes:
        data = self.rfile.read(size)
        if len(data) < size:
            raise _ClientGone
        return data

    def _read_line(self) -> bytes:
        line = self.rfile.readline(65537)
        if not line.endswith(b"\n"):
            raise _ClientGone
        return line

    def _cut(self, rst: bool) -> None:
        """End the connection without an answer."""
        self.close_connection = True
        if rst:
            # SO_LINGER with a zero timeout makes close() send RST rather than FIN: "connection
            # reset by peer" on the client.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # the descriptor closes, and RST goes out, when finish() closes the files
        else:
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_error(self, status: int, code: str, message: str) -> None:
        request_id = secrets.token_hex(8).upper()
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
                f"<Resource>{escape(urllib.parse.urlsplit(self.path).path)}</Resource>"
                f"<RequestId>{request_id}</RequestId><HostId>{secrets.token_urlsafe(48)}</HostId></Error>").encode()
        self.send_response_only(status)
        for name, value in (("x-amz-request-id", request_id), ("Date", self.date_time_string()),
                            ("Server", "AmazonS3"), ("Content-Type", "application/xml"),
                            ("Content-Length", str(len(body)))):
            self.send_header(name, value)
        self._end_headers()
        if self.command != "HEAD":  # S3 answers a HEAD's error with its headers only
            self.wfile.write(body)
        self.wfile.flush()

    # --- the upstream's side ---

    def _forward(self, body: bytes | None) -> None:
        """Send the request upstream and relay the answer. The request is recorded before the
        client gets its answer, so `requests` lists it once the client has the answer."""
        proxy = self.server.proxy
        try:
            response = self._exchange(body)
        except (OSError, http.client.HTTPException) as error:
            log.warning("upstream %s:%s failed: %r", proxy.upstream_host, proxy.upstream_port, error)
            proxy._record(self.command, self.path, 502)
            self._send_error(502, "BadGateway", f"The proxy could not reach the upstream: {error!r}")
            return
        proxy._record(self.command, self.path, response.status)
        try:
            self._relay(response)
        finally:
            response.close()

    def _exchange(self, body: bytes | None) -> http.client.HTTPResponse:
        # A kept-alive upstream connection may have been closed by the server since its last use:
        # then the request is sent again on a new one (the body is in hand, so that is safe).
        while True:
            if self.upstream is None:
                proxy = self.server.proxy
                self.upstream = _Upstream(proxy.upstream_host, proxy.upstream_port, timeout=proxy.timeout)
                self.upstream_reused = False
            stale = self.upstream_reused
            try:
                # The client's headers as they are, Host included (it is signed).
                self.upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        self.upstream.putheader(name, value)
                if body is not None and "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    self.upstream.putheader("Transfer-Encoding", self.headers["Transfer-Encoding"])
                self.upstream.endheaders(body)
                response = self.upstream.getresponse()
            except (OSError, http.client.HTTPException) as error:
                self.upstream.close()
                self.upstream = None
                if stale and isinstance(error, (ConnectionResetError, BrokenPipeError)):
                    log.debug("kept-alive upstream connection lost (%r), trying a new one", error)
                    continue
                raise
            # http.client opens a new connection by itself after one the server closes.
            self.upstream_reused = not response.will_close
            return response

    def _relay(self, response: http.client.HTTPResponse) -> None:
        self.send_response_only(response.status, response.reason)
        headers = [(name, value) for name, value in response.getheaders() if name.lower() not in HOP_BY_HOP]
        bodiless = self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
        known_length = any(name.lower() == "content-length" for name, _ in headers)
        if bodiless or known_length:
            self._send_headers(headers)
            while not bodiless and (chunk := response.read(1 << 16)):
                self.wfile.write(chunk)
        elif response.chunked:  # streamed on in chunks too
            self._send_headers(headers + [("Transfer-Encoding", "chunked")])
            while chunk := response.read1(1 << 16):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        else:  # ended by the upstream closing its connection: the client gets a length instead
            data = response.read()
            self._send_headers(headers + [("Content-Length", str(len(data)))])
            self.wfile.write(data)
        self.wfile.flush()

    def _send_headers(self, headers: list[tuple[str, str]]) -> None:
        for name, value in headers:
            self.send_header(name, value)
        self._end_headers()

    def _end_headers(self) -> None:
        if self.close_connection:  # the client asked for it (the upstream's Connection is its own)
            self.send_header("Connection", "close")
        self.end_headers()
