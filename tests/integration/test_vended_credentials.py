"""Vended storage credentials: the only storage access, renewed before they expire.

The Polaris proxy vends credentials for an S3 gate in front of SeaweedFS
(:mod:`tests.integration.s3_gate`): the gate accepts a request only when it
is signed with a vended key pair whose lifetime is not over, so a client
that used a stale key, the catalog-level keys or no keys at all is refused.
The floe configs here hold no storage keys at all.

Nothing waits for a machine to be fast: a test that needs credentials to
expire either ends their life at the gate on the spot
(:meth:`S3Gate.expire_all`) or gives them a short lifetime and then waits,
in a bounded loop, until that lifetime is over before the next step.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.io import load_file_io

import floe
from floe.adapters.iceberg import IcebergBackend
from floe.api import build_container
from tests.integration.conftest import FAST, PolarisFactory, unique
from tests.integration.polaris_proxy import PREFIX, CredentialVending, PolarisProxy
from tests.integration.s3_gate import S3Gate, VendedCredentials, running_gate
from tests.integration.seaweed import SeaweedServer

SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])
#: A bound on waiting for a lifetime to pass (never a pace: the loop ends when it has).
_WAIT_BOUND_S = 60.0


def rows(start: int, count: int) -> pa.Table:
    ids = list(range(start, start + count))
    return pa.table({"id": ids, "v": [f"r{i}" for i in ids]}, schema=SCHEMA)


@pytest.fixture
def gate(seaweed: SeaweedServer) -> Iterator[S3Gate]:
    """The S3 gate in front of SeaweedFS, accepting vended credentials only."""
    with running_gate(
        seaweed.s3_endpoint,
        access_key=seaweed.access_key,
        secret_key=seaweed.secret_key,
        region=seaweed.region,
    ) as running:
        yield running


def vending_polaris(
    polaris_factory: PolarisFactory, gate: S3Gate, **options: Any
) -> tuple[PolarisProxy, CredentialVending]:
    vending = CredentialVending(gate, **options)
    return polaris_factory(token_lifetime_s=300.0, vending=vending), vending


def keyless_config(
    seaweed: SeaweedServer, proxy: PolarisProxy, **overrides: Any
) -> floe.PolarisCatalogConfig:
    """A config with no storage settings at all: storage access must be vended."""
    values: dict[str, Any] = {
        "uri": proxy.catalog_uri,
        "warehouse": seaweed.warehouse,
        "client_id": proxy.client_id,
        "client_secret": proxy.client_secret,
        "retry": FAST,
        "access_delegation": "vended-credentials",
    }
    values.update(overrides)
    return floe.PolarisCatalogConfig(**values)


def wait_until_past(expires_at_ms: int) -> None:
    """Return once the wall clock is past ``expires_at_ms`` (bounded)."""
    deadline = time.monotonic() + _WAIT_BOUND_S
    while time.time() * 1000 <= expires_at_ms:
        assert time.monotonic() < deadline, "the credentials' lifetime never passed"
        time.sleep(0.05)


def latest_expiry(gate: S3Gate) -> int:
    return max(c.expires_at_ms for c in gate._vended.values())


def new_table(lake: floe.Floe, prefix: str) -> str:
    namespace = unique(prefix)
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    lake.tables.create(table, SCHEMA)
    return table


def ids(lake: floe.Floe, table: str) -> list[int]:
    return sorted(lake.reads.scan(table, columns=["id"]).column("id").to_pylist())


# -- the gate refuses what it must --------------------------------------------------------


def _io(gate: S3Gate, credentials: VendedCredentials, **overrides: str) -> Any:
    props = {
        "s3.endpoint": gate.endpoint,
        "s3.region": gate.region,
        "s3.access-key-id": credentials.access_key_id,
        "s3.secret-access-key": credentials.secret_access_key,
        "s3.session-token": credentials.session_token,
        **overrides,
    }
    return load_file_io(props, "s3://warehouse/")


def refused(gate: S3Gate, code: str, io: Any, location: str) -> None:
    """``io`` cannot open ``location``, and the gate refused it with S3 error ``code``."""
    before = gate.refusals.get(code, 0)
    with pytest.raises(OSError, match=r"HTTP status 403|ACCESS_DENIED|SIGNATURE|ACCESS_KEY"):
        io.new_input(location).open()
    assert gate.refusals.get(code, 0) == before + 1, gate.refusals


def test_the_gate_refuses_expired_unknown_and_missigned_credentials(
    polaris_factory: PolarisFactory, gate: S3Gate, seaweed: SeaweedServer
) -> None:
    """What the gate accepts is exactly a live vended key pair used by its owner."""
    proxy, _ = vending_polaris(polaris_factory, gate)
    lake = floe.Floe.from_config(keyless_config(seaweed, proxy))
    table = new_table(lake, "gate")
    lake.writes.append(table, rows(0, 3))
    data_file = lake.tables.files(table)[0].path
    live = gate.vend(300)
    assert len(_io(gate, live).new_input(data_file).open().read()) > 0

    wrong_secret = _io(gate, live, **{"s3.secret-access-key": "not-the-secret"})
    refused(gate, "SignatureDoesNotMatch", wrong_secret, data_file)
    real_keys = _io(
        gate,
        live,
        **{"s3.access-key-id": seaweed.access_key, "s3.secret-access-key": seaweed.secret_key},
    )
    refused(gate, "InvalidAccessKeyId", real_keys, data_file)
    refused(gate, "InvalidToken", _io(gate, live, **{"s3.session-token": "vst-x"}), data_file)

    gate.expire_all()
    refused(gate, "ExpiredToken", _io(gate, live), data_file)


# -- vended credentials as the only storage access ----------------------------------------


def delegation_headers(proxy: PolarisProxy) -> list[str | None]:
    """The delegation header of each table load and create floe sent."""
    found = []
    for exchange in proxy.seen(lambda e: "/tables" in e.path and e.method in ("GET", "POST")):
        route = exchange.path.split("?")[0][len(PREFIX) :].split("/")
        if len(route) in (6, 7) and route[5] == "tables":
            lowered = {k.lower(): v for k, v in exchange.headers.items()}
            found.append(lowered.get("x-iceberg-access-delegation"))
    return found


def test_a_config_without_storage_keys_reads_and_writes_with_vended_credentials(
    polaris_factory: PolarisFactory, gate: S3Gate, seaweed: SeaweedServer
) -> None:
    proxy, vending = vending_polaris(polaris_factory, gate)
    config = keyless_config(seaweed, proxy)
    assert not any(key.startswith("s3.") for key in config.properties)
    lake = floe.Floe.from_config(config)
    table = new_table(lake, "vended")
    lake.writes.append(table, rows(0, 5))
    lake.writes.overwrite(table, rows(10, 3))

    assert ids(lake, table) == [10, 11, 12]
    assert vending.with_tables >= 3
    assert sum(gate.accepted.values()) > 0  # every file went through the gate, vended keys
    headers = delegation_headers(proxy)
    assert headers
    assert set(headers) == {"vended-credentials"}


@pytest.mark.parametrize("mode", [None, "vended-credentials"])
def test_by_default_floe_asks_for_vended_credentials_as_pyiceberg_does(
    polaris_factory: PolarisFactory, gate: S3Gate, seaweed: SeaweedServer, mode: str | None
) -> None:
    """Unset, floe sends PyIceberg's default header and uses what comes back."""
    proxy, vending = vending_polaris(polaris_factory, gate)
    lake = floe.Floe.from_config(keyless_config(seaweed, proxy, access_delegation=mode))
    table = new_table(lake, "unset" if mode is None else "explicit")
    lake.writes.append(table, rows(0, 3))

    assert ids(lake, table) == [0, 1, 2]
    assert vending.with_tables >= 2
    assert sum(gate.accepted.values()) > 0
    assert set(delegation_headers(proxy)) == {"vended-credentials"}


