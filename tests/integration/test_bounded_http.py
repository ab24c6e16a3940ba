"""The bounded HTTP adapter on its own, against a small hostile server on 127.0.0.1.

What the catalog suite (``test_hostile_answers.py``) cannot reach: a request
sent through an HTTP proxy (``HTTPS_PROXY`` in the environment) is bounded
too, and a healthy answer is decoded and its connection kept for the next
request.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import floe
from floe.adapters.iceberg.http import bounded_session

#: The server drips a byte every 0.2 s for this long: far past the 1 s deadline.
DRIP_FOR_S = 30.0


class Hostile(ThreadingHTTPServer):
    """Answers ``/drip`` a byte at a time, ``/ok`` with a small gzip JSON body."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        #: Set when a drip ran its course or the whole answer went out (the
        #: client still listening).
        self.dripped_out = threading.Event()
        self.connections: set[tuple[str, int]] = set()
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Hostile

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self.server.connections.add(self.client_address)
        self.server.requests.append(self.path)
        if self.path.endswith("/drip"):
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
            started = time.monotonic()
            with contextlib.suppress(OSError):
                for at in range(len(answer)):
                    if time.monotonic() - started >= DRIP_FOR_S:
                        self.wfile.write(answer[at:])
                        self.server.dripped_out.set()
                        return
                    self.wfile.write(answer[at : at + 1])
                    time.sleep(0.2)
                self.server.dripped_out.set()
            return
        body = gzip.compress(b'{"ok": true}')
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    server = Hostile()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("via_proxy", [False, True], ids=["direct", "through-an-http-proxy"])
def test_a_dripped_answer_ends_at_the_deadline(hostile: Hostile, via_proxy: bool) -> None:
    session = bounded_session(1.0, 1 << 20)
    # As a forward proxy the server gets "GET http://catalog.invalid/drip": it
    # answers itself, so only a request that went through it can be dripped.
    url = "http://catalog.invalid/drip" if via_proxy else f"{hostile.url}/drip"
    proxies = {"http": hostile.url} if via_proxy else None
    with pytest.raises(floe.CatalogConnectionError, match="no complete answer within 1 s"):
        session.get(url, proxies=proxies)
    assert hostile.requests == [url if via_proxy else "/drip"]
    assert not hostile.dripped_out.is_set()


def test_a_healthy_answer_is_decoded_and_its_connection_kept(hostile: Hostile) -> None:
    session = bounded_session(5.0, 1 << 20)
    answers = [session.get(f"{hostile.url}/ok") for _ in range(3)]
    assert [a.json() for a in answers] == [{"ok": True}] * 3
    assert len(hostile.connections) == 1


def test_a_refused_connection_stays_a_requests_error() -> None:
    # Never sent: the commit-outcome rule must still see it as such.
    with pytest.raises(requests.ConnectionError):
        bounded_session(1.0, 1 << 20).get("http://127.0.0.1:9/refused")
