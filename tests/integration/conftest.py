"""Fixtures of the integration suites: the Polaris-conformance proxy and configs for it."""

from __future__ import annotations

import contextlib
import shutil
import subprocess  # nosec B404 - the openssl command, fixed arguments
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import floe
from floe.adapters.iceberg import writes as iceberg_writes
from floe.adapters.iceberg.guard import commit_outcome_guarded
from tests.conftest import rest_config
from tests.integration.polaris_proxy import PolarisProxy, running_polaris
from tests.integration.seaweed import SeaweedServer

#: Fast retries for tests: 3 attempts, waits of a few tens of milliseconds.
FAST = floe.RetryConfig(max_attempts=3, initial_wait_s=0.02, max_wait_s=0.1, jitter_s=0.01)

PolarisFactory = Callable[..., PolarisProxy]


def polaris_config(
    server: SeaweedServer, proxy: PolarisProxy, **overrides: Any
) -> floe.PolarisCatalogConfig:
    """A floe config for the Polaris proxy, as a Polaris user writes it.

    The ``uri`` is ``<proxy>/api/catalog`` and the token endpoint floe's
    default, ``<uri>/v1/oauth/tokens``; S3 goes straight to SeaweedFS.
    """
    values: dict[str, Any] = {
        "uri": proxy.catalog_uri,
        "client_id": proxy.client_id,
        "client_secret": proxy.client_secret,
        "retry": FAST,
    }
    values.update(overrides)
    return rest_config(server, **values)


@pytest.fixture
def polaris_factory(seaweed: SeaweedServer) -> Iterator[PolarisFactory]:
    """Start Polaris proxies in front of the session's SeaweedFS; all stopped after the test."""
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> PolarisProxy:
            return stack.enter_context(
                running_polaris(
                    seaweed.rest_uri,
                    upstream_client_id=seaweed.access_key,
                    upstream_client_secret=seaweed.secret_key,
                    **options,
                )
            )

        yield start


@pytest.fixture
def polaris(polaris_factory: PolarisFactory) -> PolarisProxy:
    """A Polaris proxy with 2 s tokens."""
    return polaris_factory(token_lifetime_s=2.0)


def unique(prefix: str) -> str:
    """A name no other test (or xdist worker sharing the server) uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (made with the openssl command)."""
    openssl = shutil.which("openssl")
    assert openssl is not None, "the TLS tests need the openssl command"
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(  # nosec B603 - fixed arguments
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


#: A write another client runs just before floe's next commit is sent.
Race = Callable[[], object]


@pytest.fixture(params=["local", "rest"])
def clients(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[floe.Floe, floe.Floe]:
    """Two independent clients of one catalog: floe under test and the other writer."""
    config: floe.LocalCatalogConfig | floe.PolarisCatalogConfig
    if request.param == "local":
        config = floe.LocalCatalogConfig(str(tmp_path / "warehouse"))
    else:
        seaweed: SeaweedServer = request.getfixturevalue("seaweed")
        config = rest_config(seaweed)
    return floe.Floe.from_config(config), floe.Floe.from_config(config)


@pytest.fixture
def race(monkeypatch: pytest.MonkeyPatch) -> list[Race]:
    """Writes to run once, just before floe's next commit is sent."""
    pending: list[Race] = []
    real = commit_outcome_guarded

    @contextlib.contextmanager
    def after_the_others(table: str) -> Iterator[None]:
        while pending:
            pending.pop(0)()
        with real(table):
            yield

    monkeypatch.setattr(iceberg_writes, "commit_outcome_guarded", after_the_others)
    return pending
