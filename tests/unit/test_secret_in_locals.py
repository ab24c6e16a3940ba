"""A secret in a frame's locals stays masked in tracebacks rendered with locals."""

from __future__ import annotations

import secrets
import traceback

import structlog

import floe

MARKER = "mark-" + secrets.token_hex(10)


def _raise_with(config: floe.PolarisCatalogConfig) -> None:
    raise RuntimeError("boom")  # ``config`` is a local of this frame


def test_a_config_in_the_locals_of_a_structlog_traceback_shows_no_secret() -> None:
    configs = [
        floe.PolarisCatalogConfig(
            uri="https://polaris.example/api/catalog",
            warehouse="lake",
            client_id="etl",
            client_secret=MARKER,
        ),
        floe.PolarisCatalogConfig(
            uri="https://polaris.example/api/catalog", warehouse="lake", token=MARKER
        ),
    ]
    for config in configs:
        try:
            _raise_with(config)
        except RuntimeError as exc:
            # What structlog's dict_tracebacks and console renderer show.
            structured = structlog.tracebacks.extract(
                type(exc), exc, exc.__traceback__, show_locals=True
            )
            plain = traceback.TracebackException.from_exception(exc, capture_locals=True)
        shown = str(structured) + "".join(plain.format())
        assert "config" in shown
        assert MARKER not in shown
