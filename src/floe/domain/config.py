"""Configuration values and their loading from plain mappings or the environment.

Secrets are wrapped in :class:`Secret`, whose ``repr``/``str`` never show the
value, so a config can be logged or printed safely.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any, Final

import attrs
import cattrs

from floe.domain.errors import InvalidConfigError, UnknownPropertyWarning

_MASK: Final = "**********"


@attrs.frozen(repr=False)
class Secret:
    """A secret string that never shows itself in reprs, logs or messages."""

    # repr=False too: pretty printers (rich, in tracebacks with locals) show
    # an attrs object's fields, not its ``__repr__``.
    _value: str = attrs.field(alias="value", repr=False)

    def reveal(self) -> str:
        """Return the secret text (for the one place that must send it)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK


#: Catalog and FileIO properties whose values are settings, never credentials
#: (PyIceberg's key names, compared without case). Every other property is
#: masked in reprs, logs and unstructured configs: a property floe does not
#: know (a custom ``header.X-Api-Key``, a new storage credential) may hold a
#: secret, so it is hidden until it is known to be safe.
SAFE_PROPERTY_KEYS: Final = frozenset(
    {
        "uri",
        "warehouse",
        "location",
        "prefix",
        "py-io-impl",
        "ssl.cabundle",
        "rest.sigv4-enabled",
        "rest.signing-region",
        "rest.signing-name",
        "s3.endpoint",
        "s3.region",
        "s3.resolve-region",
        "s3.path-style-access",
        "s3.force-virtual-addressing",
        "s3.connect-timeout",
        "s3.request-timeout",
        "s3.proxy-uri",
        "s3.signer",
        "s3.signer.uri",
        "s3.signer.endpoint",
        "s3.role-arn",
        "s3.role-session-name",
        "s3.anonymous",
        "s3.sse.type",
        "s3.retry-strategy-impl",
        "client.region",
        "client.role-arn",
        "client.role-session-name",
        "hdfs.host",
        "hdfs.port",
        "hdfs.user",
        "adls.account-name",
        "adls.account-host",
        "adls.tenant-id",
        "adls.client-id",
        "adls.blob-storage-authority",
        "adls.dfs-storage-authority",
        "adls.blob-storage-scheme",
        "adls.dfs-storage-scheme",
        "adls.anon",
        "gcs.project-id",
        "gcs.access",
        "gcs.consistency",
        "gcs.cache-timeout",
        "gcs.requester-pays",
        "gcs.service.host",
        "gcs.default-bucket-location",
        "gcs.version-aware",
        "gcs.oauth2.token-expires-at",
        "hf.endpoint",
        "header.x-iceberg-access-delegation",
        "header.user-agent",
        "header.content-type",
        "header.accept",
    }
)


#: PyIceberg catalog and FileIO properties that hold credentials (masked,
#: but known: no warning).
CREDENTIAL_PROPERTY_KEYS: Final = frozenset(
    {
        "s3.access-key-id",
        "s3.secret-access-key",
        "s3.session-token",
        "s3.sse.key",
        "s3.sse-kms-key-id",
        "client.access-key-id",
        "client.secret-access-key",
        "client.session-token",
        "adls.account-key",
        "adls.sas-token",
        "adls.connection-string",
        "adls.credential",
        "adls.client-secret",
        "adls.token",
        "gcs.oauth2.token",
        "hdfs.kerberos_ticket",
        "hf.token",
        "rest.signing-key",
    }
)
#: PyIceberg settings that are neither on the safe list nor credentials
#: (their values stay masked, they draw no warning).
OTHER_KNOWN_PROPERTY_KEYS: Final = frozenset(
    {
        "snapshot-loading-mode",
        "scan-planning-mode",
        "rest-page-size",
        "namespace-separator",
        "view-endpoints-supported",
        "rest.sigv4.max-retries",
        "s3.profile-name",
        "s3.server-side-encryption",
        "client.profile-name",
        "gcs.session-kwargs",
    }
)
#: Families of properties with free-form names: HTTP headers, per-account
#: SAS tokens, auth manager settings, TLS client certificates.
KNOWN_PROPERTY_PREFIXES: Final = ("header.", "adls.sas-token.", "auth.", "ssl.")


def is_known_property(key: str) -> bool:
    """Whether ``key`` is a PyIceberg catalog or FileIO property floe knows."""
    name = key.lower()
    return (
        name in SAFE_PROPERTY_KEYS
        or name in CREDENTIAL_PROPERTY_KEYS
        or name in OTHER_KNOWN_PROPERTY_KEYS
        or name.startswith(KNOWN_PROPERTY_PREFIXES)
    )


