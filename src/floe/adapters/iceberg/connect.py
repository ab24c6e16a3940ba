"""Opening PyIceberg catalogs from floe configs, with their call guard."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.rest import Capability, RestCatalog, TableResponse
from pyiceberg.io import FileIO
from pyiceberg.table import StagedTable, Table
from pyiceberg.typedef import Identifier, Properties
from requests import PreparedRequest, Response, Session

from floe.adapters.iceberg.auth import FloeAuthManager, TokenProvider
from floe.adapters.iceberg.describe import TableDescriber
from floe.adapters.iceberg.embedded import EmbeddedSqlCatalog
from floe.adapters.iceberg.guard import CallGuard, send_observed
from floe.adapters.iceberg.http import BoundedHTTPAdapter
from floe.adapters.iceberg.idempotency import is_keyed, send_keyed
from floe.adapters.iceberg.server import ServerTraits
from floe.adapters.iceberg.transport import warn_if_plaintext
from floe.adapters.iceberg.vended import VendedFileIO, credentials_expiry_ms
from floe.domain.config import (
    DEFAULT_MAX_RESPONSE_BYTES,
    LocalCatalogConfig,
    PolarisCatalogConfig,
    RetryConfig,
    without_userinfo,
)


class IcebergBackend:
    """One PyIceberg catalog, opened lazily, re-openable, shared by both ports.

    Args:
        name: What the catalog is, for messages (a path or a URI).
        opener: Creates the PyIceberg catalog (may call the server).
        guard: The call guard every operation goes through.
        tokens: The token provider (REST with OAuth2 only).
        server: What the REST catalog's ``/v1/config`` said, once opened.
        server_is_polaris: The configured answer to "is the server Polaris"
            (None: ask ``server``).
    """

    def __init__(
        self,
        name: str,
        opener: Callable[[], Catalog],
        guard: CallGuard,
        tokens: TokenProvider | None = None,
        server: ServerTraits | None = None,
        server_is_polaris: bool | None = None,
    ) -> None:
        self.name = name
        self.guard = guard
        self.tokens = tokens
        self.server = server
        self._server_is_polaris = server_is_polaris
        #: Describes loaded tables for both ports, converting each schema and spec once.
        self.describe = TableDescriber()
        self._opener = opener
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"IcebergBackend({self.name!r}, adapter={self.guard.adapter!r})"

    @property
    def catalog(self) -> Catalog:
        """The PyIceberg catalog, opened on first use (call inside the guard)."""
        with self._lock:
            if self._catalog is None:
                self._catalog = self._opener()
            return self._catalog

    @property
    def server_checks(self) -> bool:
        """Whether the catalog itself answers 404/409 as Polaris does (call inside the guard).

        Then floe sends creates and drops without looking first (a narrowly
        granted principal may lack the privileges to look); otherwise it
        checks, giving Polaris' answers on laxer servers. Asking may open the
        catalog (which reads ``/v1/config``).
        """
        if self._server_is_polaris is not None:
            return self._server_is_polaris
        if self.server is None:
            return False
        _ = self.catalog  # opening it reads /v1/config
        return self.server.is_polaris

    def reset(self) -> None:
        """Drop the session, the token and the circuit state; the next use opens the catalog anew.

        The circuit is closed too: a reset is followed by a call that asks the
        server how it is now, which an open circuit would refuse unasked.
        """
        with self._lock:
            self._catalog = None
        if self.tokens is not None:
            self.tokens.invalidate()
        self.guard.breaker.reset()


def open_local_backend(config: LocalCatalogConfig) -> IcebergBackend:
    """The embedded catalog: SQLite metadata and data files under one directory."""
    root = Path(config.warehouse_path).expanduser().resolve()

    def opener() -> Catalog:
        root.mkdir(parents=True, exist_ok=True)
        return EmbeddedSqlCatalog(
            config.catalog_name,
            uri=f"sqlite:///{root / 'catalog.db'}",
            warehouse=root.as_uri(),
        )

    # Local files fail for good or not at all: one attempt, no breaker.
    guard = CallGuard("local", RetryConfig(max_attempts=1, circuit_breaker_threshold=0))
    return IcebergBackend(str(root), opener, guard)


def token_url(config: PolarisCatalogConfig) -> str:
    """The OAuth2 token endpoint: the configured one or ``<uri>/v1/oauth/tokens``."""
    url = config.oauth2_server_uri or f"{config.uri.rstrip('/')}/v1/oauth/tokens"
    return without_userinfo(url)


def token_provider(config: PolarisCatalogConfig) -> TokenProvider:
    """The token provider for a REST catalog config."""
    verify: bool | str = config.properties.get("ssl.cabundle", True)
    if config.token is not None:
        return TokenProvider(static_token=config.token, verify=verify)
    return TokenProvider(
        token_url=token_url(config),
        client_id=config.client_id,
        client_secret=config.client_secret,
        scope=config.scope,
        audience=config.audience,
        resource=config.resource,
        headers=realm_headers(config),
        refresh_enabled=config.token_refresh_enabled,
        verify=verify,
        timeout_s=config.request_timeout_s,
        max_response_bytes=config.max_response_bytes,
    )


def realm_headers(config: PolarisCatalogConfig) -> dict[str, str]:
    """The Polaris realm header, for catalog and token requests alike (none without a realm)."""
    return {} if config.realm is None else {config.realm_header: config.realm}


def rest_properties(config: PolarisCatalogConfig, tokens: TokenProvider) -> dict[str, Any]:
    """PyIceberg REST catalog properties: floe's auth manager, never a raw secret."""
    props: dict[str, Any] = {k: v for k, v in config.properties.items() if k != "ssl.cabundle"}
    props.update({f"header.{k}": v for k, v in realm_headers(config).items()})
    if "ssl.cabundle" in config.properties:
        props["ssl"] = {"cabundle": config.properties["ssl.cabundle"]}
    props.update(
        uri=without_userinfo(config.uri),
        warehouse=config.warehouse,
        auth={
            "type": "custom",
            "impl": f"{FloeAuthManager.__module__}.{FloeAuthManager.__qualname__}",
            "custom": {"provider": tokens},
        },
    )
    return props


