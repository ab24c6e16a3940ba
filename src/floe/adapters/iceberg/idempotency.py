"""Idempotent table commits: one ``Idempotency-Key`` per commit, re-sent with it when unanswered.

A commit whose answer is lost may or may not have been applied; re-sending
it blindly could apply it twice, so without help from the server floe
reports :class:`~floe.domain.errors.CommitStateUnknownError`. A catalog that
advertises ``idempotency-key-lifetime`` in ``/v1/config`` (Polaris with
idempotency enabled) promises that requests carrying the same key have no
additional effect: a request whose first run was finalized is answered with
that run's answer, replayed (2xx and 4xx are finalized, 5xx are not, so
those run again). There floe gives every createTable and updateTable request
a fresh UUIDv7 key and, when the outcome is unknown (the connection reset
or cut after sending, the deadline passed, 408, 500, 502, 504) or the
server asks to wait (429, 503, honouring ``Retry-After``), sends the SAME
request with the SAME key again: within the advertised window, at most the
retry policy's attempts, each wait bounded by its ``max_wait_s``. What the
last attempt brings is what the commit reports: success, a refusal, or,
if every attempt went unanswered, the unknown outcome as before.
"""

from __future__ import annotations

import os
import random
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable

import requests

from floe.adapters.iceberg.auth import TokenProvider
from floe.adapters.iceberg.guard import never_sent, response_retry_after_s
from floe.domain.config import RetryConfig
from floe.domain.errors import CatalogConnectionError

#: createTable (``…/namespaces/{ns}/tables``) and updateTable (``…/tables/{table}``).
_KEYED_ROUTE = re.compile(r"/v1/(?:[^/]+/)?namespaces/[^/]+/tables(?:/[^/]+)?$")
#: Answers after which the commit may have been applied, or was not run yet.
_RESEND_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Answers asking to wait before asking again.
_BUSY_STATUSES = frozenset({429, 503})
HEADER = "Idempotency-Key"


def new_key(clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> str:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits.

    The REST spec asks for UUIDv7 keys; Python 3.11 has no ``uuid.uuid7``.
    """
    value = (clock_ms() & ((1 << 48) - 1)) << 80
    value |= int.from_bytes(os.urandom(10), "big") & ((1 << 80) - 1)
    value &= ~(0xF << 76)
    value |= 0x7 << 76  # version 7
    value &= ~(0x3 << 62)
    value |= 0x2 << 62  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def is_keyed(request: requests.PreparedRequest) -> bool:
    """Whether ``request`` is a createTable or updateTable (a table commit)."""
    if (request.method or "").upper() != "POST":
        return False
    return _KEYED_ROUTE.search(urllib.parse.urlsplit(request.url or "").path) is not None


def send_keyed(
    request: requests.PreparedRequest,
    send: Callable[[], requests.Response],
    *,
    window_s: float,
    retry: RetryConfig,
    tokens: TokenProvider | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> requests.Response:
    """Send a table commit with a new ``Idempotency-Key``; re-send it while its outcome is unknown.

    Args:
        request: The commit request (its headers gain the key).
        send: Sends ``request`` once and returns the answer.
        window_s: The advertised key lifetime: no re-send after it.
        retry: Attempts (``max_attempts``) and waits (``initial_wait_s``,
            ``max_wait_s``, ``jitter_s``) of the re-sends.
        tokens: Re-sends carry the current token of this provider (a token
            that expired meanwhile is renewed, the key kept).
        sleep: How to wait between attempts.
        clock: Monotonic clock of the window.

    Returns:
        The first answer that settles the outcome, else the last answer.

    Raises:
        requests.RequestException: The last attempt failed without an answer
            (if an earlier attempt may have reached the catalog and a later
            one could not even connect, the earlier failure is raised, so the
            commit stays "may have been applied").
        CatalogConnectionError: An attempt passed its deadline, likewise.
    """
    request.headers[HEADER] = new_key()
    started = clock()
    landed_failure: BaseException | None = None
    attempt = 0
    while True:
        attempt += 1
        failure: BaseException | None = None
        response: requests.Response | None = None
        try:
            response = send()
        except (requests.RequestException, CatalogConnectionError) as exc:
            failure = exc
            if not never_sent(exc):
                landed_failure = exc
        if response is not None:
            if response.status_code == 401 and attempt > 1 and tokens is not None:
                # The token ran out between two sends of one commit: a new token,
                # the same key (a new request would carry a new key).
                tokens.invalidate()
            elif response.status_code not in _RESEND_STATUSES:
                return response
        wait = min(retry.max_wait_s, retry.initial_wait_s * 2 ** (attempt - 1))
        # Jitter, not a secret: the module's generator will do.
        wait += random.uniform(0, retry.jitter_s)  # nosec B311
        hint = None if response is None else response_retry_after_s(response)
        if hint is not None:
            wait = max(wait, hint)
        out_of_time = clock() - started + wait > window_s
        if attempt >= retry.max_attempts or out_of_time or (hint or 0) > retry.max_wait_s:
            if response is not None:
                return response
            if failure is not None and never_sent(failure) and landed_failure is not None:
                raise landed_failure
            raise failure or CatalogConnectionError("no answer", subject=request.url or "")
        sleep(wait)
        if tokens is not None:
            request.headers["Authorization"] = tokens.header()