def warn_unknown_properties(properties: Mapping[str, str]) -> None:
    """Warn (:class:`UnknownPropertyWarning`) about each property floe does not know.

    Such a property is still passed to PyIceberg, which ignores what it does
    not know: a misspelt ``s3.endpont`` would otherwise vanish silently. The
    warning names the key, never the value.
    """
    for key in properties:
        if not is_known_property(key):
            warnings.warn(
                f"catalog property {key!r} is not a PyIceberg setting floe knows; it is "
                "passed to PyIceberg as it is, which ignores settings it does not know "
                "(check its spelling)",
                UnknownPropertyWarning,
                stacklevel=4,
            )


def is_safe_property(key: str) -> bool:
    """Whether the value of property ``key`` may be shown (see :data:`SAFE_PROPERTY_KEYS`)."""
    return key.lower() in SAFE_PROPERTY_KEYS


def mask_properties(properties: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``properties`` with every value not known to be safe masked."""
    return {key: value if is_safe_property(key) else _MASK for key, value in properties.items()}


def _userinfo(uri: str) -> tuple[str, str, str] | None:
    """``(scheme://, userinfo, the rest)`` of a URI with a ``…@`` part, else ``None``."""
    scheme, sep, rest = uri.partition("://")
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not sep or not at:
        return None
    return f"{scheme}://", userinfo, f"{host}{slash}{path}"


def mask_uri(uri: str) -> str:
    """``uri`` with the password of any ``user:password@`` part masked."""
    parts = _userinfo(uri)
    if parts is None or ":" not in parts[1]:
        return uri
    start, userinfo, rest = parts
    return f"{start}{userinfo.split(':', 1)[0]}:{_MASK}@{rest}"


def without_userinfo(uri: str) -> str:
    """``uri`` without a ``user:password@`` part.

    floe authenticates with the client credentials or the token, never with
    a URI's userinfo, and requests would write it into every error naming
    the URL: it goes no further than the config.
    """
    parts = _userinfo(uri)
    return uri if parts is None else parts[0] + parts[2]


def _in_range(low: float, high: float) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidConfigError(
                f"{attribute.name} must be a number, got {value!r}", subject=attribute.name
            )
        if not low <= value <= high:
            raise InvalidConfigError(
                f"{attribute.name} must be between {low} and {high}, got {value!r}",
                subject=attribute.name,
            )

    return check


@attrs.frozen
class RetryConfig:
    """Retries of transient catalog faults (exponential backoff with jitter).

    Attributes:
        max_attempts: Attempts per call, first included (1 to 10).
        initial_wait_s: Wait before the second attempt.
        max_wait_s: Cap on any wait; at least ``initial_wait_s``.
        jitter_s: Up to this much random time added to each wait.
        circuit_breaker_threshold: Consecutive failures that open the circuit
            (0 = no circuit breaker).
        circuit_breaker_reset_s: Cool-down before a half-open trial call.
    """

    max_attempts: int = attrs.field(default=3, validator=_in_range(1, 10))
    initial_wait_s: float = attrs.field(default=1.0, validator=_in_range(0, 300))
    max_wait_s: float = attrs.field(default=30.0, validator=_in_range(0, 3600))
    jitter_s: float = attrs.field(default=1.0, validator=_in_range(0, 60))
    circuit_breaker_threshold: int = attrs.field(default=5, validator=_in_range(0, 1000))
    circuit_breaker_reset_s: float = attrs.field(default=30.0, validator=_in_range(0, 3600))

    def __attrs_post_init__(self) -> None:
        if isinstance(self.max_attempts, float) or isinstance(
            self.circuit_breaker_threshold, float
        ):
            raise InvalidConfigError(
                "max_attempts and circuit_breaker_threshold must be integers",
                subject="retry",
            )
        if self.max_wait_s < self.initial_wait_s:
            raise InvalidConfigError(
                f"max_wait_s ({self.max_wait_s}) must be >= initial_wait_s ({self.initial_wait_s})",
                subject="max_wait_s",
            )


def _to_secret(value: Secret | str | None) -> Secret | None:
    if value is None:
        return None
    if isinstance(value, Secret):
        text = value.reveal()
    elif isinstance(value, str):
        text = value
    else:
        raise InvalidConfigError(
            f"a secret must be a string, got {type(value).__name__}", subject="secret"
        )
    if not text:
        raise InvalidConfigError("a secret must not be empty", subject="secret")
    return value if isinstance(value, Secret) else Secret(text)


def _non_empty(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidConfigError(
            f"{attribute.name} must be a non-empty string", subject=attribute.name
        )


#: What ``PolarisCatalogConfig.access_delegation`` may be (``None``: PyIceberg's default,
#: which asks for vended credentials; ``"none"``: no delegation asked).
ACCESS_DELEGATION_MODES: Final = frozenset({None, "vended-credentials", "none"})

#: The default cap on one catalog or token answer, decoded (256 MiB).
DEFAULT_MAX_RESPONSE_BYTES: Final = 256 * 1024 * 1024


@attrs.frozen
class PolarisCatalogConfig:
    """A Polaris (or any Iceberg REST) catalog.

    Attributes:
        uri: The REST endpoint, e.g. ``https://host/api/catalog``.
        warehouse: The catalog name in Polaris (the REST ``warehouse``).
        client_id: OAuth2 client id (with ``client_secret``).
        client_secret: OAuth2 client secret.
        token: A static bearer token, instead of client credentials.
        scope: OAuth2 scope; Polaris needs ``PRINCIPAL_ROLE:<role>``.
        token_refresh_enabled: Refresh tokens before expiry and on 401/419.
        retry: Retry policy for transient faults.
        oauth2_server_uri: Token endpoint, when not ``<uri>/v1/oauth/tokens``:
            an external identity provider's (Keycloak, Entra ID, Okta...),
            which Polaris in ``external`` authentication mode requires.
        audience: The ``audience`` asked for in token requests (some
            identity providers issue a token only for a named audience).
        resource: The ``resource`` asked for in token requests (RFC 8707).
        realm: The Polaris realm, sent in ``realm_header`` on every catalog
            and token request (multi-realm deployments answer 404 without it).
        realm_header: The realm header's name (Polaris'
            ``polaris.realm-context.header-name``).
        server_is_polaris: Whether the catalog answers as Apache Polaris does
            (404 for a missing namespace, 409 for a table or namespace that
            exists or is not empty), so floe leaves those checks to it and
            does not look before it creates or drops: a principal granted
            only what it does needs no list or read privileges. ``None``
            (the default) asks ``/v1/config``: a server listing Polaris'
            own endpoints is Polaris. ``False`` keeps floe's checks, for
            servers laxer than Polaris.
        request_timeout_s: Seconds an HTTP request to the catalog or the
            token endpoint may take as a whole (connecting, sending, the
            headers and the entire answer) before it counts as a timeout, a
            transient fault; a commit whose answer does not arrive in time
            is an unknown outcome.
        max_response_bytes: The largest answer (decoded, after gzip or
            deflate) accepted from the catalog or the token endpoint; a
            larger one raises ``ResponseTooLargeError``, not retried. The
            default, 256 MiB, is far above real answers (a table's metadata
            with tens of thousands of snapshots is tens of MiB) and bounds
            what a hostile or broken server can make the client hold.
        access_delegation: ``"vended-credentials"`` asks the catalog for
            short-lived storage credentials scoped to each table it loads or
            creates (the ``X-Iceberg-Access-Delegation`` header): that table's
            files are read and written with them, so the config needs no
            storage keys, and floe renews them before they expire. ``None``
            (the default) sends what PyIceberg sends by default (the same
            header, or a ``header.X-Iceberg-Access-Delegation`` property):
            vended credentials that come back are used and renewed the same
            way, and storage keys in ``properties`` serve where none come.
            ``"none"`` asks for no delegation (a principal without
            ``TABLE_READ_DATA``/``TABLE_WRITE_DATA`` grants loads tables
            without it): storage access comes from ``properties`` (``s3.*``…).
        properties: Extra catalog properties passed through (``s3.*``,
            ``header.*``…).
    """

    uri: str = attrs.field(validator=_non_empty, repr=mask_uri)
    warehouse: str = attrs.field(validator=_non_empty)
    client_id: str | None = None
    client_secret: Secret | None = attrs.field(default=None, converter=_to_secret)
    token: Secret | None = attrs.field(default=None, converter=_to_secret)
    scope: str = "PRINCIPAL_ROLE:ALL"
    token_refresh_enabled: bool = True
    retry: RetryConfig = attrs.field(factory=RetryConfig)
    oauth2_server_uri: str | None = attrs.field(
        default=None, repr=lambda u: repr(None if u is None else mask_uri(u))
    )
    audience: str | None = None
    resource: str | None = None
    realm: str | None = None
    realm_header: str = attrs.field(default="Polaris-Realm", validator=_non_empty)
    server_is_polaris: bool | None = None
    request_timeout_s: float = attrs.field(default=60.0, validator=_in_range(0.1, 3600))
    max_response_bytes: int = attrs.field(
        default=DEFAULT_MAX_RESPONSE_BYTES, validator=_in_range(64 * 1024, 2**40)
    )
    access_delegation: str | None = attrs.field(default=None)
    properties: Mapping[str, str] = attrs.field(
        factory=dict, converter=dict, repr=lambda props: repr(mask_properties(props))
    )

    def __attrs_post_init__(self) -> None:
        if self.access_delegation not in ACCESS_DELEGATION_MODES:
            raise InvalidConfigError(
                "access_delegation must be 'vended-credentials', 'none' or unset, got "
                f"{self.access_delegation!r} (remote signing is not supported)",
                subject="access_delegation",
            )
        if self.access_delegation is not None and any(
            key.lower() == "header.x-iceberg-access-delegation" for key in self.properties
        ):
            raise InvalidConfigError(
                "give access_delegation or the header.X-Iceberg-Access-Delegation property, "
                "not both",
                subject="access_delegation",
            )
        if not self.uri.startswith(("http://", "https://")):
            raise InvalidConfigError(
                f"uri must start with http:// or https://, got {mask_uri(self.uri)!r}",
                subject="uri",
            )
        has_credentials = self.client_id is not None or self.client_secret is not None
        if has_credentials and self.token is not None:
            raise InvalidConfigError(
                "give either client_id/client_secret or token, not both", subject="credentials"
            )
        if has_credentials and not (self.client_id and self.client_secret):
            raise InvalidConfigError(
                "client_id and client_secret must be given together", subject="credentials"
            )
        if not has_credentials and self.token is None:
            raise InvalidConfigError(
                "give client_id and client_secret, or token", subject="credentials"
            )
        if isinstance(self.max_response_bytes, float):
            raise InvalidConfigError(
                f"max_response_bytes must be an integer, got {self.max_response_bytes!r}",
                subject="max_response_bytes",
            )
        for key in self.properties:
            if key in {
                "credential",
                "token",
                "uri",
                "warehouse",
                "scope",
                "audience",
                "resource",
                "oauth2-server-uri",
            }:
                raise InvalidConfigError(
                    f"property {key!r} is set through its own field, not properties",
                    subject=key,
                )
        warn_unknown_properties(self.properties)


@attrs.frozen
class LocalCatalogConfig:
    """The embedded local catalog: SQLite metadata + a warehouse directory.

    Attributes:
        warehouse_path: Directory holding the catalog database and the data.
        catalog_name: Catalog name inside the database.
    """

    warehouse_path: str = attrs.field(default=".floe/warehouse", validator=_non_empty)
    catalog_name: str = attrs.field(default="floe", validator=_non_empty)


@attrs.frozen
class MemoryCatalogConfig:
    """The in-memory catalog (for tests and experiments; nothing persists)."""

    name: str = "memory"


CatalogConfig = PolarisCatalogConfig | LocalCatalogConfig | MemoryCatalogConfig


converter = cattrs.Converter(forbid_extra_keys=True)


def _strict_bool(value: object, _: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise InvalidConfigError(f"expected true or false, got {value!r}", subject="boolean")


def _strict_int(value: object, _: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidConfigError(f"expected an integer, got {value!r}", subject="integer")
    try:
        return int(value)
    except ValueError:
        raise InvalidConfigError(f"expected an integer, got {value!r}", subject="integer") from None


def _strict_float(value: object, _: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidConfigError(f"expected a number, got {value!r}", subject="number")
    try:
        return float(value)
    except ValueError:
        raise InvalidConfigError(f"expected a number, got {value!r}", subject="number") from None


def _strict_str(value: object, _: object) -> str:
    if not isinstance(value, str):
        # Only the type: the value may be a secret given in the wrong form (bytes).
        raise InvalidConfigError(
            f"expected a string, got a value of type {type(value).__name__}", subject="string"
        )
    return value


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
converter.register_structure_hook(bool, _strict_bool)
converter.register_structure_hook(int, _strict_int)
converter.register_structure_hook(float, _strict_float)
converter.register_structure_hook(str, _strict_str)
converter.register_structure_hook(Secret, lambda v, _: _to_secret(v))
converter.register_unstructure_hook(Secret, lambda _: _MASK)

_KINDS: dict[str, type[PolarisCatalogConfig | LocalCatalogConfig | MemoryCatalogConfig]] = {
    "polaris": PolarisCatalogConfig,
    "rest": PolarisCatalogConfig,
    "local": LocalCatalogConfig,
    "memory": MemoryCatalogConfig,
}


def load_catalog_config(data: Mapping[str, Any]) -> CatalogConfig:
    """Build a catalog config from a plain mapping.

    The mapping's ``type`` is ``polaris`` (or ``rest``), ``local`` or
    ``memory``; the other keys are the fields of that config class.

    Raises:
        InvalidConfigError: On an unknown type, an unknown key, a wrong type or
            an invalid value. The message never contains a secret.
    """
    values = dict(data)
    kind = str(values.pop("type", "local")).lower()
    cls = _KINDS.get(kind)
    if cls is None:
        raise InvalidConfigError(
            f"unknown catalog type {kind!r}; expected one of {', '.join(_KINDS)}",
            subject="type",
        )
    try:
        return converter.structure(values, cls)
    except InvalidConfigError:
        raise
    except cattrs.BaseValidationError as exc:
        inner = _first_config_error(exc)
        if inner is not None:
            raise inner from None
        details = "; ".join(_describe(e) for e in exc.exceptions)
        raise InvalidConfigError(
            f"invalid {kind} catalog config: {details}", subject=kind
        ) from None


def _first_config_error(error: BaseException, path: str = "") -> InvalidConfigError | None:
    if isinstance(error, InvalidConfigError):
        if not path or path in str(error):
            return error
        return InvalidConfigError(f"{path}: {error}", subject=path)
    if isinstance(error, cattrs.BaseValidationError):
        for inner in error.exceptions:
            names = [getattr(n, "name", None) for n in getattr(inner, "__notes__", [])]
            field = next((n for n in names if isinstance(n, str)), None)
            found = _first_config_error(inner, f"{path}.{field}".strip(".") if field else path)
            if found is not None:
                return found
    return None


def _describe(error: BaseException) -> str:
    if isinstance(error, cattrs.ForbiddenExtraKeysError):
        return f"unknown keys {sorted(error.extra_fields)}"
    if isinstance(error, cattrs.BaseValidationError):
        return "; ".join(_describe(e) for e in error.exceptions)
    notes = getattr(error, "__notes__", None) or []
    named = next((n for n in reversed(notes) if isinstance(getattr(n, "name", None), str)), None)
    field = None if named is None else str(named.name)
    if isinstance(error, KeyError) and field is not None:
        return f"missing required field {field!r}"
    expected = getattr(named, "type", None)
    if field is not None and isinstance(expected, type) and attrs.has(expected):
        # A nested settings value that is not a mapping (e.g. ``retry: 5``).
        keys = ", ".join(a.name for a in attrs.fields(expected))
        return f"field {field!r}: expected a mapping of {expected.__name__} settings ({keys})"
    if field is not None:
        return f"field {field!r}: {type(error).__name__}"
    return type(error).__name__


def unstructure_config(config: CatalogConfig) -> dict[str, Any]:
    """Turn a config into a plain mapping with every secret masked."""
    data: dict[str, Any] = converter.unstructure(config)
    if "properties" in data:
        data["properties"] = mask_properties(data["properties"])
    for key in ("uri", "oauth2_server_uri"):
        if isinstance(data.get(key), str):
            data[key] = mask_uri(data[key])
    return data


def _property_key(name: str) -> str:
    """The property a variable names, by PyIceberg's rule: ``__`` is ``.``, ``_`` is ``-``."""
    return ".".join(part.replace("_", "-") for part in name.split("__"))


def catalog_config_from_env(
    environ: Mapping[str, str] | None = None, prefix: str = "FLOE_CATALOG_"
) -> CatalogConfig:
    """Read a catalog config from environment variables.

    ``FLOE_CATALOG_TYPE`` picks the kind (default ``local``); every other
    ``FLOE_CATALOG_<FIELD>`` sets a field (lower-cased); retry settings are
    ``FLOE_CATALOG_RETRY_<FIELD>`` and extra properties
    ``FLOE_CATALOG_PROP_<KEY>``, named as PyIceberg names its
    ``PYICEBERG_CATALOG__<NAME>__<KEY>`` variables: ``__`` for ``.`` and
    ``_`` for ``-`` (``FLOE_CATALOG_PROP_S3__ACCESS_KEY_ID`` →
    ``s3.access-key-id``).

    Raises:
        InvalidConfigError: As :func:`load_catalog_config`.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    retry: dict[str, str] = {}
    props: dict[str, str] = {}
    for key, value in env.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :].lower()
        if name.startswith("retry_"):
            retry[name[len("retry_") :]] = value
        elif name.startswith("prop_"):
            props[_property_key(name[len("prop_") :])] = value
        else:
            values[name] = value
    if retry:
        values["retry"] = retry
    if props:
        values["properties"] = props
    if "token_refresh_enabled" in values:
        values["token_refresh_enabled"] = values["token_refresh_enabled"].lower() in {
            "1",
            "true",
            "yes",
            "on",
        }
    return load_catalog_config(values)
