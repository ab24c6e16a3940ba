"""No client secret, S3 key or bearer token in anything floe lets out, and TLS verified by default.

Two scenarios run against the Polaris proxy (whose client secret differs from
the S3 key, so each can be traced): authentication failures of every kind,
and a full successful session with tokens revoked every second, retries and
an unknown commit outcome; a third gives every secret a user can set (client
secret, token, each credential property, a password in either URI) its own
marker and runs a session with faults, with floe logging through structlog
and through stdlib ``logging``. Everything they let out is captured — structlog
rendered as JSON (with ``dict_tracebacks``) and as console text (rich
tracebacks with locals), stdlib logging at DEBUG (PyIceberg, urllib3),
OpenTelemetry spans, exception messages, notes, reprs and formatted
tracebacks, and the caller logging each error with ``log.exception`` — then
scanned for every secret and every token the proxy issued.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import secrets
import ssl
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import structlog
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import floe
from floe.adapters.iceberg import IcebergBackend
from floe.adapters.iceberg.auth import FloeAuthManager
from floe.api import build_container
from floe.domain.config import unstructure_config
from tests.integration.conftest import PolarisFactory, polaris_config, unique
from tests.integration.polaris_proxy import PolarisProxy
from tests.integration.proxy import Fault
from tests.integration.seaweed import SeaweedServer
from tests.unit.test_config_masking import SECRET_BEARING

CLIENT_ID = "floe-client"
CLIENT_SECRET = "floe-secret-" + secrets.token_hex(12)
SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])


class Captured:
    """Everything rendered by structlog (JSON and console) during a scenario."""

    def __init__(self) -> None:
        self.json = io.StringIO()
        self.console = io.StringIO()
        self._json = structlog.processors.JSONRenderer()
        self._dicts = structlog.processors.dict_tracebacks
        self._console = structlog.dev.ConsoleRenderer(colors=False)

    def tee(self, logger: Any, name: str, event: dict[str, Any]) -> str:
        self.console.write(str(self._console(logger, name, dict(event))) + "\n")
        self.json.write(
            str(self._json(logger, name, self._dicts(logger, name, dict(event)))) + "\n"
        )
        raise structlog.DropEvent


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> Iterator[Captured]:
    """Render every structlog event both ways; stdlib logging at DEBUG via caplog."""
    caplog.set_level(logging.DEBUG)
    saved = structlog.get_config()
    capture = Captured()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            capture.tee,
        ],
        cache_logger_on_first_use=False,
    )
    try:
        yield capture
    finally:
        structlog.configure(**saved)


def caller_logs(action: Callable[[], object]) -> BaseException:
    """Run ``action``, expect a floe error and log it as an application would."""
    try:
        action()
    except floe.FloeStorageError as exc:
        structlog.get_logger("app").exception("storage call failed")
        logging.getLogger("app").exception("storage call failed")
        return exc
    raise AssertionError("expected a floe error")


def exception_text(exc: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(exc))]
    link: BaseException | None = exc
    while link is not None:
        texts += [str(link), repr(link), *getattr(link, "__notes__", [])]
        link = link.__cause__ or link.__context__
    return texts


def span_text(spans: InMemorySpanExporter) -> list[str]:
    out = []
    for span in spans.get_finished_spans():
        out.append(span.name)
        out.append(json.dumps(dict(span.attributes or {}), default=str))
        out.append(str(span.status.description))
        out += [json.dumps(dict(e.attributes or {}), default=str) + e.name for e in span.events]
    return out


def secrets_of(seaweed: SeaweedServer, proxy: PolarisProxy, *extra: str) -> list[str]:
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    found = [CLIENT_SECRET, seaweed.secret_key, basic, *extra, *proxy.issued_tokens]
    assert all(len(s) >= 16 for s in found)
    return found


def assert_nothing_leaks(haystack: list[str], needles: list[str]) -> None:
    text = "\n".join(haystack)
    leaked = [n[:6] + "…" for n in needles if n in text]
    assert leaked == []


def lake_and_backend(config: floe.PolarisCatalogConfig) -> tuple[floe.Floe, IcebergBackend]:
    container = build_container(config)
    backend: IcebergBackend = container.iceberg_backend()
    return floe.Floe.from_container(container), backend


def test_authentication_failures_leak_no_secret(
    seaweed: SeaweedServer,
    polaris_factory: PolarisFactory,
    captured: Captured,
    caplog: pytest.LogCaptureFixture,
    spans: InMemorySpanExporter,
) -> None:
    proxy = polaris_factory(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    wrong_secret = "WRONG-" + CLIENT_SECRET
    static_token = "static-" + secrets.token_hex(16)
    good = floe.Floe.from_config(polaris_config(seaweed, proxy))
    before = good.namespaces.list()

    configs = [
        polaris_config(seaweed, proxy, client_secret=wrong_secret),
        polaris_config(seaweed, proxy, scope="catalog"),
        polaris_config(seaweed, proxy, client_id=None, client_secret=None, token=static_token),
        polaris_config(seaweed, proxy, client_id="someone-else"),
    ]
    errors = []
    reprs: list[str] = []
    for config in configs:
        lake, backend = lake_and_backend(config)
        errors.append(caller_logs(lambda lake=lake: lake.namespaces.create(unique("nope"))))
        reprs += [repr(config), str(config), repr(unstructure_config(config)), repr(lake)]
        reprs += [repr(lake.catalog), repr(backend), repr(backend.tokens)]
    proxy.inject(Fault(reset=True, path_contains="/oauth/tokens", times=3))
    unreachable = floe.Floe.from_config(polaris_config(seaweed, proxy))
    errors.append(caller_logs(lambda: unreachable.namespaces.list()))

    assert [type(e) for e in errors] == [floe.CatalogAuthenticationError] * 4 + [
        floe.CatalogConnectionError
    ]
    assert good.namespaces.list() == before  # nothing was created
    assert proxy.stats.token_refusals == {"unauthorized_client": 2, "invalid_scope": 1}
    assert proxy.stats.unauthorized >= 1  # the static token was refused
    assert "floe.operation" in captured.json.getvalue()
    assert "Traceback" in captured.console.getvalue() or "Error" in captured.console.getvalue()
    haystack = [captured.json.getvalue(), captured.console.getvalue(), caplog.text, *reprs]
    haystack += span_text(spans) + [t for e in errors for t in exception_text(e)]
    assert_nothing_leaks(haystack, secrets_of(seaweed, proxy, wrong_secret, static_token))


def test_a_successful_session_with_faults_leaks_no_secret(
    seaweed: SeaweedServer,
    polaris_factory: PolarisFactory,
    captured: Captured,
    caplog: pytest.LogCaptureFixture,
    spans: InMemorySpanExporter,
) -> None:
    # Tokens are revoked silently (the server announced an hour) at chosen
    # points below, so floe goes through its 401 refresh path there. They do
    # not expire by themselves: on a slow machine an expiry would fall
    # anywhere, e.g. on the request an after-forward fault is meant for.
    proxy = polaris_factory(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_lifetime_s=600.0,
        announced_expires_in=3600,
    )
    config = polaris_config(seaweed, proxy)
    lake, backend = lake_and_backend(config)
    namespace = unique("secret")
    table = f"{namespace}.t"
    lake.namespaces.create(namespace, properties={"owner": "data-eng"})
    lake.tables.create(table, SCHEMA)
    lake.writes.append(table, pa.table({"id": [1, 2], "v": ["a", "b"]}, schema=SCHEMA))
    proxy.revoke_tokens()
    proxy.inject(Fault(status=503, method="GET", path_contains="/tables/t"))
    proxy.inject(Fault(reset=True, method="GET", path_contains="/namespaces/" + namespace))
    # The token also runs out in the middle of the upsert, at its commit, whatever the
    # machine's speed: the refused commit request goes again with a new token.
    proxy.inject(Fault(revoke_tokens=True, method="POST", path_contains="/tables/t"))
    lake.writes.upsert(
        table, pa.table({"id": [2, 3], "v": ["B", "c"]}, schema=SCHEMA), join_columns=["id"]
    )
    proxy.inject(Fault(status=500, method="POST", path_contains="/tables/t", after_forward=True))
    unknown = caller_logs(
        lambda: lake.writes.append(table, pa.table({"id": [4], "v": ["d"]}, schema=SCHEMA))
    )
    proxy.revoke_tokens()
    streamed = pa.Table.from_batches(list(lake.reads.batches(table)))
    lake.catalog.reconnect()
    result = lake.maintenance.expire_snapshots(table, retain_last=1)
    missing = caller_logs(lambda: lake.reads.scan(f"{namespace}.absent"))
    proxy.inject(Fault(reset=True, method="GET", path_contains="/tables/t", times=3))
    unreachable = caller_logs(lambda: lake.reads.scan(table))

    assert isinstance(unknown, floe.CommitStateUnknownError)
    assert isinstance(missing, floe.TableNotFoundError)
    assert isinstance(unreachable, floe.CatalogConnectionError)
    final = lake.reads.scan(table).sort_by("id")
    assert final.to_pylist() == [
        {"id": 1, "v": "a"},
        {"id": 2, "v": "B"},
        {"id": 3, "v": "c"},
        {"id": 4, "v": "d"},  # the commit with the unknown outcome did land, once
    ]
    assert streamed.num_rows == 4
    assert len(result.expired_snapshot_ids) >= 1
    assert proxy.stats.unauthorized >= 1
    assert len(proxy.issued_tokens) >= 3

    provider = backend.tokens
    assert provider is not None
    reprs = [repr(config), str(config), repr(unstructure_config(config)), repr(lake)]
    reprs += [repr(lake.catalog), repr(backend), repr(provider), repr(FloeAuthManager(provider))]
    reprs += [repr(backend.guard.retry), repr(backend.catalog)]
    events = captured.json.getvalue()
    assert "floe.token_refresh" in events
    assert "floe.retry" in events
    assert len(spans.get_finished_spans()) >= 10
    haystack = [events, captured.console.getvalue(), caplog.text, *reprs]
    for error in (unknown, missing, unreachable):
        haystack += exception_text(error)
    haystack += span_text(spans)
    assert_nothing_leaks(haystack, secrets_of(seaweed, proxy))


def test_tls_is_verified_by_default_and_a_ca_bundle_is_honoured(
    seaweed: SeaweedServer,
    polaris_factory: PolarisFactory,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    proxy = polaris_factory(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, tls=context)
    assert proxy.catalog_uri.startswith("https://")

    unverified = floe.Floe.from_config(polaris_config(seaweed, proxy))
    with pytest.raises(floe.CatalogConnectionError) as info:
        unverified.namespaces.create(unique("tls_refused"))
    assert "SSLError" in str(info.value)
    assert proxy.seen() == []  # not even the token request: the secret never left

    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`
    # (psf/requests#3829), and PyIceberg sets `ssl.cabundle` on its session only: with
    # either variable set, the bundle is ignored for catalog calls (see docs/reliability.md).
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    trusting = floe.Floe.from_config(
        polaris_config(seaweed, proxy, properties={**_s3(seaweed), "ssl.cabundle": str(cert)})
    )
    namespace = unique("tls")
    trusting.namespaces.create(namespace)
    trusting.tables.create(f"{namespace}.t", SCHEMA)
    trusting.writes.append(f"{namespace}.t", pa.table({"id": [7], "v": ["x"]}, schema=SCHEMA))
    assert trusting.reads.scan(f"{namespace}.t").to_pylist() == [{"id": 7, "v": "x"}]
    assert all(e.status != 401 for e in proxy.seen())
    assert not any(
        ns == (namespace.replace("tls", "tls_refused"),) for ns in trusting.namespaces.list()
    )


def _s3(seaweed: SeaweedServer) -> dict[str, str]:
    return {
        "s3.endpoint": seaweed.s3_endpoint,
        "s3.access-key-id": seaweed.access_key,
        "s3.secret-access-key": seaweed.secret_key,
        "s3.region": seaweed.region,
    }


def _marker() -> str:
    return f"mark-{secrets.token_hex(10)}"


@contextlib.contextmanager
def floe_logging_through(path: str, captured: Captured) -> Iterator[None]:
    """floe's events through the app's structlog pipeline, or stdlib ``logging`` (its default)."""
    if path == "structlog":
        yield  # ``captured`` has configured structlog
        return
    saved, was_configured = structlog.get_config(), structlog.is_configured()
    structlog.reset_defaults()
    try:
        assert not structlog.is_configured()
        yield
    finally:
        if was_configured:
            structlog.configure(**saved)


def with_locals(exc: BaseException) -> str:
    """The traceback of ``exc`` and its causes, with every frame's locals."""
    return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())