def test_access_delegation_none_asks_for_no_credentials(
    polaris_factory: PolarisFactory, gate: S3Gate, seaweed: SeaweedServer
) -> None:
    """PyIceberg asks every catalog for vended credentials; ``"none"`` asks for nothing."""
    proxy, vending = vending_polaris(polaris_factory, gate)
    config = keyless_config(
        seaweed,
        proxy,
        access_delegation="none",
        properties={
            "s3.endpoint": seaweed.s3_endpoint,
            "s3.access-key-id": seaweed.access_key,
            "s3.secret-access-key": seaweed.secret_key,
            "s3.region": seaweed.region,
        },
    )
    lake = floe.Floe.from_config(config)
    table = new_table(lake, "plain")
    lake.writes.append(table, rows(0, 2))

    assert ids(lake, table) == [0, 1]
    assert vending.with_tables == 0
    assert not gate.accepted
    headers = delegation_headers(proxy)
    assert headers
    assert set(headers) == {None}


# -- renewal ------------------------------------------------------------------------------


def lake_and_backend(config: floe.PolarisCatalogConfig) -> tuple[floe.Floe, IcebergBackend]:
    container = build_container(config)
    backend: IcebergBackend = container.iceberg_backend()
    return floe.Floe.from_container(container), backend


def snapshots(lake: floe.Floe, table: str) -> int:
    return len(lake.snapshots.list(table))


