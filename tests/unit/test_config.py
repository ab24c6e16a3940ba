"""Configuration: ranges, credentials, secret masking, loading from mappings and the environment."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pytest

from floe import (
    InvalidConfigError,
    LocalCatalogConfig,
    MemoryCatalogConfig,
    PolarisCatalogConfig,
    RetryConfig,
    Secret,
    catalog_config_from_env,
    load_catalog_config,
)
from floe.domain.config import unstructure_config

SECRET = "s3cr3t-Client-Secret-9f2a"
TOKEN = "tok-Bearer-5e7c1d"
URI = "https://polaris.example.com/api/catalog"
MASK = "**********"


def _rejected(build: Callable[[], object]) -> InvalidConfigError:
    """Run ``build`` and return the InvalidConfigError it must raise (exact class)."""
    with pytest.raises(InvalidConfigError) as caught:
        build()
    assert type(caught.value) is InvalidConfigError
    return caught.value


def _leaks(error: BaseException, *secrets: str) -> bool:
    """Whether the error's text, repr or printed traceback shows a secret."""
    printed = "".join(traceback.format_exception(error))
    return any(s in text for s in secrets for text in (str(error), repr(error), printed))


def _polaris(**overrides: Any) -> PolarisCatalogConfig:
    values: dict[str, Any] = {
        "uri": URI,
        "warehouse": "analytics",
        "client_id": "floe-client",
        "client_secret": SECRET,
    }
    values.update(overrides)
    return PolarisCatalogConfig(**values)


def _polaris_mapping(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "type": "polaris",
        "uri": URI,
        "warehouse": "analytics",
        "client_id": "floe-client",
        "client_secret": SECRET,
    }
    values.update(overrides)
    return values


# -- RetryConfig ------------------------------------------------------------------------


def test_retry_defaults() -> None:
    retry = RetryConfig()

    assert retry.max_attempts == 3
    assert retry.initial_wait_s == 1.0
    assert retry.max_wait_s == 30.0
    assert retry.jitter_s == 1.0
    assert retry.circuit_breaker_threshold == 5


@pytest.mark.parametrize("attempts", [1, 10])
def test_max_attempts_bounds_are_inclusive(attempts: int) -> None:
    assert RetryConfig(max_attempts=attempts).max_attempts == attempts


@pytest.mark.parametrize("attempts", [0, 11, -1])
def test_max_attempts_out_of_range_is_rejected(attempts: int) -> None:
    error = _rejected(lambda: RetryConfig(max_attempts=attempts))

    assert f"max_attempts must be between 1 and 10, got {attempts}" in str(error)
    assert error.subject == "max_attempts"


def test_max_wait_below_initial_wait_is_rejected() -> None:
    error = _rejected(lambda: RetryConfig(initial_wait_s=5.0, max_wait_s=2.0))

    assert "max_wait_s (2.0) must be >= initial_wait_s (5.0)" in str(error)
    assert error.subject == "max_wait_s"


def test_max_wait_equal_to_initial_wait_is_accepted() -> None:
    assert RetryConfig(initial_wait_s=2.0, max_wait_s=2.0).max_wait_s == 2.0


@pytest.mark.parametrize(
    "field",
    [
        "max_attempts",
        "initial_wait_s",
        "max_wait_s",
        "jitter_s",
        "circuit_breaker_threshold",
        "circuit_breaker_reset_s",
    ],
)
@pytest.mark.parametrize("flag", [True, False])
def test_booleans_are_not_numbers(field: str, flag: bool) -> None:
    error = _rejected(lambda: RetryConfig(**{field: flag}))

    assert f"{field} must be a number, got {flag!r}" in str(error)
    assert error.subject == field


@pytest.mark.parametrize("field", ["max_attempts", "circuit_breaker_threshold"])
def test_counts_must_be_whole_numbers(field: str) -> None:
    error = _rejected(lambda: RetryConfig(**{field: 2.5}))

    assert "must be integers" in str(error)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("initial_wait_s", -0.1),
        ("jitter_s", 61),
        ("circuit_breaker_threshold", 1001),
        ("max_wait_s", float("nan")),
        ("circuit_breaker_reset_s", float("inf")),
    ],
)
def test_waits_and_thresholds_out_of_range_are_rejected(field: str, value: float) -> None:
    error = _rejected(lambda: RetryConfig(**{field: value}))

    assert f"{field} must be between" in str(error)


