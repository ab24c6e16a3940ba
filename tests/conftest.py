"""Fixtures shared by every test package: the real REST catalog server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import floe
from tests.integration.proxy import CatalogProxy, running_proxy
from tests.integration.seaweed import SeaweedServer, start_seaweed


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """One SeaweedFS ``weed mini`` (Iceberg REST + OAuth2 + S3) per test process."""
    with start_seaweed(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


def rest_config(
    server: SeaweedServer, *, retry: floe.RetryConfig | None = None, **overrides: object
) -> floe.PolarisCatalogConfig:
    """A floe config for the test server, as a user would write it."""
    values: dict[str, object] = {
        "uri": server.rest_uri,
        "warehouse": server.warehouse,
        "client_id": server.access_key,
        "client_secret": server.secret_key,
        "scope": "PRINCIPAL_ROLE:ALL",
        "retry": retry
        or floe.RetryConfig(max_attempts=3, initial_wait_s=0.05, max_wait_s=0.2, jitter_s=0.05),
        "properties": {
            "s3.endpoint": server.s3_endpoint,
            "s3.access-key-id": server.access_key,
            "s3.secret-access-key": server.secret_key,
            "s3.region": server.region,
        },
    }
    values.update(overrides)
    return floe.PolarisCatalogConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def rest_lake(seaweed: SeaweedServer) -> floe.Floe:
    """floe over the real REST catalog server."""
    return floe.Floe.from_config(rest_config(seaweed))


@pytest.fixture
def local_lake(tmp_path: Path) -> floe.Floe:
    """floe over the embedded local catalog in a fresh directory."""
    return floe.Floe.from_config(floe.LocalCatalogConfig(str(tmp_path / "warehouse")))


_EXPORTER = InMemorySpanExporter()
trace.set_tracer_provider(TracerProvider())
trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(_EXPORTER))  # type: ignore[attr-defined]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The OpenTelemetry spans finished during the test."""
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


@pytest.fixture
def proxy(seaweed: SeaweedServer) -> Iterator[CatalogProxy]:
    """A recording, fault-injecting proxy in front of the REST catalog."""
    with running_proxy(seaweed.rest_uri) as running:
        yield running


@pytest.fixture(autouse=True)
def _structlog_as_found() -> Iterator[None]:
    """Each test starts with structlog as an application that never configured it.

    Configuring structlog (``capture_logs`` included) marks it configured for
    good, and floe then sends its events through structlog instead of the
    stdlib logger ``floe``: later tests would no longer see floe's default.
    """
    configured = structlog.is_configured()
    yield
    if not configured and structlog.is_configured():
        structlog.reset_defaults()
