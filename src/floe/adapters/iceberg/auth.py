"""OAuth2 token lifecycle owned by floe, plugged into PyIceberg's auth-manager extension point.

PyIceberg 0.12's ``OAuth2AuthManager`` refreshes ahead of expiry but cannot
react to a 401, and the legacy manager that can is deprecated. floe keeps the
token in a :class:`TokenProvider` it holds itself: the auth manager PyIceberg
instantiates (``auth.type = custom``) only asks the provider for a header.
When the catalog answers 401/419, PyIceberg re-sends that request once and
floe's guard first calls :meth:`TokenProvider.invalidate`, so it goes with a
fresh token; a second refusal reaches the guard, which refreshes once more
and runs the whole call again if it can be replayed. A token endpoint that
cannot be reached, cuts its answer or answers 429/5xx raises
:class:`CatalogConnectionError`: a transient fault, retried under the
operation's retry policy like any other. An answer that is no token (an HTML
page, text, JSON without ``access_token``), a 404 or a redirect says the
endpoint is misconfigured: :class:`CatalogAuthenticationError`, naming the
endpoint and what came back, not retried.

The token endpoint is the catalog's own (``<uri>/v1/oauth/tokens``) or an
external identity provider's (``oauth2_server_uri``), asked with the same
client-credentials grant plus, when configured, ``audience``, ``resource``
and the Polaris realm header. Polaris in ``external`` authentication mode
answers 501 on its own endpoint: that is a configuration to change, said
as such (:class:`CatalogAuthenticationError`), not a server fault to retry.
"""

from __future__ import annotations

import math
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import requests
from pyiceberg.catalog.rest.auth import AuthManager

from floe.adapters.iceberg.http import bounded_session
from floe.domain.config import DEFAULT_MAX_RESPONSE_BYTES, Secret
from floe.domain.errors import CatalogAuthenticationError, CatalogConnectionError

#: Seconds before expiry at which a token is renewed.
DEFAULT_REFRESH_MARGIN_S = 30.0
#: Lifetime assumed when the server gives none.
DEFAULT_TOKEN_LIFETIME_S = 3600.0
_TOKEN_TIMEOUT_S = 30.0