def test_circuit_breaker_threshold_zero_turns_it_off() -> None:
    assert RetryConfig(circuit_breaker_threshold=0).circuit_breaker_threshold == 0


# -- PolarisCatalogConfig ---------------------------------------------------------------


def test_client_credentials_config() -> None:
    config = _polaris(scope="PRINCIPAL_ROLE:etl", token_refresh_enabled=False)

    assert config.client_id == "floe-client"
    assert config.client_secret is not None
    assert config.client_secret.reveal() == SECRET
    assert config.token is None
    assert config.scope == "PRINCIPAL_ROLE:etl"
    assert config.token_refresh_enabled is False


def test_token_config() -> None:
    config = PolarisCatalogConfig(uri=URI, warehouse="analytics", token=TOKEN)

    assert config.token is not None
    assert config.token.reveal() == TOKEN
    assert config.client_id is None
    assert config.client_secret is None
    assert config.scope == "PRINCIPAL_ROLE:ALL"
    assert config.token_refresh_enabled is True
    assert config.retry == RetryConfig()


def test_both_client_credentials_and_token_are_rejected() -> None:
    error = _rejected(lambda: _polaris(token=TOKEN))

    assert "either client_id/client_secret or token, not both" in str(error)
    assert error.subject == "credentials"
    assert not _leaks(error, SECRET, TOKEN)


def test_neither_client_credentials_nor_token_is_rejected() -> None:
    error = _rejected(lambda: PolarisCatalogConfig(uri=URI, warehouse="analytics"))

    assert "give client_id and client_secret, or token" in str(error)
    assert error.subject == "credentials"


@pytest.mark.parametrize("half", [{"client_secret": None}, {"client_id": None}, {"client_id": ""}])
def test_half_client_credentials_are_rejected(half: dict[str, Any]) -> None:
    error = _rejected(lambda: _polaris(**half))

    assert "client_id and client_secret must be given together" in str(error)
    assert not _leaks(error, SECRET)


@pytest.mark.parametrize(
    "uri", ["ftp://polaris.example.com", "polaris.example.com/api", "HTTPS//x", "file:///tmp"]
)
def test_uri_must_be_http_or_https(uri: str) -> None:
    error = _rejected(lambda: _polaris(uri=uri))

    assert f"uri must start with http:// or https://, got {uri!r}" in str(error)
    assert error.subject == "uri"


@pytest.mark.parametrize(("field", "value"), [("uri", ""), ("warehouse", "  ")])
def test_uri_and_warehouse_must_not_be_blank(field: str, value: str) -> None:
    error = _rejected(lambda: _polaris(**{field: value}))

    assert f"{field} must be a non-empty string" in str(error)
    assert error.subject == field


@pytest.mark.parametrize(
    "key",
    [
        "credential",
        "token",
        "uri",
        "warehouse",
        "scope",
        # Token request settings: as properties PyIceberg would get them, and
        # ignore them under floe's auth manager; as fields floe sends them.
        "audience",
        "resource",
        "oauth2-server-uri",
    ],
)
def test_reserved_property_keys_are_rejected(key: str) -> None:
    error = _rejected(lambda: _polaris(properties={key: "x", "s3.endpoint": "http://s3"}))

    assert f"property {key!r} is set through its own field" in str(error)
    assert error.subject == key


def test_extra_properties_pass_through() -> None:
    config = _polaris(properties={"s3.endpoint": "http://127.0.0.1:8333", "header.X-Trace": "1"})

    assert config.properties == {"s3.endpoint": "http://127.0.0.1:8333", "header.X-Trace": "1"}


# -- secrets are never shown ------------------------------------------------------------


