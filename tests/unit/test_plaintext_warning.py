"""Credentials sent over plain HTTP to another machine are warned about, once, when opened."""

from __future__ import annotations

import logging

import pytest

import floe

SECRET = "s3cr3t-value"


def open_lake(**values: object) -> floe.Floe:
    config: dict[str, object] = {
        "uri": "http://catalog.example.invalid/api/catalog",
        "warehouse": "wh",
        "client_id": "floe",
        "client_secret": SECRET,
    }
    config.update(values)
    # Opening is lazy: nothing is sent, so no server is needed.
    return floe.Floe.from_config(floe.PolarisCatalogConfig(**config))  # type: ignore[arg-type]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "floe.transport" and r.levelno == logging.WARNING
    ]


def test_a_client_secret_over_plain_http_to_another_host_is_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="floe"):
        open_lake()
    [message] = warnings(caplog)
    assert "the client secret and tokens" in message
    assert "http://catalog.example.invalid/api/catalog" in message
    assert "http://catalog.example.invalid/api/catalog/v1/oauth/tokens" in message
    assert SECRET not in message


def test_a_static_token_over_plain_http_is_warned_about_with_the_uri_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="floe"):
        open_lake(
            uri="http://user:pa55word@10.1.2.3:8181/api/catalog",
            client_id=None,
            client_secret=None,
            token="t0ken-value",
        )
    [message] = warnings(caplog)
    assert "a bearer token" in message
    assert "10.1.2.3:8181" in message
    assert "pa55word" not in message
    assert "t0ken-value" not in message


@pytest.mark.parametrize(
    "uri",
    [
        "https://catalog.example.invalid/api/catalog",
        "http://127.0.0.1:8181/api/catalog",
        "http://localhost:8181/api/catalog",
        "http://[::1]:8181/api/catalog",
    ],
)
def test_https_and_loopback_are_not_warned_about(
    caplog: pytest.LogCaptureFixture, uri: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="floe"):
        open_lake(uri=uri)
    assert warnings(caplog) == []


def test_a_plain_http_token_endpoint_behind_an_https_catalog_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="floe"):
        open_lake(
            uri="https://catalog.example.invalid/api/catalog",
            oauth2_server_uri="http://idp.example.invalid/token",
        )
    [message] = warnings(caplog)
    assert "http://idp.example.invalid/token" in message
    assert "catalog.example.invalid" not in message  # the catalog itself is https