class _CatalogHTTPAdapter(BoundedHTTPAdapter):
    """A bounded HTTP adapter (deadline, answer size) telling commits what went out.

    Each request goes through :func:`send_observed`, so a commit in progress
    knows whether its request may have reached the catalog (its failure is
    then an unknown outcome) or never left (a plain transient fault). The
    answer is read whole inside it, so an answer that trickles past the
    deadline or is too large counts as unanswered: an unknown outcome.

    Given ``verify`` (the configured CA bundle), every request is verified
    against it, whatever the environment says.

    The ``/v1/config`` answer is shown to ``server`` on its way to PyIceberg;
    when it advertised an idempotency window, table commits go with an
    ``Idempotency-Key`` and are re-sent with it while their outcome is
    unknown (:func:`~floe.adapters.iceberg.idempotency.send_keyed`).
    """

    def __init__(
        self,
        timeout_s: float,
        max_bytes: int,
        verify: str | None = None,
        server: ServerTraits | None = None,
        guard: CallGuard | None = None,
    ) -> None:
        super().__init__(timeout_s, max_bytes)
        self._verify = verify
        self._server = server
        self._guard = guard

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:  # type: ignore[override]
        if self._verify is not None:
            # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override the
            # session's CA bundle (Session.merge_environment_settings); the
            # bundle the config names explicitly wins, for every request.
            kwargs["verify"] = self._verify
        send = super().send
        window = None if self._server is None else self._server.idempotency_window_s
        if window is not None and self._guard is not None and is_keyed(request):
            guard = self._guard
            response = send_observed(
                request.method,
                lambda: send_keyed(
                    request,
                    lambda: send(request, **kwargs),
                    window_s=window,
                    retry=guard.retry,
                    tokens=guard.tokens,
                ),
            )
        else:
            response = send_observed(request.method, lambda: send(request, **kwargs))
        if self._server is not None and _is_config(request, response):
            self._server.learn(response.content)
        return response


def _is_config(request: PreparedRequest, response: Response) -> bool:
    path = urllib.parse.urlsplit(request.url or "").path
    return request.method == "GET" and path.endswith("/v1/config") and response.status_code == 200


_DELEGATION_HEADER = "X-Iceberg-Access-Delegation"
_LOAD_CREDENTIALS = Capability.V1_LOAD_CREDENTIALS