def test_secret_shows_only_a_mask() -> None:
    secret = Secret(SECRET)

    assert SECRET not in repr(secret)
    assert SECRET not in str(secret)
    assert str(secret) == MASK
    assert secret.reveal() == SECRET


@pytest.mark.parametrize("render", [repr, str])
def test_a_client_credentials_config_never_shows_its_secret(
    render: Callable[[object], str],
) -> None:
    text = render(_polaris())

    assert SECRET not in text
    assert "floe-client" in text
    assert MASK in text


@pytest.mark.parametrize("render", [repr, str])
def test_a_token_config_never_shows_its_token(render: Callable[[object], str]) -> None:
    text = render(PolarisCatalogConfig(uri=URI, warehouse="analytics", token=TOKEN))

    assert TOKEN not in text
    assert MASK in text


def test_unstructured_config_masks_the_client_secret() -> None:
    data = unstructure_config(_polaris())

    assert data["client_secret"] == MASK
    assert data["client_id"] == "floe-client"
    assert data["token"] is None
    assert data["uri"] == URI
    assert data["retry"]["max_attempts"] == 3
    assert SECRET not in repr(data)
    assert SECRET not in str(data)


def test_unstructured_config_masks_the_token() -> None:
    data = unstructure_config(PolarisCatalogConfig(uri=URI, warehouse="analytics", token=TOKEN))

    assert data["token"] == MASK
    assert data["client_secret"] is None
    assert TOKEN not in repr(data)
    assert TOKEN not in str(data)


# -- load_catalog_config ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["polaris", "rest", "POLARIS"])
def test_load_polaris_config(kind: str) -> None:
    config = load_catalog_config(
        _polaris_mapping(
            type=kind,
            token_refresh_enabled=False,
            retry={"max_attempts": 5, "initial_wait_s": 0.5, "max_wait_s": 4},
            properties={"s3.endpoint": "http://127.0.0.1:8333"},
        )
    )

    assert isinstance(config, PolarisCatalogConfig)
    assert config.uri == URI
    assert config.warehouse == "analytics"
    assert config.client_secret is not None
    assert config.client_secret.reveal() == SECRET
    assert config.token_refresh_enabled is False
    assert config.retry == RetryConfig(max_attempts=5, initial_wait_s=0.5, max_wait_s=4.0)
    assert config.properties == {"s3.endpoint": "http://127.0.0.1:8333"}


def test_load_token_config() -> None:
    config = load_catalog_config(
        {"type": "polaris", "uri": URI, "warehouse": "analytics", "token": TOKEN}
    )

    assert isinstance(config, PolarisCatalogConfig)
    assert config.token is not None
    assert config.token.reveal() == TOKEN


def test_load_local_config() -> None:
    config = load_catalog_config(
        {"type": "local", "warehouse_path": "/data/warehouse", "catalog_name": "dev"}
    )

    assert config == LocalCatalogConfig(warehouse_path="/data/warehouse", catalog_name="dev")


def test_load_without_a_type_gives_the_local_catalog() -> None:
    assert load_catalog_config({}) == LocalCatalogConfig()


def test_load_memory_config() -> None:
    assert load_catalog_config({"type": "memory"}) == MemoryCatalogConfig()


def test_load_rejects_an_unknown_type() -> None:
    error = _rejected(lambda: load_catalog_config(_polaris_mapping(type="hive")))

    assert "unknown catalog type 'hive'" in str(error)
    assert "polaris, rest, local, memory" in str(error)
    assert error.subject == "type"
    assert not _leaks(error, SECRET)


