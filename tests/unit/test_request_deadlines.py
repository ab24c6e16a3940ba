"""One watchdog thread ends exactly the requests whose deadline passed."""

from __future__ import annotations

import socket
import threading
from types import SimpleNamespace
from typing import Any

from floe.adapters.iceberg.http import _Watch


def blocked_read(sock: socket.socket) -> tuple[threading.Thread, list[bytes]]:
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(sock.recv(1)), daemon=True)
    reader.start()
    return reader, got


def test_the_watchdog_cuts_an_overdue_request_and_spares_the_finished_ones() -> None:
    overdue_sock, overdue_peer = socket.socketpair()
    finished_sock, finished_peer = socket.socketpair()
    with overdue_sock, overdue_peer, finished_sock, finished_peer:
        finished = _Watch(0.05)
        finished.start()
        finished.attach(SimpleNamespace(sock=finished_sock))  # type: ignore[arg-type]
        finished.stop()  # answered in time
        later = [_Watch(3600.0) for _ in range(50)]  # far deadlines queued ahead of it
        for watch in later:
            watch.start()
        overdue = _Watch(0.2)
        overdue.start()
        overdue.attach(SimpleNamespace(sock=overdue_sock))  # type: ignore[arg-type]
        reader, got = blocked_read(overdue_sock)

        reader.join(timeout=60)  # a bound, not a pace: the cut wakes the read

        assert got == [b""]  # end of file: the watchdog shut the socket down
        assert overdue.cut
        assert not finished.cut
        finished_peer.sendall(b"x")
        assert finished_sock.recv(1) == b"x"  # the finished request's socket is untouched
        assert not any(w.cut for w in later)
        for watch in later:
            watch.stop()


def test_a_connection_attached_after_the_deadline_is_cut_at_once() -> None:
    sock, peer = socket.socketpair()
    with sock, peer:
        watch = _Watch(0.01)
        done = threading.Event()
        original = watch.expire

        def expire() -> None:
            original()
            done.set()

        watch.expire = expire  # type: ignore[method-assign]
        watch.start()
        assert done.wait(timeout=60)

        watch.attach(SimpleNamespace(sock=sock))  # type: ignore[arg-type]

        assert watch.cut
        assert sock.recv(1) == b""


def test_stopped_requests_do_not_keep_the_watchdog_from_later_deadlines() -> None:
    sock, peer = socket.socketpair()
    with sock, peer:
        for _ in range(1000):
            watch = _Watch(0.01)
            watch.start()
            watch.stop()
        last: Any = _Watch(0.05)
        last.start()
        last.attach(SimpleNamespace(sock=sock))
        reader, got = blocked_read(sock)
        reader.join(timeout=60)
        assert got == [b""]