@pytest.mark.filterwarnings("ignore::floe.UnknownPropertyWarning")  # an unknown key on purpose
@pytest.mark.parametrize("log_path", ["structlog", "stdlib"])
def test_a_marker_in_every_secret_a_user_can_set_never_leaks(
    seaweed: SeaweedServer,
    polaris_factory: PolarisFactory,
    captured: Captured,
    caplog: pytest.LogCaptureFixture,
    spans: InMemorySpanExporter,
    log_path: str,
) -> None:
    marks = {
        place: _marker() for place in ["client_secret", "token", "uri", "oauth2", *SECRET_BEARING]
    }
    # S3 needs the real keys to work: the server's own keys are the markers there.
    marks |= {"s3.access-key-id": seaweed.access_key, "s3.secret-access-key": seaweed.secret_key}
    proxy = polaris_factory(client_id=CLIENT_ID, client_secret=marks["client_secret"])
    scheme, rest = proxy.catalog_uri.split("://", 1)
    # S3 takes any session token for a temporary credential it never issued:
    # the session tokens ride on the (refused) token config instead.
    session_tokens = {"s3.session-token", "client.session-token"}
    properties = {key: marks[key] for key in SECRET_BEARING if key not in session_tokens}
    properties |= {"s3.endpoint": seaweed.s3_endpoint, "s3.region": seaweed.region}
    config = polaris_config(
        seaweed,
        proxy,
        client_secret=marks["client_secret"],
        uri=f"{scheme}://floe-user:{marks['uri']}@{rest}",
        oauth2_server_uri=f"{scheme}://floe-user:{marks['oauth2']}@{rest}/v1/oauth/tokens",
        properties=properties,
    )
    token_config = polaris_config(
        seaweed,
        proxy,
        client_id=None,
        client_secret=None,
        token=marks["token"],
        properties={key: marks[key] for key in session_tokens},
    )
    errors: list[BaseException] = []
    with floe_logging_through(log_path, captured):
        lake, backend = lake_and_backend(config)
        namespace = unique("marked")
        table = f"{namespace}.t"
        lake.namespaces.create(namespace)
        lake.tables.create(table, SCHEMA)
        lake.writes.append(table, pa.table({"id": [1], "v": ["a"]}, schema=SCHEMA))
        proxy.inject(Fault(status=503, method="GET", path_contains="/tables/t"))
        retried = lake.reads.scan(table)  # the 503 is retried
        proxy.inject(
            Fault(status=500, method="POST", path_contains="/tables/t", after_forward=True)
        )
        second = pa.table({"id": [2], "v": ["b"]}, schema=SCHEMA)
        errors.append(caller_logs(lambda: lake.writes.append(table, second)))
        errors.append(caller_logs(lambda: lake.reads.scan(f"{namespace}.absent")))
        proxy.inject(Fault(reset=True, method="GET", path_contains="/tables/t", times=3))
        errors.append(caller_logs(lambda: lake.reads.scan(table)))
        proxy.inject(Fault(reset=True, path_contains="/oauth/tokens", times=3))
        errors.append(caller_logs(lambda: floe.Floe.from_config(config).namespaces.list()))
        token_lake = floe.Floe.from_config(token_config)
        errors.append(caller_logs(lambda: token_lake.namespaces.create(unique("refused"))))
        final = lake.reads.scan(table).sort_by("id")

    assert retried.num_rows == 1
    assert final.column("id").to_pylist() == [1, 2]  # the unknown outcome did land
    assert [type(e) for e in errors] == [
        floe.CommitStateUnknownError,
        floe.TableNotFoundError,
        floe.CatalogConnectionError,
        floe.CatalogConnectionError,
        floe.CatalogAuthenticationError,
    ]
    logged = caplog.text if log_path == "stdlib" else captured.json.getvalue()
    assert "floe.retry" in logged  # the path under test did carry floe's events
    reprs = [repr(config), str(config), repr(unstructure_config(config)), repr(lake)]
    reprs += [repr(token_config), repr(token_lake), repr(backend), repr(backend.tokens)]
    haystack = [captured.json.getvalue(), captured.console.getvalue(), caplog.text, *reprs]
    haystack += span_text(spans) + [with_locals(e) for e in errors]
    haystack += [t for e in errors for t in exception_text(e)]
    text = "\n".join(haystack)
    leaked = sorted(place for place, mark in marks.items() if mark in text)
    assert leaked == []
    assert_nothing_leaks(haystack, proxy.issued_tokens)