@pytest.mark.parametrize(
    ("mapping", "unknown"),
    [
        (_polaris_mapping(client_secrett=SECRET), "['client_secrett']"),
        (_polaris_mapping(bogus="1"), "['bogus']"),
        (
            {"type": "local", "warehouse": "/w", "client_secret": SECRET},
            "['client_secret', 'warehouse']",
        ),
        ({"type": "memory", "uri": URI, "token": TOKEN}, "['token', 'uri']"),
    ],
)
def test_load_rejects_unknown_keys_without_showing_secrets(
    mapping: dict[str, Any], unknown: str
) -> None:
    error = _rejected(lambda: load_catalog_config(mapping))

    assert f"unknown keys {unknown}" in str(error)
    assert not _leaks(error, SECRET, TOKEN)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"retry": {"max_attempts": 0}}, "max_attempts must be between 1 and 10, got 0"),
        ({"retry": {"max_attempts": "many"}}, "max_attempts"),
        ({"retry": {"initial_wait_s": 9, "max_wait_s": 3}}, "must be >= initial_wait_s"),
        ({"uri": "ftp://polaris"}, "uri must start with http:// or https://"),
        ({"token": TOKEN}, "not both"),
        ({"client_id": None}, "must be given together"),
        ({"properties": {"token": TOKEN}}, "property 'token' is set through its own field"),
    ],
)
def test_load_rejects_invalid_values_without_showing_secrets(
    overrides: dict[str, Any], fragment: str
) -> None:
    error = _rejected(lambda: load_catalog_config(_polaris_mapping(**overrides)))

    assert fragment in str(error)
    assert not _leaks(error, SECRET, TOKEN)


# -- catalog_config_from_env ------------------------------------------------------------


def test_env_builds_a_polaris_config_with_retry_and_properties() -> None:
    environ = {
        "FLOE_CATALOG_TYPE": "polaris",
        "FLOE_CATALOG_URI": URI,
        "FLOE_CATALOG_WAREHOUSE": "analytics",
        "FLOE_CATALOG_CLIENT_ID": "floe-client",
        "FLOE_CATALOG_CLIENT_SECRET": SECRET,
        "FLOE_CATALOG_SCOPE": "PRINCIPAL_ROLE:etl",
        "FLOE_CATALOG_TOKEN_REFRESH_ENABLED": "false",
        "FLOE_CATALOG_RETRY_MAX_ATTEMPTS": "7",
        "FLOE_CATALOG_RETRY_INITIAL_WAIT_S": "0.25",
        "FLOE_CATALOG_RETRY_CIRCUIT_BREAKER_THRESHOLD": "0",
        "FLOE_CATALOG_PROP_S3__ENDPOINT": "http://127.0.0.1:8333",
        "FLOE_CATALOG_PROP_S3__PATH-STYLE-ACCESS": "true",
        "HOME": "/home/floe",
        "OTHER_FLOE_CATALOG_URI": "ignored",
    }

    config = catalog_config_from_env(environ)

    assert isinstance(config, PolarisCatalogConfig)
    assert config.uri == URI
    assert config.warehouse == "analytics"
    assert config.client_id == "floe-client"
    assert config.client_secret is not None
    assert config.client_secret.reveal() == SECRET
    assert config.scope == "PRINCIPAL_ROLE:etl"
    assert config.token_refresh_enabled is False
    assert config.retry == RetryConfig(
        max_attempts=7, initial_wait_s=0.25, circuit_breaker_threshold=0
    )
    assert config.properties == {
        "s3.endpoint": "http://127.0.0.1:8333",
        "s3.path-style-access": "true",
    }


@pytest.mark.parametrize(
    ("text", "enabled"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
    ],
)
def test_env_reads_token_refresh_flag(text: str, enabled: bool) -> None:
    environ = {
        "FLOE_CATALOG_TYPE": "rest",
        "FLOE_CATALOG_URI": URI,
        "FLOE_CATALOG_WAREHOUSE": "analytics",
        "FLOE_CATALOG_TOKEN": TOKEN,
        "FLOE_CATALOG_TOKEN_REFRESH_ENABLED": text,
    }

    config = catalog_config_from_env(environ)

    assert isinstance(config, PolarisCatalogConfig)
    assert config.token_refresh_enabled is enabled


def test_env_without_settings_gives_the_local_catalog() -> None:
    assert catalog_config_from_env({"PATH": "/usr/bin"}) == LocalCatalogConfig()


def test_env_with_another_prefix() -> None:
    environ = {"MYAPP_TYPE": "local", "MYAPP_WAREHOUSE_PATH": "/srv/wh", "FLOE_CATALOG_TYPE": "x"}

    config = catalog_config_from_env(environ, prefix="MYAPP_")

    assert config == LocalCatalogConfig(warehouse_path="/srv/wh")