class TokenProvider:
    """A thread-safe bearer token source: client credentials, or one static token.

    Args:
        token_url: The OAuth2 token endpoint (client credentials only).
        client_id: OAuth2 client id.
        client_secret: OAuth2 client secret.
        scope: Scope requested (Polaris: ``PRINCIPAL_ROLE:<role>``).
        audience: The ``audience`` requested (external identity providers).
        resource: The ``resource`` requested (RFC 8707).
        headers: Headers sent with every token request (the Polaris realm).
        static_token: A fixed bearer token instead of client credentials.
        refresh_enabled: Renew before expiry (else only when invalidated).
        refresh_margin_s: Renew this many seconds before expiry.
        verify: TLS verification (``True``, ``False`` or a CA bundle path).
        timeout_s: Deadline of a token request, from connecting to the last
            byte of the answer.
        max_response_bytes: The largest token answer accepted (decoded).
        clock: Monotonic clock (injectable for tests).
    """

    def __init__(
        self,
        *,
        token_url: str | None = None,
        client_id: str | None = None,
        client_secret: Secret | None = None,
        scope: str | None = None,
        audience: str | None = None,
        resource: str | None = None,
        headers: dict[str, str] | None = None,
        static_token: Secret | None = None,
        refresh_enabled: bool = True,
        refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S,
        verify: bool | str = True,
        timeout_s: float = _TOKEN_TIMEOUT_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if static_token is None and not (token_url and client_id and client_secret):
            raise CatalogAuthenticationError(
                "a token provider needs client credentials and a token URL, or a token"
            )
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._audience = audience
        self._resource = resource
        self._headers = dict(headers or {})
        self._static = static_token
        self._refresh_enabled = refresh_enabled
        self._margin = refresh_margin_s
        self._verify = verify
        self._timeout_s = timeout_s
        self._max_response_bytes = max_response_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Secret | None = static_token
        self._expires_at = float("inf")
        self.fetch_count = 0

    def __repr__(self) -> str:
        kind = "static token" if self._static is not None else f"client {self._client_id}"
        return f"TokenProvider({kind}, fetched={self.fetch_count})"

    @property
    def can_refresh(self) -> bool:
        """Whether a new token can be obtained (client credentials)."""
        return self._static is None

    def header(self) -> str:
        """The ``Authorization`` header value, fetching a token when needed.

        Raises:
            CatalogAuthenticationError: The token endpoint rejected the
                credentials, or is misconfigured: not found, redirecting, or
                answering something that is not a token.
            CatalogConnectionError: The token endpoint cannot be reached, cut
                its answer, or is busy or failing (429, 5xx).
        """
        with self._lock:
            if self._token is None or (
                self._refresh_enabled and self.can_refresh and self._clock() >= self._expires_at
            ):
                self._token = self._fetch()
            return f"Bearer {self._token.reveal()}"

    def invalidate(self) -> bool:
        """Forget the current token so the next request fetches a new one.

        Returns:
            Whether a new token can be fetched (False for a static token).
        """
        with self._lock:
            if not self.can_refresh:
                return False
            self._token = None
            return True

    def _fetch(self) -> Secret:
        if self._token_url is None or self._client_id is None or self._client_secret is None:
            raise CatalogAuthenticationError("the static token was rejected; set a new one")
        data = {"grant_type": "client_credentials"}
        if self._scope:
            data["scope"] = self._scope
        if self._audience:
            data["audience"] = self._audience
        if self._resource:
            data["resource"] = self._resource
        # The server starts the token's lifetime when it answers, which can be
        # long after a slow answer is read: count from the moment of asking.
        asked_at = self._clock()
        try:
            # Bounded as catalog requests are: one deadline for the whole
            # exchange (a trickled answer cannot hold the caller) and a cap on
            # the answer's decoded size.
            with bounded_session(self._timeout_s, self._max_response_bytes) as session:
                response = session.post(
                    self._token_url,
                    data=data,
                    headers=self._headers,
                    auth=(self._client_id, self._client_secret.reveal()),
                    verify=self._verify,
                    # The credentials go to the configured endpoint and nowhere else.
                    allow_redirects=False,
                )
        except requests.RequestException as exc:
            # Unreachable, reset, cut mid-answer or past the deadline: transient,
            # so the guard retries it.
            raise CatalogConnectionError(
                f"cannot reach the token endpoint {self._token_url} ({type(exc).__name__})",
                subject=self._token_url,
            ) from None
        if response.status_code == 501:
            raise CatalogAuthenticationError(
                f"token endpoint {self._token_url} answered HTTP 501 Not Implemented: this "
                "Polaris uses an external identity provider: set oauth2_server_uri to that "
                "provider's token endpoint (with audience or resource if it needs them)",
                subject=self._token_url,
            )
        if response.status_code == 429 or response.status_code >= 500:
            # Busy or failing, not a refusal: transient, so the guard retries it
            # (honouring Retry-After, which the cause carries; nothing else is kept).
            raise CatalogConnectionError(
                f"token endpoint {self._token_url} is unavailable: HTTP {response.status_code}",
                subject=self._token_url,
            ) from _status_only(response)
        if response.status_code != 200:
            raise CatalogAuthenticationError(
                _refusal(response, self._token_url, self._client_id), subject=self._token_url
            )
        token, lifetime = _token_answer(response, self._token_url)
        self._expires_at = asked_at + max(lifetime - self._margin, lifetime / 2)
        self.fetch_count += 1
        return Secret(token)


def _answered(response: requests.Response) -> str:
    """What came back, for messages: ``HTTP 200, text/html``."""
    return f"HTTP {response.status_code}, {_content_type(response)}"


def _content_type(response: requests.Response) -> str:
    content_type = response.headers.get("Content-Type") or "no content type"
    return content_type.split(";")[0].strip()[:100]


def _refusal(response: requests.Response, token_url: str, client_id: str) -> str:
    """Why a token request that got a final answer other than 200 failed, in the user's terms."""
    status = response.status_code
    if response.is_redirect:
        # Not followed: a token request carries the client secret.
        target = urllib.parse.urlsplit(response.headers.get("Location", ""))
        return (
            f"token endpoint {token_url} redirected ({_answered(response)}) to "
            f"{target.scheme}://{target.netloc}{target.path}; floe does not follow redirects "
            "with credentials: configure the address that answers (uri or oauth2_server_uri)"
        )
    if status == 404 and _iceberg_error_type(response) == "MissingOrInvalidRealm":
        return (
            f"token endpoint {token_url} answered HTTP 404 'Missing or invalid realm': this "
            "Polaris serves several realms; set realm (sent in the Polaris-Realm header, or "
            "the header named by realm_header) to one it knows"
        )
    if status in (404, 405):
        return (
            f"token endpoint {token_url} was not found ({_answered(response)}): the token URI "
            "is probably wrong. It is <uri>/v1/oauth/tokens unless oauth2_server_uri is set; "
            "Polaris serves the catalog and its tokens under <server>/api/catalog"
        )
    reason = _oauth_error(response) or _content_type(response)
    return f"token endpoint {token_url} refused client {client_id!r}: HTTP {status} {reason}"


def _token_answer(response: requests.Response, token_url: str) -> tuple[str, float]:
    """The access token and its lifetime in seconds from a 200 answer of the token endpoint.

    Raises:
        CatalogAuthenticationError: The answer is no token (an HTML login or
            proxy page, text, JSON without ``access_token``): a misconfigured
            endpoint, not a fault that goes away by asking again.
    """
    try:
        body: Any = response.json()
    except ValueError:
        raise CatalogAuthenticationError(
            f"token endpoint {token_url} answered {_answered(response)} that is not a JSON "
            "token answer (a login or proxy page?): check the token URI",
            subject=token_url,
        ) from None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise CatalogAuthenticationError(
            f"token endpoint {token_url} answered {_answered(response)} without an access_token",
            subject=token_url,
        )
    return token, _lifetime(body.get("expires_in"))


def _lifetime(expires_in: object) -> float:
    """The lifetime a token answer announced, or :data:`DEFAULT_TOKEN_LIFETIME_S` for none usable.

    A missing, zero, negative, infinite or non-numeric ``expires_in`` says
    nothing about when the token ends; taken literally it would make every
    request fetch a new token. A server that does expire the token sooner
    answers 401, and floe renews it then.
    """
    if isinstance(expires_in, str):
        try:
            expires_in = float(expires_in)
        except ValueError:
            return DEFAULT_TOKEN_LIFETIME_S
    if (
        isinstance(expires_in, int | float)
        and not isinstance(expires_in, bool)
        and math.isfinite(expires_in)
        and expires_in > 0
    ):
        return float(expires_in)
    return DEFAULT_TOKEN_LIFETIME_S


def _status_only(response: requests.Response) -> requests.HTTPError:
    """An HTTP error holding only the status and ``Retry-After`` of ``response``.

    The original response also references the request, whose headers hold the
    client credentials; the error chained to floe's exception must not.
    """
    bare = requests.Response()
    bare.status_code = response.status_code
    retry_after = response.headers.get("Retry-After")
    if retry_after is not None:
        bare.headers["Retry-After"] = retry_after
    return requests.HTTPError(f"HTTP {response.status_code}", response=bare)


def _iceberg_error_type(response: requests.Response) -> str:
    """The ``error.type`` of an Iceberg REST error body, or ``""``."""
    try:
        body: Any = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    return kind[:100] if isinstance(kind, str) else ""


def _oauth_error(response: requests.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        return str(body.get("error", ""))[:100]
    return ""


class FloeAuthManager(AuthManager):
    """The PyIceberg auth manager that asks floe's :class:`TokenProvider` for headers.

    Registered through ``auth = {"type": "custom", "impl": <this class>,
    "custom": {"provider": provider}}`` in the REST catalog properties.
    """

    def __init__(self, provider: TokenProvider) -> None:
        self.provider = provider

    def __repr__(self) -> str:
        return f"FloeAuthManager({self.provider!r})"

    def auth_header(self) -> str:
        """The bearer header for the next request."""
        return self.provider.header()
