"""What a REST catalog says about itself in ``GET /v1/config``, read as the answer goes by.

PyIceberg reads ``/v1/config`` when it opens the catalog, keeps the
``defaults``/``overrides`` and the ``endpoints``, and drops the rest. floe
needs two more things from it, so the catalog's HTTP adapter hands the answer
to :meth:`ServerTraits.learn` on its way to PyIceberg (one request, no second
call):

* whether the server is Apache Polaris: it lists its own ``/polaris/v1/…``
  endpoints (policies, generic tables) next to Iceberg's. Polaris answers
  404/409 itself where laxer servers do not, so floe skips its own
  existence checks there (they need list/read privileges a narrowly granted
  principal lacks);
* the ``idempotency-key-lifetime`` (an ISO-8601 duration, ``PT30M``): its
  presence says the server honours ``Idempotency-Key`` on mutations, its
  value how long a key may be re-sent (the Iceberg REST spec; Polaris'
  ``CatalogConfigHandler`` advertises it when idempotency is enabled).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

#: Polaris' own REST routes, as listed in its ``/v1/config`` endpoints.
_POLARIS_ROUTE = "/polaris/v1/"
_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_S = {"days": 86400.0, "hours": 3600.0, "minutes": 60.0, "seconds": 1.0}


def iso_duration_s(text: str) -> float | None:
    """Seconds of an ISO-8601 duration of days and time (``PT30M``, ``PT24H``, ``P1DT2H``).

    Returns:
        The seconds, or None for anything else (years and months have no fixed
        length; a negative or empty duration is no window).
    """
    found = _DURATION.match(text.strip().upper())
    if found is None or not any(found.groupdict().values()):
        return None
    total = sum(float(v) * _UNIT_S[k] for k, v in found.groupdict().items() if v)
    return total if total > 0 else None


class ServerTraits:
    """What one catalog's ``/v1/config`` answer said: Polaris or not, the idempotency window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._polaris = False
        self._idempotency_window_s: float | None = None

    def __repr__(self) -> str:
        return (
            f"ServerTraits(polaris={self.is_polaris}, "
            f"idempotency_window_s={self.idempotency_window_s})"
        )

    @property
    def is_polaris(self) -> bool:
        """Whether the server listed Polaris' own endpoints."""
        with self._lock:
            return self._polaris

    @property
    def idempotency_window_s(self) -> float | None:
        """How long an ``Idempotency-Key`` may be re-sent; None: keys are not honoured."""
        with self._lock:
            return self._idempotency_window_s

    def learn(self, body: bytes) -> None:
        """Take what a ``200`` answer of ``/v1/config`` says (an unreadable one says nothing)."""
        try:
            answer: Any = json.loads(body)
        except ValueError:
            return
        if not isinstance(answer, dict):
            return
        endpoints = answer.get("endpoints")
        polaris = isinstance(endpoints, list) and any(
            isinstance(e, str) and _POLARIS_ROUTE in e for e in endpoints
        )
        lifetime = answer.get("idempotency-key-lifetime")
        window = iso_duration_s(lifetime) if isinstance(lifetime, str) else None
        with self._lock:
            self._polaris = polaris
            self._idempotency_window_s = window