def batches_past_expiry(
    gate: S3Gate, first: pa.Table, later: pa.Table, *, expire: str
) -> Iterator[pa.RecordBatch]:
    """``first``'s batches, then the credentials end (``expire``), then ``later``'s."""
    yield from first.to_batches()
    if expire == "wait":
        wait_until_past(latest_expiry(gate))
    else:
        gate.expire_all()
    yield from later.to_batches()


@pytest.mark.parametrize(
    ("endpoint", "expiry_property"),
    [(True, "s3.session-token-expires-at-ms"), (False, "expiration-time")],
    ids=["credentials-endpoint", "reload-table-older-polaris"],
)
def test_a_streaming_append_outliving_its_first_credentials_is_one_commit(
    polaris_factory: PolarisFactory,
    gate: S3Gate,
    seaweed: SeaweedServer,
    endpoint: bool,
    expiry_property: str,
) -> None:
    """Credentials renewed ahead of expiry: the stream goes on, one snapshot, no refusal."""
    proxy, vending = vending_polaris(
        polaris_factory,
        gate,
        lifetime_s=3.0,
        credentials_endpoint=endpoint,
        expiry_property=expiry_property,
    )
    lake = floe.Floe.from_config(keyless_config(seaweed, proxy))
    table = new_table(lake, "stream")
    loaded_before = vending.with_tables

    stream = batches_past_expiry(gate, rows(0, 100), rows(100, 100), expire="wait")
    result = lake.writes.append(table, stream, chunk_bytes=1)

    assert result.snapshot_id is not None
    assert snapshots(lake, table) == 1
    assert ids(lake, table) == list(range(200))
    assert gate.refusals.get("ExpiredToken", 0) == 0  # renewed before, never refused
    if endpoint:
        assert vending.by_endpoint >= 1
    else:
        assert vending.by_endpoint == 0
        assert vending.with_tables > loaded_before + 1  # the append's load, then a reload
    assert len(gate.accepted) >= 2  # a second key pair wrote the later files


def test_credentials_refused_midstream_are_renewed_once_and_the_step_retried(
    polaris_factory: PolarisFactory, gate: S3Gate, seaweed: SeaweedServer
) -> None:
    """The gate ends every credential at once: the refused file goes again, the commit once."""
    proxy, vending = vending_polaris(polaris_factory, gate, lifetime_s=3600.0)
    lake = floe.Floe.from_config(keyless_config(seaweed, proxy))
    table = new_table(lake, "refused")
    proxy.clear()

    stream = batches_past_expiry(gate, rows(0, 50), rows(50, 50), expire="now")
    lake.writes.append(table, stream, chunk_bytes=1)

    assert gate.refusals.get("ExpiredToken", 0) >= 1
    assert vending.by_endpoint == 1
    assert snapshots(lake, table) == 1
    assert ids(lake, table) == list(range(100))
    commits = proxy.seen(
        lambda e: e.method == "POST" and e.path.split("?")[0].endswith(table.split(".")[1])
    )
    assert len(commits) == 1


