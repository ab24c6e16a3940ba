"""A recording, fault-injecting HTTP proxy in front of the REST catalog, on 127.0.0.1.

Tests use it to see exactly what floe sends (paths, grant type, scope,
headers) and to make the catalog misbehave on demand (an HTTP status, a
dropped connection, latency) for the next matching requests.
"""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "content-length"}


@dataclass(frozen=True)
class Recorded:
    """One request the proxy saw."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        """The body decoded as an HTML form (token requests)."""
        return dict(urllib.parse.parse_qsl(self.body.decode()))


@dataclass
class Fault:
    """Misbehave on the next ``times`` requests matching ``method`` and ``path_contains``.

    ``skip`` lets that many matching requests through untouched first. What
    happens: a ``delay_s`` pause, then an HTTP ``status`` answer (with
    ``headers``, ``body`` and ``content_type``) or a connection ``reset``,
    instead of forwarding or, with ``after_forward``, once upstream applied
    the request. The Polaris proxy also knows, after forwarding, the upstream
    answer sent wrong: ``cut_body`` (the full length announced, half the body
    sent, then the connection closed; its own token answers too) and
    ``trickle_s`` (half the body, a pause of that many seconds, the rest);
    ``go_down`` (stop listening, then answer and close the connection: the
    next request is refused), and
    ``revoke_tokens`` (every token revoked before this request is checked).
    A redirect is a ``status`` 3xx with a ``Location`` in ``headers``
    (:func:`redirect`).
    It also sends hostile answers, to any request: ``drip_s`` (the answer,
    whichever it is, one byte every ``drip_s`` seconds for ``drip_for_s``
    seconds, then the rest; from the status line on with ``drip_headers``,
    else from the body on; ``dripped_out`` is set once the whole course ran
    with the client still reading), ``huge_body`` (a ``status`` answer,
    default 200, of that many filler bytes, streamed) and ``gzip_bomb`` (a
    gzip-encoded answer decoding to that many bytes), with the length
    announced or, with ``announce_length=False``, chunked.
    """

    status: int | None = None
    reset: bool = False
    delay_s: float = 0.0
    method: str | None = None
    path_contains: str = ""
    times: int = 1
    skip: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"error": {"message": "injected fault", "type": "Injected", "code": 0}}'
    content_type: str = "application/json"
    after_forward: bool = False
    cut_body: bool = False
    trickle_s: float = 0.0
    go_down: bool = False
    revoke_tokens: bool = False
    drip_s: float = 0.0
    drip_for_s: float = 60.0
    drip_headers: bool = False
    dripped_out: threading.Event = field(default_factory=threading.Event)
    huge_body: int = 0
    gzip_bomb: int = 0
    announce_length: bool = True

    def matches(self, method: str, path: str) -> bool:
        return (
            self.times > 0
            and (self.method is None or self.method == method)
            and self.path_contains in path
        )


def redirect(
    location: str, *, status: int = 307, method: str | None = None, path_contains: str = ""
) -> Fault:
    """A fault answering the next matching request with a redirect to ``location``."""
    return Fault(
        status=status,
        headers={"Location": location},
        body=b"",
        content_type="text/plain",
        method=method,
        path_contains=path_contains,
    )


class FaultInjector:
    """The faults a proxy has been told to inject, taken one matching request at a time."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self._lock = threading.Lock()

    def inject(self, fault: Fault) -> Fault:
        """Misbehave as ``fault`` says on the next matching requests."""
        with self._lock:
            self.faults.append(fault)
        return fault

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.times -= 1
                    return fault
        return None


class CatalogProxy(FaultInjector):
    """A reverse proxy to ``upstream`` that records requests and injects faults."""

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.requests: list[Recorded] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def uri(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.faults.clear()

    def seen(self, predicate: Callable[[Recorded], bool] = lambda _: True) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if predicate(r)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = dict(self.headers.items())
                with proxy._lock:
                    proxy.requests.append(Recorded(self.command, self.path, headers, body))
                fault = proxy._take_fault(self.command, self.path)
                if fault is not None and fault.delay_s:
                    time.sleep(fault.delay_s)
                if fault is not None and not fault.after_forward and self._misbehave(fault):
                    return
                upstream = requests.request(
                    self.command,
                    proxy.upstream + self.path,
                    data=body,
                    headers={k: v for k, v in headers.items() if k.lower() != "host"},
                    timeout=30,
                    allow_redirects=False,
                )
                if fault is not None and fault.after_forward and self._misbehave(fault):
                    return
                self.send_response(upstream.status_code)
                for key, value in upstream.headers.items():
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-encoding":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            def _misbehave(self, fault: Fault) -> bool:
                if fault.reset:
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(2)
                    self.close_connection = True
                    return True
                if fault.status is not None:
                    self.send_response(fault.status)
                    for key, value in fault.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", fault.content_type)
                    self.send_header("Content-Length", str(len(fault.body)))
                    self.end_headers()
                    self.wfile.write(fault.body)
                    return True
                return False

            do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = _relay

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def running_proxy(upstream: str) -> Iterator[CatalogProxy]:
    """A started proxy, stopped on exit."""
    proxy = CatalogProxy(upstream)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
