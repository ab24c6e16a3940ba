"""More of Apache Polaris' rules for the conformance proxy: grants, realms, purge, idempotency keys.

Each rule is what Polaris' own source does (named at each class), so that
floe, passing against the proxy, passes against Polaris:

* :class:`Grants`: a principal may call only what its grants allow; any
  other call is ``403 ForbiddenException`` (Polaris' authorizer). A grant is
  a privilege on the catalog or on a namespace (and so on everything under
  it); the broader privileges imply the narrower ones as Polaris'
  ``PolarisPrivilege`` hierarchy does.
* :func:`realm_refusal`: with a required realm, a request without the realm
  header, or naming another realm, is ``404 MissingOrInvalidRealm``
  (``RealmContextFilter``), token requests included.
* :func:`purge_refusal`: ``DELETE …/tables/{t}?purgeRequested=true`` is
  ``403`` unless ``DROP_WITH_PURGE_ENABLED`` (off by default).
* :class:`IdempotencyKeys`: ``Idempotency-Key`` on createTable/updateTable;
  a finalized answer (2xx, 4xx) is stored and replayed for the same key,
  a 5xx is not (the REST spec's finalization rules).
* :class:`ExternalIdentityProvider`: an OAuth2 token endpoint on its own
  port (a Keycloak stand-in); the catalog accepts its tokens and answers
  ``501`` on its own ``/v1/oauth/tokens`` (Polaris in ``external`` mode).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: A privilege and the privileges it implies (Polaris' hierarchy, the part floe meets).
IMPLIES: dict[str, frozenset[str]] = {
    "CATALOG_MANAGE_CONTENT": frozenset(
        {
            "NAMESPACE_LIST",
            "NAMESPACE_CREATE",
            "NAMESPACE_DROP",
            "NAMESPACE_READ_PROPERTIES",
            "NAMESPACE_WRITE_PROPERTIES",
            "TABLE_LIST",
            "TABLE_CREATE",
            "TABLE_DROP",
            "TABLE_READ_PROPERTIES",
            "TABLE_WRITE_PROPERTIES",
            "TABLE_READ_DATA",
            "TABLE_WRITE_DATA",
        }
    ),
    "TABLE_WRITE_DATA": frozenset({"TABLE_READ_DATA", "TABLE_READ_PROPERTIES"}),
    "TABLE_READ_DATA": frozenset({"TABLE_READ_PROPERTIES"}),
    "TABLE_WRITE_PROPERTIES": frozenset({"TABLE_READ_PROPERTIES"}),
    "NAMESPACE_WRITE_PROPERTIES": frozenset({"NAMESPACE_READ_PROPERTIES"}),
}


@dataclass(frozen=True)
class Grant:
    """``privilege`` on the catalog (``namespace`` empty) or on a namespace and what it holds."""

    privilege: str
    namespace: tuple[str, ...] = ()

    def allows(self, privilege: str, namespace: tuple[str, ...]) -> bool:
        held = {self.privilege} | IMPLIES.get(self.privilege, frozenset())
        return privilege in held and namespace[: len(self.namespace)] == self.namespace


@dataclass
class Principal:
    """A principal of the proxy: its client secret and grants."""

    client_secret: str
    grants: list[Grant] = field(default_factory=list)

    def allows(self, privilege: str, namespace: tuple[str, ...]) -> bool:
        return any(g.allows(privilege, namespace) for g in self.grants)


def required_privilege(method: str, path: str) -> tuple[str, tuple[str, ...]] | None:
    """The privilege a catalog call needs and the namespace it is needed on (None: any caller).

    ``path`` is the catalog path without ``/api/catalog`` (``/v1/<prefix>/…``).
    """
    url = urllib.parse.urlsplit(path)
    route = [urllib.parse.unquote(p) for p in url.path.split("/")]
    if url.path == "/v1/config":
        return None
    if route[1:3] == ["polaris", "v1"]:
        query = urllib.parse.parse_qs(url.query)
        namespace = tuple(query.get("namespace", [""])[0].split("\x1f"))
        return "TABLE_READ_PROPERTIES", namespace
    if len(route) < 4 or route[3] != "namespaces":
        return None
    if len(route) == 4:
        parent = urllib.parse.parse_qs(url.query).get("parent", [""])[0]
        where = tuple(parent.split("\x1f")) if parent else ()
        return ("NAMESPACE_LIST" if method == "GET" else "NAMESPACE_CREATE"), where
    namespace = tuple(route[4].split("\x1f"))
    if len(route) == 5:
        return {
            "DELETE": "NAMESPACE_DROP",
        }.get(method, "NAMESPACE_READ_PROPERTIES"), namespace
    if route[5] == "properties":
        return "NAMESPACE_WRITE_PROPERTIES", namespace
    if route[5] == "register":
        return "TABLE_CREATE", namespace
    if route[5] != "tables":
        return None
    if len(route) == 6:
        return ("TABLE_LIST" if method == "GET" else "TABLE_CREATE"), namespace
    if len(route) == 7:
        return {
            "POST": "TABLE_WRITE_DATA",
            "DELETE": "TABLE_DROP",
        }.get(method, "TABLE_READ_PROPERTIES"), namespace
    return "TABLE_READ_DATA", namespace  # credentials, metrics, plan


def forbidden(principal: str, privilege: str, namespace: tuple[str, ...]) -> dict[str, Any]:
    """Polaris' 403 body for a call outside the principal's grants."""
    where = ".".join(namespace) or "the catalog"
    message = f"Principal '{principal}' is not authorized for op {privilege} on {where}"
    return {"error": {"message": message, "type": "ForbiddenException", "code": 403}}


def purge_refusal(method: str, path: str) -> dict[str, Any] | None:
    """Polaris' 403 for a purging drop when ``DROP_WITH_PURGE_ENABLED`` is off, else None.

    ``LocalIcebergCatalog.dropTableLike``: "Unable to purge entity: <name>. To
    enable this feature, set the Polaris configuration DROP_WITH_PURGE_ENABLED
    or the catalog configuration polaris.config.drop-with-purge.enabled".
    """
    url = urllib.parse.urlsplit(path)
    route = url.path.split("/")
    query = urllib.parse.parse_qs(url.query)
    purging = query.get("purgeRequested", ["false"])[0].lower() == "true"
    if method != "DELETE" or len(route) != 7 or route[5] != "tables" or not purging:
        return None
    name = urllib.parse.unquote(route[6])
    message = (
        f"Unable to purge entity: {name}. To enable this feature, set the Polaris "
        "configuration DROP_WITH_PURGE_ENABLED or the catalog configuration "
        "polaris.config.drop-with-purge.enabled"
    )
    return {"error": {"message": message, "type": "ForbiddenException", "code": 403}}


def realm_refusal(headers: dict[str, str], realm: str, header: str) -> dict[str, Any] | None:
    """Polaris' 404 when a realm is required and the request names none or another one."""
    given = next((v for k, v in headers.items() if k.lower() == header.lower()), None)
    if given == realm:
        return None
    return {
        "error": {
            "message": "Missing or invalid realm",
            "type": "MissingOrInvalidRealm",
            "code": 404,
        }
    }