def test_a_scan_whose_credentials_expire_midway_renews_them_once(
    polaris_factory: PolarisFactory, gate: S3Gate, seaweed: SeaweedServer
) -> None:
    """The gate ends the credentials after the scan's first file: the rest is read anew."""
    proxy, vending = vending_polaris(polaris_factory, gate)
    lake = floe.Floe.from_config(keyless_config(seaweed, proxy))
    table = new_table(lake, "scan")
    for start in range(0, 40, 10):
        lake.writes.append(table, rows(start, 10))  # four data files, four manifests
    loads = vending.with_tables

    gate.expire_after(1)  # the manifest list is opened; what comes after it is refused
    assert ids(lake, table) == list(range(40))

    assert gate.refusals.get("ExpiredToken", 0) >= 1
    assert vending.with_tables == loads + 2  # the scan's load, and one reload to read again


# -- registering a table ------------------------------------------------------------------


def test_register_table_needs_no_storage_keys_of_its_own(
    polaris_factory: PolarisFactory, gate: S3Gate, seaweed: SeaweedServer
) -> None:
    """The catalog reads the metadata file: floe has no storage access before the table exists.

    (SeaweedFS serves a registered table's rows badly, see test_register_table;
    what is checked here is the registration and its answer.)
    """
    proxy, _ = vending_polaris(polaris_factory, gate)
    lake = floe.Floe.from_config(keyless_config(seaweed, proxy))
    table = new_table(lake, "reg")
    lake.writes.append(table, rows(0, 3))
    source = lake.tables.load(table)
    assert source.metadata_location

    registered = lake.tables.register(f"{table}_again", source.metadata_location)

    assert registered.current_snapshot_id == source.current_snapshot_id
    assert registered.metadata_location == source.metadata_location
    assert lake.tables.exists(f"{table}_again")
    missing = source.metadata_location.replace("metadata", "nothing-here")
    with pytest.raises(floe.TableNotFoundError, match="no table metadata at"):
        lake.tables.register(f"{table}_ghost", missing)
    assert not lake.tables.exists(f"{table}_ghost")


def test_a_write_whose_upload_is_refused_midway_runs_again_on_new_credentials(
    polaris_factory: PolarisFactory, gate: S3Gate, seaweed: SeaweedServer
) -> None:
    """The data file's upload starts, then the credentials end: nothing was committed, so
    the write runs once more on the table loaded afresh, and lands once."""
    proxy, vending = vending_polaris(polaris_factory, gate)
    lake = floe.Floe.from_config(keyless_config(seaweed, proxy))
    table = new_table(lake, "upload")
    lake.writes.append(table, rows(0, 5))
    loads = vending.with_tables

    gate.expire_after(1)  # the upload is started, its parts are refused
    lake.writes.append(table, rows(5, 5))

    assert gate.refusals.get("ExpiredToken", 0) >= 1
    assert vending.with_tables == loads + 2  # the write's load, and one reload to run again
    assert snapshots(lake, table) == 2
    assert ids(lake, table) == list(range(10))


# -- secrets ------------------------------------------------------------------------------


def test_no_vended_secret_or_session_token_is_let_out(
    polaris_factory: PolarisFactory,
    gate: S3Gate,
    seaweed: SeaweedServer,
    caplog: pytest.LogCaptureFixture,
    spans: Any,
) -> None:
    """Renewals, refusals and a failure: logs, spans, errors and tracebacks name no secret."""
    caplog.set_level(logging.DEBUG)
    proxy, vending = vending_polaris(polaris_factory, gate)
    lake = floe.Floe.from_config(keyless_config(seaweed, proxy))
    table = new_table(lake, "secret")
    stream = batches_past_expiry(gate, rows(0, 20), rows(20, 20), expire="now")
    lake.writes.append(table, stream, chunk_bytes=1)  # a refusal and a renewal

    vending.lifetime_s = 0  # from now on every set is vended expired: the scan fails
    with pytest.raises(floe.ScanError) as failed:
        lake.reads.scan(table)

    let_out = "\n".join(
        [
            caplog.text,
            str(failed.value),
            repr(failed.value),
            "".join(
                traceback.TracebackException.from_exception(
                    failed.value, capture_locals=True
                ).format()
            ),
            *(json.dumps(dict(span.attributes or {})) for span in spans.get_finished_spans()),
            *(
                json.dumps([event.name, dict(event.attributes or {})])
                for span in spans.get_finished_spans()
                for event in span.events
            ),
        ]
    )
    vended = list(gate._vended.values())
    assert len(vended) >= 3
    for credentials in vended:
        assert credentials.secret_access_key not in let_out
        assert credentials.session_token not in let_out