def test_env_memory_catalog() -> None:
    assert catalog_config_from_env({"FLOE_CATALOG_TYPE": "memory"}) == MemoryCatalogConfig()


def test_env_rejects_unknown_settings_without_showing_secrets() -> None:
    environ = {
        "FLOE_CATALOG_TYPE": "polaris",
        "FLOE_CATALOG_URI": URI,
        "FLOE_CATALOG_WAREHOUSE": "analytics",
        "FLOE_CATALOG_CLIENT_ID": "floe-client",
        "FLOE_CATALOG_CLIENT_SECRET": SECRET,
        "FLOE_CATALOG_CLIENT_SECRETT": SECRET,
    }

    error = _rejected(lambda: catalog_config_from_env(environ))

    assert "unknown keys ['client_secrett']" in str(error)
    assert not _leaks(error, SECRET)


def test_env_rejects_a_bad_retry_value() -> None:
    environ = {
        "FLOE_CATALOG_TYPE": "polaris",
        "FLOE_CATALOG_URI": URI,
        "FLOE_CATALOG_WAREHOUSE": "analytics",
        "FLOE_CATALOG_TOKEN": TOKEN,
        "FLOE_CATALOG_RETRY_MAX_ATTEMPTS": "11",
    }

    error = _rejected(lambda: catalog_config_from_env(environ))

    assert "max_attempts must be between 1 and 10, got 11" in str(error)
    assert not _leaks(error, TOKEN)


def test_env_rejects_a_reserved_property_without_showing_it() -> None:
    environ = {
        "FLOE_CATALOG_TYPE": "polaris",
        "FLOE_CATALOG_URI": URI,
        "FLOE_CATALOG_WAREHOUSE": "analytics",
        "FLOE_CATALOG_CLIENT_ID": "floe-client",
        "FLOE_CATALOG_CLIENT_SECRET": SECRET,
        "FLOE_CATALOG_PROP_TOKEN": TOKEN,
    }

    error = _rejected(lambda: catalog_config_from_env(environ))

    assert "property 'token'" in str(error)
    assert not _leaks(error, SECRET, TOKEN)


@pytest.mark.parametrize("value", [0, -1, 0.05, 3601, "5", True])
def test_request_timeout_out_of_range_is_rejected(value: object) -> None:
    error = _rejected(
        lambda: PolarisCatalogConfig(
            uri="http://x",
            warehouse="w",
            token="t",
            request_timeout_s=value,  # type: ignore[arg-type]
        )
    )
    assert error.subject == "request_timeout_s"


def test_request_timeout_defaults_to_a_minute() -> None:
    assert PolarisCatalogConfig(uri="http://x", warehouse="w", token="t").request_timeout_s == 60.0


@pytest.mark.parametrize(
    ("variable", "key"),
    [
        ("FLOE_CATALOG_PROP_S3__ACCESS_KEY_ID", "s3.access-key-id"),
        ("FLOE_CATALOG_PROP_S3__PATH_STYLE_ACCESS", "s3.path-style-access"),
        (
            "FLOE_CATALOG_PROP_HEADER__X_ICEBERG_ACCESS_DELEGATION",
            "header.x-iceberg-access-delegation",
        ),
        ("FLOE_CATALOG_PROP_ADLS__SAS_TOKEN__MYACCOUNT", "adls.sas-token.myaccount"),
    ],
)
def test_property_variables_are_named_as_pyiceberg_names_them(variable: str, key: str) -> None:
    config = catalog_config_from_env(
        {
            "FLOE_CATALOG_TYPE": "polaris",
            "FLOE_CATALOG_URI": "https://polaris.example/api/catalog",
            "FLOE_CATALOG_WAREHOUSE": "lake",
            "FLOE_CATALOG_TOKEN": "t0ken",
            variable: "value",
        }
    )

    assert isinstance(config, PolarisCatalogConfig)
    assert dict(config.properties) == {key: "value"}
