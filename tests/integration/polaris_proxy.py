"""A Polaris-conformance and fault-injection proxy in front of the SeaweedFS REST catalog.

It listens on 127.0.0.1 only and behaves, towards floe, the way a production
Apache Polaris deployment does:

* the catalog is served under ``/api/catalog`` (``<proxy>/api/catalog/v1/...``);
* ``POST /api/catalog/v1/oauth/tokens`` issues the proxy's OWN short-lived
  bearer tokens (client-credentials grant only, client id/secret in HTTP Basic
  auth or in the form), with Polaris' answers (``DefaultOAuth2ApiService``,
  ``TokenRequestValidator``, ``JWTBroker``, ``OAuthUtils``), checked in
  Polaris' order: another grant type is ``400 unsupported_grant_type``, a
  missing client id or secret ``400 invalid_client``, a scope that is not
  ``PRINCIPAL_ROLE:<role>`` ``400 invalid_scope``, an unknown client or a
  wrong secret ``401 unauthorized_client``;
* every other catalog request needs one of those tokens: a missing, unknown,
  expired or revoked one gets ``401`` with ``WWW-Authenticate: Bearer`` and an
  Iceberg ``NotAuthorizedException`` body;
* creating a table that exists is ``409 AlreadyExistsException`` (SeaweedFS
  answers 200), committing a staged create of a table that exists meanwhile
  is ``409`` (SeaweedFS lets two such commits race), creating a nested
  namespace without its parent is ``404``;
* ``GET /v1/config`` lists the endpoints Polaris serves (SeaweedFS lists
  none), so a client asks ``HEAD`` whether a table exists, as with Polaris;
* ``GET /polaris/v1/{prefix}/applicable-policies?namespace=..&target-name=..``
  answers, as Polaris' policy API does, with the policies a test attached to
  the table (:meth:`PolarisProxy.attach_policy`), 404 for a missing table;
* given a :class:`CredentialVending`, a table load, create or register
  asking for ``vended-credentials`` gets short-lived storage credentials
  for an S3 gate in front of SeaweedFS (:mod:`tests.integration.s3_gate`),
  and ``GET .../tables/{t}/credentials`` vends new ones;
* valid requests are forwarded to SeaweedFS without the ``/api/catalog``
  prefix, with the client's ``Authorization`` replaced by a token the proxy
  obtained from SeaweedFS itself (so floe's tokens mean nothing upstream).

Faults are injected on demand with :class:`~tests.integration.proxy.Fault`
(an HTTP status with headers such as ``Retry-After``, a connection reset,
latency; before or after forwarding, the latter for "the commit went through
but the answer was lost"), :meth:`PolarisProxy.revoke_tokens` expires every
token at once, and :meth:`PolarisProxy.go_down` / :meth:`PolarisProxy.come_back`
stop and restart the listener on the same port (connection refused meanwhile).

Every exchange is recorded (:class:`Exchange`: method, path, headers, body,
arrival time, status answered) for tests to count retries, measure backoff
and scan for secrets.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import json
import secrets
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from tests.integration import polaris_rules
from tests.integration.polaris_rules import ExternalIdentityProvider, Grant, Principal
from tests.integration.proxy import Fault, FaultInjector, Recorded
from tests.integration.s3_gate import S3Gate

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "content-length",
    "content-encoding",
}
PREFIX = "/api/catalog"
_TOKEN_PATH = "/v1/oauth/tokens"

_NAMESPACE = "/v1/{prefix}/namespaces/{namespace}"
_TABLE = _NAMESPACE + "/tables/{table}"
_VIEW = _NAMESPACE + "/views/{view}"
#: The endpoints Polaris lists in its ``/v1/config`` answer (Iceberg's REST
#: endpoints and views; SeaweedFS lists none, so clients assume the old set
#: and, e.g., load a whole table to learn whether it exists).
POLARIS_ENDPOINTS = (
    "GET /v1/{prefix}/namespaces",
    f"GET {_NAMESPACE}",
    f"HEAD {_NAMESPACE}",
    "POST /v1/{prefix}/namespaces",
    f"POST {_NAMESPACE}/properties",
    f"DELETE {_NAMESPACE}",
    f"GET {_NAMESPACE}/tables",
    f"GET {_TABLE}",
    f"HEAD {_TABLE}",
    f"POST {_NAMESPACE}/tables",
    f"POST {_TABLE}",
    f"DELETE {_TABLE}",
    "POST /v1/{prefix}/tables/rename",
    f"POST {_NAMESPACE}/register",
    f"POST {_TABLE}/metrics",
    "POST /v1/{prefix}/transactions/commit",
    f"GET {_NAMESPACE}/views",
    f"GET {_VIEW}",
    f"HEAD {_VIEW}",
    f"POST {_NAMESPACE}/views",
    f"POST {_VIEW}",
    f"DELETE {_VIEW}",
    "POST /v1/{prefix}/views/rename",
    # Polaris' policy API (served by the proxy itself: SeaweedFS has none).
    "GET /polaris/v1/{prefix}/applicable-policies",
)
_POLICIES_PATH = "/polaris/v1/"
_ROLE_SCOPE = "PRINCIPAL_ROLE:"
_UPSTREAM_TIMEOUT_S = 30.0
#: Polaris' own token endpoint in ``external`` authentication mode.
_TOKENS_NOT_IMPLEMENTED = (
    501,
    {
        "error": {
            "message": "the internal token endpoint is disabled: authentication is external",
            "type": "NotImplementedException",
            "code": 501,
        }
    },
)
#: ``announced_expires_in`` for token answers without an ``expires_in``.
OMITTED = object()


@dataclass(frozen=True)
class Exchange(Recorded):
    """One request the proxy answered: what came in, when, and the status sent back.

    ``status`` is 0 when the proxy reset the connection instead of answering.
    """

    at: float = 0.0
    status: int = 0


@dataclass
class _Token:
    expires_at: float
    client_id: str
    scope: str


@dataclass
class ProxyStats:
    """Counters a test reads after a scenario."""

    tokens_issued: int = 0
    token_refusals: dict[str, int] = field(default_factory=dict)
    unauthorized: int = 0
    conflicts: int = 0
    upstream_token_fetches: int = 0
    forbidden: int = 0


class PolarisProxy(FaultInjector):
    """A Polaris-like front for ``upstream`` (a SeaweedFS Iceberg REST endpoint).

    Args:
        upstream: The SeaweedFS REST URI (``http://127.0.0.1:<port>``).
        upstream_client_id: SeaweedFS OAuth2 client id (its S3 access key).
        upstream_client_secret: SeaweedFS OAuth2 client secret.
        client_id: The client id floe must present (default: the upstream one).
        client_secret: The client secret floe must present (default: the upstream one).
        token_lifetime_s: How long an issued token is accepted.
        announced_expires_in: The ``expires_in`` put in token answers
            (default: the lifetime rounded up). Announcing more than the real
            lifetime models a token revoked or expired early server-side; any
            JSON value can be announced (0, a negative number, a string), and
            :data:`OMITTED` leaves the field out.
        tls: A server-side TLS context: serve HTTPS instead of HTTP.
        vending: Vend short-lived storage credentials for this gate's S3
            (see :class:`CredentialVending`); None: vend nothing.
        principals: More principals (client id: secret and grants); the
            client above holds ``CATALOG_MANAGE_CONTENT`` on the catalog.
        drop_with_purge_enabled: Polaris' ``DROP_WITH_PURGE_ENABLED`` (off,
            as by default: a purging drop is 403).
        realm: A realm every request, token requests included, must name in
            the ``realm_header`` (else 404); None: no realm required.
        realm_header: The realm header's name.
        idempotency_lifetime: Honour ``Idempotency-Key`` on createTable and
            updateTable and advertise this window (ISO-8601, ``PT30M``) in
            ``/v1/config``; None: neither.
        identity_provider: Polaris in ``external`` authentication mode: its
            own token endpoint answers 501 and the catalog accepts this
            provider's tokens (its client acting as the main principal).
    """

    def __init__(
        self,
        upstream: str,
        *,
        upstream_client_id: str,
        upstream_client_secret: str,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_lifetime_s: float = 2.0,
        announced_expires_in: object = None,
        tls: ssl.SSLContext | None = None,
        vending: CredentialVending | None = None,
        principals: dict[str, Principal] | None = None,
        drop_with_purge_enabled: bool = False,
        realm: str | None = None,
        realm_header: str = "Polaris-Realm",
        idempotency_lifetime: str | None = None,
        identity_provider: ExternalIdentityProvider | None = None,
    ) -> None:
        super().__init__()
        self.vending = vending
        self.upstream = upstream.rstrip("/")
        self.client_id = client_id or upstream_client_id
        self.client_secret = client_secret or upstream_client_secret
        self.token_lifetime_s = token_lifetime_s
        self.announced_expires_in = announced_expires_in
        self.exchanges: list[Exchange] = []
        self._cleared_at = 0.0
        self._in_flight = 0
        self.issued_tokens: list[str] = []
        self.stats = ProxyStats()
        self._upstream_id = upstream_client_id
        self._upstream_secret = upstream_client_secret
        self._upstream_token: str | None = None
        self._tokens: dict[str, _Token] = {}
        self._create_lock = threading.Lock()
        self._local = threading.local()
        self._tls = tls
        self._connections: set[socket.socket] = set()
        self._server = self._listen(("127.0.0.1", 0))
        self._port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None
        self._policies: dict[tuple[tuple[str, ...], str], list[dict[str, Any]]] = {}
        self._init_polaris_rules(
            principals,
            drop_with_purge_enabled,
            realm,
            realm_header,
            idempotency_lifetime,
            identity_provider,
        )

    def _init_polaris_rules(
        self,
        principals: dict[str, Principal] | None,
        drop_with_purge_enabled: bool,
        realm: str | None,
        realm_header: str,
        idempotency_lifetime: str | None,
        identity_provider: ExternalIdentityProvider | None,
    ) -> None:
        admin = Principal(self.client_secret, [Grant("CATALOG_MANAGE_CONTENT")])
        self.principals: dict[str, Principal] = {self.client_id: admin, **(principals or {})}
        if identity_provider is not None:
            self.principals.setdefault(identity_provider.client_id, admin)
        self.drop_with_purge_enabled = drop_with_purge_enabled
        self.realm = realm
        self.realm_header = realm_header
        self.idempotency_lifetime = idempotency_lifetime
        self.idempotency = polaris_rules.IdempotencyKeys()
        self.identity_provider = identity_provider

    # -- what tests use --------------------------------------------------------------------

    def attach_policy(
        self,
        table: str,
        *,
        name: str,
        policy_type: str,
        content: str | dict[str, Any],
        inherited: bool = False,
    ) -> None:
        """Make ``applicable-policies`` of ``table`` (``"ns.table"``) list a policy.

        ``content`` is sent as Polaris does, as JSON text (a mapping is dumped).
        """
        *namespace, table_name = table.split(".")
        text = content if isinstance(content, str) else json.dumps(content)
        with self._lock:
            self._policies.setdefault((tuple(namespace), table_name), []).append(
                {
                    "policy-type": policy_type,
                    "inheritable": True,
                    "name": name,
                    "content": text,
                    "version": 0,
                    "inherited": inherited,
                    "namespace": namespace,
                }
            )

    @property
    def uri(self) -> str:
        """``http(s)://127.0.0.1:<port>``: the proxy root."""
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._port}"

    @property
    def catalog_uri(self) -> str:
        """The Polaris catalog URI: ``<root>/api/catalog`` (what floe's ``uri`` is)."""
        return f"{self.uri}{PREFIX}"

    @property
    def token_uri(self) -> str:
        """The token endpoint, ``<catalog uri>/v1/oauth/tokens``."""
        return f"{self.catalog_uri}{_TOKEN_PATH}"

    def clear(self) -> None:
        """Forget recorded exchanges and pending faults (tokens stay valid)."""
        with self._lock:
            self.exchanges.clear()
            self.faults.clear()
            self._cleared_at = time.monotonic()

    def seen(self, predicate: Callable[[Exchange], bool] = lambda _: True) -> list[Exchange]:
        """The recorded exchanges matching ``predicate``, in arrival order.

        An exchange is recorded just after its answer is sent, so a client can
        hold the answer a moment before the record exists: wait for the
        requests still being served (a bound of 30 s, not a pace: it returns
        as soon as none is).
        """
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            with self._lock:
                if self._in_flight == 0:
                    break
            time.sleep(0.005)
        with self._lock:
            found = [e for e in self.exchanges if predicate(e)]
        return sorted(found, key=lambda e: e.at)

    def revoke_tokens(self) -> None:
        """Expire every token issued so far (a key rotation, a restart, a revocation)."""
        with self._lock:
            self._tokens.clear()

    def go_down(self, keep: socket.socket | None = None) -> None:
        """Stop listening and drop every open connection: clients get "connection refused".

        Args:
            keep: A connection left open (the one a fault answers on before closing it).
        """
        if self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._thread = None
        with self._lock:
            open_now = [c for c in self._connections if c is not keep]
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def come_back(self) -> None:
        """Listen again on the same port."""
        if self._thread is not None:
            return
        deadline = time.monotonic() + 5
        while True:
            try:
                self._server = self._listen(("127.0.0.1", self._port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._start_thread()

    def start(self) -> None:
        """Start serving in a background thread."""
        self._start_thread()

    def stop(self) -> None:
        """Stop serving for good."""
        self.go_down()

    # -- server plumbing ----------------------------------------------------------------

    def _listen(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(address, self._handler())
        server.daemon_threads = True
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        return server

    def _start_thread(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _record(self, exchange: Exchange) -> None:
        # Recorded once answered: an exchange that arrived before clear() but
        # finished after it belongs to the time before, and is dropped.
        with self._lock:
            if exchange.at >= self._cleared_at:
                self.exchanges.append(exchange)

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    # -- Polaris rules ------------------------------------------------------------------

    def issue_token(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """The token endpoint: validate grant, client and scope; issue a short-lived token."""
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = _header(headers, "Authorization")
        if basic and basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:], validate=True).decode()
                client_id, _, client_secret = decoded.partition(":")
                client_id = urllib.parse.unquote(client_id)
                client_secret = urllib.parse.unquote(client_secret)
            except (binascii.Error, UnicodeDecodeError):
                return self._refuse("invalid_client", "malformed Basic credentials")
        if form.get("grant_type") != "client_credentials":
            return self._refuse("unsupported_grant_type", "only client_credentials is supported")
        if not client_id or not client_secret:
            return self._refuse("invalid_client", "Missing client id or client secret")
        scope = form.get("scope", "")
        roles = scope.split()
        if not roles or not all(
            r.startswith(_ROLE_SCOPE) and len(r) > len(_ROLE_SCOPE) for r in roles
        ):
            return self._refuse("invalid_scope", "scope must be PRINCIPAL_ROLE:<role>")
        principal = self.principals.get(client_id)
        if principal is None or not secrets.compare_digest(
            client_secret.encode(), principal.client_secret.encode()
        ):
            # An unknown client or a wrong secret: 401, not 400 (JWTBroker, OAuthUtils).
            return self._refuse("unauthorized_client", "The client is not authorized", 401)
        token = "plr-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = _Token(time.monotonic() + self.token_lifetime_s, client_id, scope)
            self.issued_tokens.append(token)
            self.stats.tokens_issued += 1
        expires_in = self.announced_expires_in
        if expires_in is None:
            expires_in = max(1, int(-(-self.token_lifetime_s // 1)))
        answer = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": expires_in,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "scope": scope,
        }
        if expires_in is OMITTED:
            del answer["expires_in"]
        return 200, answer

    def _refuse(
        self, error: str, description: str, status: int = 400
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.stats.token_refusals[error] = self.stats.token_refusals.get(error, 0) + 1
        return status, {"error": error, "error_description": description}

    def token_valid(self, headers: dict[str, str]) -> bool:
        """Whether the request carries a live token issued by this proxy."""
        value = _header(headers, "Authorization") or ""
        if not value.lower().startswith("bearer "):
            return False
        token = value[7:].strip()
        if self.identity_provider is not None:
            return self.identity_provider.valid(token)
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None:
                return False
            if time.monotonic() >= entry.expires_at:
                del self._tokens[token]
                return False
            return True

    def upstream_headers(self, headers: dict[str, str], *, fresh: bool = False) -> dict[str, str]:
        """The headers to send upstream: the client's, with the proxy's own SeaweedFS token."""
        with self._lock:
            if fresh or self._upstream_token is None:
                answer = requests.post(
                    f"{self.upstream}{_TOKEN_PATH}",
                    data={"grant_type": "client_credentials", "scope": "catalog"},
                    auth=(self._upstream_id, self._upstream_secret),
                    timeout=_UPSTREAM_TIMEOUT_S,
                )
                answer.raise_for_status()
                self._upstream_token = str(answer.json()["access_token"])
                self.stats.upstream_token_fetches += 1
            token = self._upstream_token
        dropped = _HOP_BY_HOP | {"host", "authorization"}
        out = {k: v for k, v in headers.items() if k.lower() not in dropped}
        out["Authorization"] = f"Bearer {token}"
        return out

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> requests.Response:
        """Send the request to SeaweedFS, refreshing the proxy's upstream token once on 401."""
        for fresh in (False, True):
            response = self._session().request(
                method,
                self.upstream + path,
                data=body,
                headers=self.upstream_headers(headers, fresh=fresh),
                timeout=_UPSTREAM_TIMEOUT_S,
                allow_redirects=False,
            )
            if response.status_code != 401:
                break
        return response

    def conformance_answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]] | None:
        """Polaris' answer where SeaweedFS is laxer (checked upstream first), else None."""
        route = urllib.parse.urlsplit(path).path.split("/")
        # /v1/<prefix>/namespaces                      POST: create namespace
        # /v1/<prefix>/namespaces/<ns>/tables          POST: create table
        # /v1/<prefix>/namespaces/<ns>/tables/<name>   POST: commit (of a staged create)
        if method != "POST" or len(route) < 4 or route[3] != "namespaces":
            return None
        base = "/".join(route[:4])
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return None
        if len(route) == 4 and isinstance(payload.get("namespace"), list):
            parts = payload["namespace"]
            if len(parts) > 1:
                parent = urllib.parse.quote("\x1f".join(parts[:-1]), safe="")
                if self.forward("HEAD", f"{base}/{parent}", headers, b"").status_code == 404:
                    return _iceberg_error(
                        404, "NoSuchNamespaceException", f"Namespace does not exist: {parts[:-1]}"
                    )
            return None
        if len(route) == 7 and route[5] == "tables" and _asserts_create(body):
            # The commit of a staged create: "assert-create" holds atomically in
            # Polaris (SeaweedFS checks it apart from applying the commit).
            found = self.forward("HEAD", "/".join(route), headers, b"")
            if found.status_code in (200, 204):
                with self._lock:
                    self.stats.conflicts += 1
                return _iceberg_error(
                    409, "CommitFailedException", "Requirement failed: table already exists"
                )
            return None
        if len(route) == 6 and route[5] == "tables" and isinstance(payload.get("name"), str):
            name = urllib.parse.quote(payload["name"], safe="")
            found = self.forward("HEAD", f"{base}/{route[4]}/tables/{name}", headers, b"")
            if found.status_code in (200, 204):
                with self._lock:
                    self.stats.conflicts += 1
                return _iceberg_error(
                    409, "AlreadyExistsException", f"Table already exists: {payload['name']}"
                )
        return None

    # -- Polaris rules: realm, grants, purge, idempotency, strict answers (polaris_rules) ----

    def realm_refusal(self, headers: dict[str, str]) -> dict[str, Any] | None:
        """The 404 body for a request that names no realm (or another) when one is required."""
        if self.realm is None:
            return None
        return polaris_rules.realm_refusal(headers, self.realm, self.realm_header)

    def principal_of(self, headers: dict[str, str]) -> str | None:
        """The principal a valid bearer token was issued to."""
        token = (_header(headers, "Authorization") or "")[7:].strip()
        if self.identity_provider is not None:
            return self.identity_provider.client_id
        with self._lock:
            entry = self._tokens.get(token)
        return None if entry is None else entry.client_id

    def grants_refusal(
        self, method: str, path: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]] | None:
        """403 for a call outside the caller's grants, or a purge while purging is disabled."""
        needed = polaris_rules.required_privilege(method, path)
        name = self.principal_of(headers) or ""
        principal = self.principals.get(name)
        if needed is not None and (principal is None or not principal.allows(*needed)):
            with self._lock:
                self.stats.forbidden += 1
            return 403, polaris_rules.forbidden(name, *needed)
        purge = polaris_rules.purge_refusal(method, path)
        if purge is not None and not self.drop_with_purge_enabled:
            with self._lock:
                self.stats.forbidden += 1
            return 403, purge
        return None

    def idempotency_key_of(self, method: str, path: str, headers: dict[str, str]) -> str | None:
        """The ``Idempotency-Key`` of a createTable/updateTable, when keys are honoured."""
        if self.idempotency_lifetime is None or not polaris_rules.is_keyed_route(method, path):
            return None
        return polaris_rules.idempotency_key(headers)

    def polaris_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """The ``/v1/config`` answer as Polaris gives it (``CatalogConfigHandler``).

        The namespace separator is always the default, sent encoded (``%1F``);
        ``idempotency-key-lifetime`` is there when keys are honoured.
        """
        overrides = {**config.get("overrides", {}), "namespace-separator": "%1F"}
        answer = {**config, "overrides": overrides}
        if self.idempotency_lifetime is not None:
            answer["idempotency-key-lifetime"] = self.idempotency_lifetime
        return answer

    @staticmethod
    def strict_route(method: str, path: str) -> bool:
        """Whether :meth:`strict_answer` may answer this call instead of SeaweedFS."""
        route = urllib.parse.urlsplit(path).path.split("/")
        if len(route) < 4 or route[3] != "namespaces":
            return False
        return (
            (method == "DELETE" and len(route) == 5)
            or (method == "GET" and len(route) in (4, 6))
            or (method == "POST" and len(route) == 6 and route[5] in ("tables", "register"))
        )

    def strict_answer(
        self, method: str, path: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]] | None:
        """Polaris' 404/409 where SeaweedFS is laxer: what floe's pre-checks give elsewhere.

        A table created or registered, or tables listed, in a namespace that
        does not exist is 404; so is listing the children of a missing
        namespace; dropping a namespace that holds tables or namespaces is
        409 ``NamespaceNotEmptyException``. A principal without the grants
        to look gets these answers from Polaris all the same.
        """
        url = urllib.parse.urlsplit(path)
        route = url.path.split("/")
        base = "/".join(route[:4])
        if len(route) == 4:
            parent = urllib.parse.parse_qs(url.query).get("parent", [""])[0]
            namespace = urllib.parse.quote(parent, safe="") if parent else ""
        else:
            namespace = route[4]
        if not namespace:
            return None
        found = self.forward("HEAD", f"{base}/{namespace}", headers, b"")
        if found.status_code == 404:
            shown = urllib.parse.unquote(namespace).replace("\x1f", ".")
            return _iceberg_error(
                404, "NoSuchNamespaceException", f"Namespace does not exist: {shown}"
            )
        if method != "DELETE":
            return None
        tables = self.forward("GET", f"{base}/{namespace}/tables", headers, b"")
        children = self.forward("GET", f"{base}?parent={namespace}", headers, b"")
        held = len(tables.json().get("identifiers") or []) if tables.ok else 0
        inner = [
            n
            for n in ((children.json().get("namespaces") or []) if children.ok else [])
            if "\x1f".join(n) != urllib.parse.unquote(namespace)
        ]
        if held or inner:
            return _iceberg_error(
                409, "NamespaceNotEmptyException", f"Namespace {namespace} is not empty"
            )
        return None

    def applicable_policies(
        self, method: str, path: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """Polaris' ``GET /polaris/v1/{prefix}/applicable-policies`` for a table."""
        url = urllib.parse.urlsplit(path)
        route = url.path.split("/")  # "", "polaris", "v1", prefix, "applicable-policies"
        if method != "GET" or len(route) != 5 or route[4] != "applicable-policies":
            return _iceberg_error(404, "NotFoundException", "no route")
        query = urllib.parse.parse_qs(url.query)
        namespace = tuple(query.get("namespace", [""])[0].split("\x1f"))
        table = query.get("target-name", [""])[0]
        quoted = urllib.parse.quote("\x1f".join(namespace), safe="")
        table_path = f"/v1/{route[3]}/namespaces/{quoted}/tables/{urllib.parse.quote(table)}"
        if self.forward("HEAD", table_path, headers, b"").status_code not in (200, 204):
            return _iceberg_error(404, "NoSuchTableException", f"Table does not exist: {table}")
        with self._lock:
            listed = list(self._policies.get((namespace, table), []))
        return 200, {"applicable-policies": listed, "next-page-token": None}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy._connections.add(self.connection)

            def finish(self) -> None:
                with proxy._lock:
                    proxy._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def handle(self) -> None:
                with contextlib.suppress(OSError, ssl.SSLError):
                    super().handle()

            def _serve(self) -> None:
                with proxy._lock:
                    proxy._in_flight += 1
                try:
                    self._serve_one()
                finally:
                    with proxy._lock:
                        proxy._in_flight -= 1

            def _serve_one(self) -> None:
                at = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = dict(self.headers.items())
                status = 0  # the client went away before it could be answered
                try:
                    status = self._answer(headers, body)
                finally:
                    if isinstance(self.wfile, _Dripping):
                        self.wfile = self.wfile.out
                    proxy._record(
                        Exchange(self.command, self.path, headers, body, at=at, status=status)
                    )

            def _answer(self, headers: dict[str, str], body: bytes) -> int:
                fault = proxy._take_fault(self.command, self.path)
                if fault is not None and fault.drip_s:
                    self.wfile = _Dripping(self.wfile, fault)  # type: ignore[assignment]
                if fault is not None and fault.revoke_tokens:
                    proxy.revoke_tokens()
                if fault is not None and fault.delay_s:
                    time.sleep(fault.delay_s)
                if fault is not None and not fault.after_forward:
                    sent = self._misbehave(fault)
                    if sent is not None:
                        return sent
                if not self.path.startswith(PREFIX + "/"):
                    return self._json(404, _iceberg_error(404, "NotFoundException", "no route")[1])
                path = self.path[len(PREFIX) :]
                realm_refused = proxy.realm_refusal(headers)
                if realm_refused is not None:
                    return self._json(404, realm_refused)
                if urllib.parse.urlsplit(path).path == _TOKEN_PATH:
                    if self.command != "POST":
                        return self._json(405, {"error": "invalid_request"})
                    if proxy.identity_provider is not None:
                        return self._json(*_TOKENS_NOT_IMPLEMENTED)
                    status, answer = proxy.issue_token(headers, body)
                    cut = fault is not None and fault.cut_body
                    return self._json(status, answer, extra={"Cache-Control": "no-store"}, cut=cut)
                if not proxy.token_valid(headers):
                    with proxy._lock:
                        proxy.stats.unauthorized += 1
                    missing = not (_header(headers, "Authorization") or "").strip()
                    challenge = "Bearer" if missing else 'Bearer error="invalid_token"'
                    status, error = _iceberg_error(
                        401, "NotAuthorizedException", "Bearer token is missing, invalid or expired"
                    )
                    return self._json(status, error, extra={"WWW-Authenticate": challenge})
                refused = proxy.grants_refusal(self.command, path, headers)
                if refused is not None:
                    return self._json(*refused)
                key = proxy.idempotency_key_of(self.command, path, headers)
                if key is not None:
                    stored = proxy.idempotency.replay(key)
                    if stored is not None:  # the answer of the first request with this key
                        return self._json(stored.status, json.loads(stored.body or b"{}"))
                if urllib.parse.urlsplit(path).path.startswith(_POLICIES_PATH):
                    return self._json(*proxy.applicable_policies(self.command, path, headers))
                if proxy.vending is not None and _is_credentials_request(self.command, path):
                    return self._json(*proxy.vending.credentials_answer(proxy, path, headers))
                try:
                    if (self.command == "POST" and _is_create(path, body)) or proxy.strict_route(
                        self.command, path
                    ):
                        with proxy._create_lock:  # check-then-create is atomic across clients
                            polaris = proxy.conformance_answer(
                                self.command, path, headers, body
                            ) or proxy.strict_answer(self.command, path, headers)
                            if polaris is not None:
                                if key is not None:
                                    proxy.idempotency.store(
                                        key, polaris[0], {}, json.dumps(polaris[1]).encode()
                                    )
                                return self._json(*polaris)
                            upstream = proxy.forward(self.command, path, headers, body)
                    else:
                        upstream = proxy.forward(self.command, path, headers, body)
                except requests.RequestException as exc:
                    return self._json(
                        *_iceberg_error(502, "BadGatewayException", type(exc).__name__)
                    )
                if key is not None:  # stored before a fault spoils the answer: a re-send replays it
                    proxy.idempotency.store(
                        key, upstream.status_code, dict(upstream.headers), upstream.content
                    )
                if fault is not None and fault.after_forward:
                    sent = self._misbehave(fault)
                    if sent is not None:
                        return sent
                    if fault.go_down:
                        proxy.go_down(keep=self.connection)
                        self.close_connection = True
                config = _config_as_polaris(self.command, path, upstream)
                if config is not None and fault is None:
                    if proxy.vending is not None:
                        config = proxy.vending.advertise(config)
                    return self._json(upstream.status_code, proxy.polaris_config(config))
                if proxy.vending is not None and fault is None:
                    loaded = proxy.vending.with_credentials(self.command, path, headers, upstream)
                    if loaded is not None:
                        return self._json(upstream.status_code, loaded)
                return self._relay(upstream, fault if fault and fault.after_forward else None)

            def _relay(self, upstream: requests.Response, fault: Fault | None) -> int:
                """Send the upstream answer on, whole or as ``fault`` says."""
                self.send_response(upstream.status_code)
                for key, value in upstream.headers.items():
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                if self.close_connection:
                    self.send_header("Connection", "close")
                content = b"" if self.command == "HEAD" else upstream.content
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                half = len(content) // 2 if fault and (fault.cut_body or fault.trickle_s) else 0
                self.wfile.write(content[:half])
                if fault is not None and fault.cut_body:
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return upstream.status_code
                if fault is not None and fault.trickle_s:
                    time.sleep(fault.trickle_s)
                self.wfile.write(content[half:])
                return upstream.status_code

            def _json(
                self,
                status: int,
                payload: dict[str, Any],
                extra: dict[str, str] | None = None,
                *,
                cut: bool = False,
            ) -> int:
                """Answer ``payload``; ``cut``: announce it whole, send half, close."""
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command == "HEAD":
                    return status
                if cut:
                    self.wfile.write(data[: len(data) // 2])
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return status
                self.wfile.write(data)
                return status

            def _misbehave(self, fault: Fault) -> int | None:
                if fault.huge_body or fault.gzip_bomb:
                    return self._send_huge(fault)
                if fault.reset:
                    with contextlib.suppress(OSError):
                        # linger 0: closing sends a TCP RST, as a crashed peer does
                        self.connection.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return 0
                if fault.status is not None:
                    self.send_response(fault.status)
                    for key, value in fault.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", fault.content_type)
                    self.send_header("Content-Length", str(len(fault.body)))
                    self.end_headers()
                    self.wfile.write(fault.body)
                    return fault.status
                return None

            def _send_huge(self, fault: Fault) -> int:
                """A huge or gzip-bomb answer, streamed: the proxy never holds it whole."""
                status = fault.status or 200
                self.send_response(status)
                self.send_header("Content-Type", fault.content_type)
                if fault.gzip_bomb:
                    self.send_header("Content-Encoding", "gzip")
                    pieces, length = _gzip_bomb(fault.gzip_bomb)
                else:
                    pieces, length = _filler(fault.huge_body), fault.huge_body
                if fault.announce_length:
                    self.send_header("Content-Length", str(length))
                else:
                    self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.close_connection = True
                self.end_headers()
                for piece in pieces:
                    if fault.announce_length:
                        self.wfile.write(piece)
                    else:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                if not fault.announce_length:
                    self.wfile.write(b"0\r\n\r\n")
                return status

            do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = _serve

        return Handler


class _Dripping:
    """A handler's output that sends the answer one byte at a time (``Fault.drip_s``).

    The first write of an answer is its status line and headers (the handler
    buffers them); they go whole unless ``drip_headers``. Dripping stops after
    ``drip_for_s`` seconds: the rest goes at once and ``dripped_out`` is set. A
    client that hangs up ends it earlier (the write fails), ``dripped_out`` unset.
    """

    def __init__(self, out: Any, fault: Fault) -> None:
        self.out = out
        self._fault = fault
        self._writes = 0
        self._started: float | None = None

    def write(self, data: bytes) -> int:
        self._writes += 1
        if self._writes == 1 and not self._fault.drip_headers:
            return int(self.out.write(data))
        if self._started is None:
            self._started = time.monotonic()
        view = bytes(data)
        for at in range(len(view)):
            if time.monotonic() - self._started >= self._fault.drip_for_s:
                self.out.write(view[at:])
                self._fault.dripped_out.set()
                return len(view)
            self.out.write(view[at : at + 1])
            time.sleep(self._fault.drip_s)
        return len(view)

    def flush(self) -> None:
        self.out.flush()


_FILLER_PIECE = b" " * (1 << 20)


def _filler(size: int) -> Iterator[bytes]:
    """``size`` bytes of JSON whitespace, a MiB at a time."""
    while size > 0:
        piece = _FILLER_PIECE[: min(size, len(_FILLER_PIECE))]
        size -= len(piece)
        yield piece


#: Each gzip member of a bomb decodes to this many bytes.
_BOMB_MEMBER_BYTES = 64 << 20


@functools.cache
def _bomb_member() -> bytes:
    """One gzip member of 64 MiB of spaces (about 64 KiB), made once."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(_FILLER_PIECE) for _ in range(_BOMB_MEMBER_BYTES >> 20)]
    return b"".join([*parts, packer.flush()])


def _gzip_bomb(decoded: int) -> tuple[Iterator[bytes], int]:
    """A gzip body decoding to at least ``decoded`` bytes (concatenated members), and its length."""
    members = max(1, -(-decoded // _BOMB_MEMBER_BYTES))
    member = _bomb_member()
    return iter([member] * members), len(member) * members


def _config_as_polaris(method: str, path: str, upstream: requests.Response) -> Any:
    """The ``/v1/config`` answer with Polaris' endpoint list, or None for any other answer."""
    if method != "GET" or urllib.parse.urlsplit(path).path != "/v1/config":
        return None
    if upstream.status_code != 200:
        return None
    try:
        answer = upstream.json()
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("endpoints"):
        return None
    return {**answer, "endpoints": list(POLARIS_ENDPOINTS)}


def _is_create(path: str, body: bytes) -> bool:
    route = urllib.parse.urlsplit(path).path.split("/")
    return (
        (len(route) == 4 and route[3] == "namespaces")
        or (len(route) == 6 and route[3] == "namespaces" and route[5] == "tables")
        or (len(route) == 7 and route[3] == "namespaces" and _asserts_create(body))
    )


def _asserts_create(body: bytes) -> bool:
    """Whether a table commit creates its table (a staged create's commit)."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return False
    requirements = payload.get("requirements") if isinstance(payload, dict) else None
    return isinstance(requirements, list) and any(
        isinstance(r, dict) and r.get("type") == "assert-create" for r in requirements
    )


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _iceberg_error(code: int, kind: str, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"message": message, "type": kind, "code": code}}


# -- credential vending (Polaris' access delegation) ---------------------------------------

_DELEGATION = "X-Iceberg-Access-Delegation"
_CREDENTIALS_ENDPOINT = f"GET {_TABLE}/credentials"


class CredentialVending:
    """Polaris' ``vended-credentials`` access delegation, over an :class:`S3Gate`.

    A table load or create that asks for it (``X-Iceberg-Access-Delegation:
    vended-credentials``) is answered, as Polaris does, with credentials the
    gate accepts for ``lifetime_s`` seconds, in the answer's ``config`` and in
    its ``storage-credentials`` (prefix: the table's location), with the
    expiry under ``expiry_property`` (Polaris 1.7+:
    ``s3.session-token-expires-at-ms``; before: ``expiration-time``). ``GET
    .../tables/{t}/credentials`` vends a new set (404 for a missing table),
    listed in ``/v1/config``'s endpoints unless ``credentials_endpoint`` is
    off (a Polaris without it: clients reload the table instead).

    Args:
        gate: The S3 gate whose credentials are vended.
        lifetime_s: How long each vended set is accepted (tests may change it).
        expiry_property: The property carrying the expiry (epoch ms).
        credentials_endpoint: Whether the credentials endpoint exists.
    """

    def __init__(
        self,
        gate: S3Gate,
        *,
        lifetime_s: float = 3600.0,
        expiry_property: str = "s3.session-token-expires-at-ms",
        credentials_endpoint: bool = True,
    ) -> None:
        self.gate = gate
        self.lifetime_s = lifetime_s
        self.expiry_property = expiry_property
        self.credentials_endpoint = credentials_endpoint
        self._lock = threading.Lock()
        #: Credential sets vended with a table load or create / by the endpoint.
        self.with_tables = 0
        self.by_endpoint = 0

    def vend(self, location: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """A new credential set: as ``config`` properties and as ``storage-credentials``."""
        issued = self.gate.vend(self.lifetime_s)
        config = {
            "s3.access-key-id": issued.access_key_id,
            "s3.secret-access-key": issued.secret_access_key,
            "s3.session-token": issued.session_token,
            self.expiry_property: str(issued.expires_at_ms),
            "s3.endpoint": self.gate.endpoint,
            "s3.region": self.gate.region,
            "s3.path-style-access": "true",
        }
        return config, [{"prefix": location, "config": dict(config)}]

    def advertise(self, config: dict[str, Any]) -> dict[str, Any]:
        """The ``/v1/config`` answer, listing the credentials endpoint when it exists."""
        if not self.credentials_endpoint:
            return config
        return {**config, "endpoints": [*config.get("endpoints", []), _CREDENTIALS_ENDPOINT]}

    def with_credentials(
        self, method: str, path: str, headers: dict[str, str], upstream: requests.Response
    ) -> dict[str, Any] | None:
        """A table load/create answer with vended credentials, when asked; else None."""
        route = urllib.parse.urlsplit(path).path.split("/")
        is_load = method == "GET" and len(route) == 7 and route[5] == "tables"
        is_create = method == "POST" and len(route) == 6 and route[5] in ("tables", "register")
        asked = "vended-credentials" in (_header(headers, _DELEGATION) or "")
        if not (is_load or is_create) or not asked or upstream.status_code != 200:
            return None
        try:
            answer = upstream.json()
            location = str(answer["metadata"]["location"])
        except (ValueError, KeyError, TypeError):
            return None
        config, storage = self.vend(location)
        with self._lock:
            self.with_tables += 1
        return {
            **answer,
            "config": {**(answer.get("config") or {}), **config},
            "storage-credentials": storage,
        }

    def credentials_answer(
        self, proxy: PolarisProxy, path: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """``GET .../tables/{t}/credentials``: a new set for an existing table."""
        if not self.credentials_endpoint:
            return _iceberg_error(404, "NotFoundException", "no route")
        table_path = urllib.parse.urlsplit(path).path.rsplit("/", 1)[0]
        loaded = proxy.forward("GET", table_path, headers, b"")
        if loaded.status_code != 200:
            return _iceberg_error(404, "NoSuchTableException", f"Table does not exist: {path}")
        location = str(loaded.json()["metadata"]["location"])
        _, storage = self.vend(location)
        with self._lock:
            self.by_endpoint += 1
        return 200, {"storage-credentials": storage}


def _is_credentials_request(method: str, path: str) -> bool:
    route = urllib.parse.urlsplit(path).path.split("/")
    return (
        method == "GET" and len(route) == 8 and route[5] == "tables" and route[7] == "credentials"
    )


@contextlib.contextmanager
def running_polaris(
    upstream: str, *, upstream_client_id: str, upstream_client_secret: str, **options: Any
) -> Iterator[PolarisProxy]:
    """A started :class:`PolarisProxy`, stopped on exit."""
    proxy = PolarisProxy(
        upstream,
        upstream_client_id=upstream_client_id,
        upstream_client_secret=upstream_client_secret,
        **options,
    )
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
