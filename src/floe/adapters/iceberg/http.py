"""HTTP requests with one deadline for the whole exchange and a cap on the answer's size.

``requests`` applies its ``timeout`` to each socket operation, so a server
that sends its answer one byte a second holds the caller for as long as it
likes, and it reads whatever body comes, decompressed, into memory: a 1 MiB
gzip answer can become gigabytes. :class:`BoundedHTTPAdapter` gives every
request a deadline covering connecting, sending, the headers and the whole
body (a watchdog shuts the connection's socket down when it passes, which
ends any blocked read at once), and reads the body itself, counting the
decoded bytes, before handing the response back: callers that read
``response.text`` or ``.json()`` later (PyIceberg) get a body already read
within both bounds.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import socket
import threading
import time
import urllib.parse
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from floe.domain.errors import CatalogConnectionError, ResponseTooLargeError

#: How much longer than the deadline a single socket read may wait (the watchdog ends it first).
_READ_TIMEOUT_SLACK_S = 5.0
#: Decoded bytes taken from the connection at a time.
_CHUNK_BYTES = 256 * 1024


class _Watchdog:
    """One daemon thread that ends every request whose deadline has passed.

    A thread per request (``threading.Timer``) costs about 0.1-0.3 ms to
    start, as much as a catalog call's own work on a fast network; one
    thread keeping the deadlines in a heap costs a push per request.
    """

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, watch: _Watch) -> None:
        """End ``watch`` at ``deadline`` (``time.monotonic()``) unless it stopped before."""
        with self._wakeup:
            earliest = self._due[0][0] if self._due else float("inf")
            heapq.heappush(self._due, (deadline, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():  # first use, or a fork
                self._thread = threading.Thread(
                    target=self._run, name="floe-request-deadlines", daemon=True
                )
                self._thread.start()
            elif deadline < earliest:  # else the thread already wakes up in time
                self._wakeup.notify()

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while True:
                    while self._due and self._due[0][2].stopped:
                        heapq.heappop(self._due)  # finished in time: forget it
                    if not self._due:
                        self._wakeup.wait()
                        continue
                    left = self._due[0][0] - time.monotonic()
                    if left <= 0:
                        expired = heapq.heappop(self._due)[2]
                        break
                    self._wakeup.wait(left)
            expired.expire()


_WATCHDOG = _Watchdog()


class _Watch:
    """The deadline of one request: at expiry, shuts down the sockets it carries."""

    def __init__(self, timeout_s: float) -> None:
        #: Whether the deadline passed while a connection of the request was open.
        self.cut = False
        self._timeout_s = timeout_s
        self._expired = False
        self._stopped = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def stopped(self) -> bool:
        """Whether the request is over."""
        return self._stopped

    def start(self) -> None:
        _WATCHDOG.watch(time.monotonic() + self._timeout_s, self)

    def stop(self) -> None:
        """The request is over: its sockets are no longer touched."""
        with self._lock:
            self._stopped = True
            self._sockets.clear()

    def attach(self, connection: HTTPConnection) -> None:
        """Carry ``connection``'s socket (cut at once when the deadline already passed)."""
        sock = connection.sock
        if sock is None:
            return
        with self._lock:
            if self._stopped:
                return
            if self._expired:
                self.cut = True
                _shut(sock)
                return
            self._sockets.append(sock)

    def expire(self) -> None:
        """The deadline passed: cut every connection the request still has open."""
        with self._lock:
            if self._stopped:
                return
            self._expired = True
            for sock in self._sockets:
                self.cut = True
                _shut(sock)
            self._sockets.clear()


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, even for TLS: it wakes a read blocked in
    # another thread (it returns end-of-file) without touching the TLS state.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_WATCH: contextvars.ContextVar[_Watch | None] = contextvars.ContextVar(
    "floe_http_watch", default=None
)


def _attach(connection: HTTPConnection) -> None:
    watch = _WATCH.get()
    if watch is not None:
        watch.attach(connection)