class TimedRestCatalog(RestCatalog):
    """PyIceberg's REST catalog with bounded requests and floe's token refresh on 401.

    PyIceberg sends catalog requests without a timeout and reads answers of
    any size, so a server that stops answering, or trickles, would hang the
    caller, and a huge or compressed answer exhaust its memory. Here every
    request has a deadline for the whole exchange and a cap on the decoded
    answer (:class:`BoundedHTTPAdapter`): a deadline passed is a timeout the
    call guard retries (or, during a commit, reports as an unknown outcome),
    a larger answer a ``ResponseTooLargeError``.

    PyIceberg re-sends a request answered 401/419 once, after calling
    ``_refresh_token``, which only renews its legacy auth manager's token.
    Here the guard forgets floe's token, so that one request goes again with
    a new token: a token expiring in the middle of an operation costs one
    request, not the operation (a refused request changed nothing, so
    re-sending it is safe even within a call that cannot be replayed).
    """

    def __init__(
        self,
        name: str,
        request_timeout_s: float,
        guard: CallGuard | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        access_delegation: str | None = None,
        server: ServerTraits | None = None,
        **properties: Any,
    ) -> None:
        # Set before super().__init__: it makes the session (and its headers).
        self._request_timeout_s = request_timeout_s
        self._max_response_bytes = max_response_bytes
        self._guard = guard
        self._access_delegation = access_delegation
        self.server = server or ServerTraits()
        super().__init__(name, **properties)

    @property
    def vends_credentials(self) -> bool:
        """Whether storage access comes only with tables (the config asks for vending)."""
        return self._access_delegation == "vended-credentials"

    @property
    def renews_credentials(self) -> bool:
        """Whether vended credentials a table comes with are used and renewed."""
        return self._access_delegation != "none"

    def _config_headers(self, session: Session) -> None:
        super()._config_headers(session)
        # PyIceberg asks every catalog for vended credentials unless a header
        # property says otherwise; floe keeps that default, and "none" (a
        # principal not granted data access) asks for nothing.
        if self._access_delegation == "vended-credentials":
            session.headers[_DELEGATION_HEADER] = self._access_delegation
        elif self._access_delegation == "none":
            session.headers.pop(_DELEGATION_HEADER, None)

    def _response_to_table(
        self, identifier_tuple: tuple[str, ...], table_response: TableResponse
    ) -> Table:
        table = super()._response_to_table(identifier_tuple, table_response)
        table.io = self._vended_io(identifier_tuple, table_response, table.io)
        return table

    def _response_to_staged_table(
        self, identifier_tuple: tuple[str, ...], table_response: TableResponse
    ) -> StagedTable:
        table = super()._response_to_staged_table(identifier_tuple, table_response)
        table.io = self._vended_io(identifier_tuple, table_response, table.io)
        return table

    def _vended_io(self, identifier: tuple[str, ...], answer: TableResponse, io: FileIO) -> FileIO:
        """The table's FileIO, renewing its vended credentials when they expire."""
        # A staged create has no metadata file yet: its table location stands in.
        location = answer.metadata_location or answer.metadata.location
        credentials = {
            **answer.config,
            **self._resolve_storage_credentials(answer.storage_credentials, location),
        }
        if not self.renews_credentials or credentials_expiry_ms(credentials) is None:
            return io  # nothing vended, or credentials that do not expire
        base = {**answer.metadata.properties}

        def make_io(fresh: Properties) -> FileIO:
            return self._load_file_io({**base, **fresh}, location)

        return VendedFileIO(
            credentials, make_io, lambda: self.fresh_credentials(identifier, location)
        )

    def fresh_credentials(self, identifier: Identifier, location: str) -> Properties:
        """New vended credentials for a table: its credentials endpoint, else a reload.

        Raises:
            NoSuchTableError: The table is gone.
            RuntimeError: The catalog vended no credentials for it.
        """
        if self._serves_credentials():
            fresh = self.load_credentials(identifier, location)
            if fresh:
                return fresh
        table = self.load_table(identifier)
        if isinstance(table.io, VendedFileIO):
            return table.io.credentials
        raise RuntimeError(
            f"the catalog vended no expiring storage credentials for table "
            f"{'.'.join(self.identifier_to_tuple(identifier))} when asked to renew them"
        )

    def _serves_credentials(self) -> bool:
        try:
            self._check_endpoint(_LOAD_CREDENTIALS)
        except NotImplementedError:
            return False
        return True

    def _create_session(self) -> Session:
        session = super()._create_session()
        # A redirect is refused, not followed: it would carry the token along,
        # and the answer at the other end would be taken for the catalog's.
        session.max_redirects = 0
        cabundle = (self.properties.get("ssl") or {}).get("cabundle")
        adapter = _CatalogHTTPAdapter(
            self._request_timeout_s,
            self._max_response_bytes,
            str(cabundle) if cabundle is not None else None,
            self.server,
            self._guard,
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def _refresh_token(self) -> None:
        if self._guard is not None:
            self._guard.request_refused()
        super()._refresh_token()


def open_rest_backend(config: PolarisCatalogConfig) -> IcebergBackend:
    """A Polaris / Iceberg REST catalog behind floe's token provider and call guard."""
    tokens = token_provider(config)
    guard = CallGuard("rest", config.retry, tokens)
    server = ServerTraits()
    warn_if_plaintext(config, token_url(config))

    def opener() -> Catalog:
        return TimedRestCatalog(
            config.warehouse,
            config.request_timeout_s,
            guard,
            config.max_response_bytes,
            config.access_delegation,
            server,
            **rest_properties(config, tokens),
        )

    return IcebergBackend(
        without_userinfo(config.uri), opener, guard, tokens, server, config.server_is_polaris
    )