def is_keyed_route(method: str, path: str) -> bool:
    """createTable (``POST …/namespaces/{ns}/tables``) or updateTable (``POST …/tables/{t}``)."""
    route = urllib.parse.urlsplit(path).path.split("/")
    return (
        method == "POST"
        and len(route) in (6, 7)
        and route[3] == "namespaces"
        and route[5] == "tables"
    )


@dataclass
class StoredAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


class IdempotencyKeys:
    """Finalized answers by ``Idempotency-Key`` (the REST spec: 2xx and 4xx, never 5xx)."""

    def __init__(self) -> None:
        self._answers: dict[str, StoredAnswer] = {}
        self._lock = threading.Lock()
        #: How many requests were answered from the store.
        self.replayed = 0

    def replay(self, key: str) -> StoredAnswer | None:
        with self._lock:
            found = self._answers.get(key)
            if found is not None:
                self.replayed += 1
            return found

    def store(self, key: str, status: int, headers: dict[str, str], body: bytes) -> None:
        if 200 <= status < 500:
            with self._lock:
                self._answers.setdefault(key, StoredAnswer(status, dict(headers), body))


def idempotency_key(headers: dict[str, str]) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == "idempotency-key"), None)


class ExternalIdentityProvider:
    """An OAuth2 client-credentials token endpoint on 127.0.0.1 (a Keycloak stand-in).

    Args:
        client_id: The client it knows.
        client_secret: Its secret.
        token_lifetime_s: How long its tokens are accepted by the catalog.
        audience: When set, a token request must ask for this audience.
    """

    PATH = "/realms/floe/protocol/openid-connect/token"

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        token_lifetime_s: float = 60.0,
        audience: str | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime_s = token_lifetime_s
        self.audience = audience
        #: The form of every token request, in order.
        self.requests: list[dict[str, str]] = []
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def token_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.PATH}"

    @property
    def issued(self) -> int:
        with self._lock:
            return len(self._tokens)

    def valid(self, token: str) -> bool:
        with self._lock:
            expires_at = self._tokens.get(token)
        return expires_at is not None and time.monotonic() < expires_at

    def revoke(self) -> None:
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = 0.0

    def issue(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        with self._lock:
            self.requests.append(form)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return 401, {"error": "invalid_client"}
            client_id, _, client_secret = decoded.partition(":")
            client_id = urllib.parse.unquote(client_id)
            client_secret = urllib.parse.unquote(client_secret)
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if client_id != self.client_id or not secrets.compare_digest(
            (client_secret or "").encode(), self.client_secret.encode()
        ):
            return 401, {"error": "invalid_client"}
        if self.audience is not None and form.get("audience") != self.audience:
            return 400, {"error": "invalid_request", "error_description": "unknown audience"}
        token = "idp-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_lifetime_s
        return 200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": max(1, round(self.token_lifetime_s)),
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if urllib.parse.urlsplit(self.path).path != idp.PATH:
                    status, answer = 404, {"error": "not_found"}
                else:
                    status, answer = idp.issue(dict(self.headers.items()), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def running_idp(
    client_id: str, client_secret: str, **options: Any
) -> Iterator[ExternalIdentityProvider]:
    """A started :class:`ExternalIdentityProvider`, stopped on exit."""
    idp = ExternalIdentityProvider(client_id, client_secret, **options)
    idp.start()
    try:
        yield idp
    finally:
        idp.stop()