class _WatchedHTTPConnection(HTTPConnection):
    """A connection whose socket the running request's deadline can cut."""

    def connect(self) -> None:
        super().connect()
        _attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)  # a pooled connection, opened by an earlier request
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    """The TLS form of :class:`_WatchedHTTPConnection`."""

    def connect(self) -> None:
        super().connect()
        _attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class BoundedHTTPAdapter(HTTPAdapter):
    """Every request ends within ``timeout_s`` and reads at most ``max_bytes`` of answer.

    The deadline covers connecting, sending, the headers and the whole body.
    Passed, it raises :class:`CatalogConnectionError` (a transient fault: the
    call guard retries it, and a commit reports it as an unknown outcome);
    a deadline that passes while connecting stays ``requests.ConnectTimeout``
    (the request never left). An answer announcing or delivering more than
    ``max_bytes`` decoded bytes raises :class:`ResponseTooLargeError`, not
    retried: it would come again.

    Args:
        timeout_s: Seconds a request may take, from connecting to its last byte
            (a ``timeout`` given with the request, in seconds, takes precedence).
        max_bytes: Decoded bytes an answer may have.
    """

    def __init__(self, timeout_s: float, max_bytes: int) -> None:
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_WATCHED_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # Through an HTTP(S) proxy (HTTPS_PROXY is honoured) the connections
        # are watched too; a SOCKS proxy keeps its own connection classes and
        # is bounded by the socket timeouts only.
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)
        return manager

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        timeout_s = (
            float(timeout)
            if isinstance(timeout, int | float) and not isinstance(timeout, bool)
            else self._timeout_s
        )
        watch = _Watch(timeout_s)
        token = _WATCH.set(watch)
        watch.start()
        try:
            # Connecting has the deadline as its timeout (a connect timeout says
            # the request never left); reads get more, so that the watchdog, not
            # a read timeout racing it, ends a request that outlives its deadline.
            per_read = (timeout_s, timeout_s + _READ_TIMEOUT_SLACK_S)
            response = super().send(
                request, stream=True, timeout=per_read, verify=verify, cert=cert, proxies=proxies
            )
            try:
                self._read_body(request, response)
            except BaseException:
                response.close()  # the rest is unread: the connection cannot be reused
                raise
        except (ResponseTooLargeError, requests.ConnectTimeout):
            raise
        except Exception as exc:
            if not watch.cut:
                raise
            raise CatalogConnectionError(
                f"{_where(request)}: no complete answer within {timeout_s:g} s "
                "(request_timeout_s bounds connecting, sending and reading the whole answer)",
                subject=_where(request),
            ) from exc
        finally:
            watch.stop()
            _WATCH.reset(token)
        return response

    def _read_body(self, request: requests.PreparedRequest, response: requests.Response) -> None:
        announced = response.headers.get("Content-Length", "")
        has_body = (request.method or "").upper() != "HEAD"
        if has_body and announced.strip().isdigit() and int(announced) > self._max_bytes:
            raise self._too_large(request, f"it announces {int(announced)} bytes")
        chunks: list[bytes] = []
        size = 0
        # iter_content decodes gzip/deflate a chunk at a time (urllib3 returns at
        # most the chunk size of decoded bytes per read), so a compressed bomb is
        # stopped after max_bytes, and it translates urllib3's errors as
        # requests would when reading the body itself.
        for chunk in response.iter_content(_CHUNK_BYTES):
            size += len(chunk)
            if size > self._max_bytes:
                raise self._too_large(request, f"more than {self._max_bytes} bytes arrived")
            chunks.append(chunk)
        # What Response.content would have stored had it read the body itself.
        response._content = b"".join(chunks)

    def _too_large(self, request: requests.PreparedRequest, what: str) -> ResponseTooLargeError:
        where = _where(request)
        return ResponseTooLargeError(
            f"{where}: the answer is larger than max_response_bytes={self._max_bytes} "
            f"({what}, decoded); not retried, it would come again. If the answer is genuine, "
            "raise max_response_bytes in the catalog config.",
            subject=where,
        )


def _where(request: requests.PreparedRequest) -> str:
    """``METHOD scheme://host/path`` of ``request``: no query, no user info."""
    parts = urllib.parse.urlsplit(request.url or "")
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{request.method} {parts.scheme}://{host}{parts.path}"


def bounded_session(timeout_s: float, max_bytes: int) -> requests.Session:
    """A session whose every request is bounded as :class:`BoundedHTTPAdapter` says."""
    session = requests.Session()
    adapter = BoundedHTTPAdapter(timeout_s, max_bytes)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
