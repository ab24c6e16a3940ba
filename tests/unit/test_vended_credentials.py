"""Vended storage credentials: the config that asks for them, their expiry, their renewal.

The renewal runs over local files with the test's clock and a renewal
function that counts its calls: what is checked is when fresh credentials
are fetched and which FileIO each file is opened with, not how fast anything is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import PyArrowFileIO

from floe import InvalidConfigError, PolarisCatalogConfig, catalog_config_from_env
from floe.adapters.iceberg.vended import (
    VendedFileIO,
    credentials_expiry_ms,
    is_expired_credentials_error,
    refused_storage,
)

URI = "https://polaris.example.com/api/catalog"


def config(**values: Any) -> PolarisCatalogConfig:
    return PolarisCatalogConfig(uri=URI, warehouse="wh", token="t", **values)


def test_access_delegation_asks_for_vended_credentials_and_nothing_else() -> None:
    assert config().access_delegation is None
    assert config(access_delegation="vended-credentials").access_delegation == "vended-credentials"
    assert config(access_delegation="none").access_delegation == "none"
    with pytest.raises(InvalidConfigError, match="access_delegation must be 'vended-credentials'"):
        config(access_delegation="remote-signing")
    with pytest.raises(InvalidConfigError, match="not both"):
        config(
            access_delegation="vended-credentials",
            properties={"header.X-Iceberg-Access-Delegation": "vended-credentials"},
        )


def test_access_delegation_from_the_environment() -> None:
    loaded = catalog_config_from_env(
        {
            "FLOE_CATALOG_TYPE": "polaris",
            "FLOE_CATALOG_URI": URI,
            "FLOE_CATALOG_WAREHOUSE": "wh",
            "FLOE_CATALOG_TOKEN": "t",
            "FLOE_CATALOG_ACCESS_DELEGATION": "vended-credentials",
        }
    )
    assert isinstance(loaded, PolarisCatalogConfig)
    assert loaded.access_delegation == "vended-credentials"
    assert loaded.properties == {}


def test_the_expiry_is_read_from_every_known_property_and_the_earliest_wins() -> None:
    assert credentials_expiry_ms({"s3.session-token-expires-at-ms": "2000"}) == 2000
    assert credentials_expiry_ms({"expiration-time": "3000"}) == 3000
    assert credentials_expiry_ms({"adls.sas-token-expires-at-ms.acct": "1500"}) == 1500
    both = {"s3.session-token-expires-at-ms": "5000", "expiration-time": "4000"}
    assert credentials_expiry_ms(both) == 4000
    assert credentials_expiry_ms({"s3.session-token": "x", "expiration-time": "soon"}) is None


def test_an_expired_token_or_a_bare_403_counts_as_a_refusal_and_nothing_else() -> None:
    assert is_expired_credentials_error(OSError("AWS Error UNKNOWN (HTTP status 403) ExpiredToken"))
    assert is_expired_credentials_error(OSError("AWS Error ACCESS_DENIED during HeadObject"))
    assert not is_expired_credentials_error(OSError("AWS Error NETWORK_CONNECTION"))
    assert not is_expired_credentials_error(ValueError("ExpiredToken"))
    wrapped = RuntimeError("scan failed")
    wrapped.__cause__ = OSError("ExpiredToken")
    assert refused_storage(wrapped)
    assert not refused_storage(RuntimeError("scan failed"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Renewals:
    """The catalog's side: each call vends a set living ``life_s`` from the clock's now."""

    def __init__(self, clock: Clock, life_s: float) -> None:
        self.clock = clock
        self.life_s = life_s
        self.calls = 0

    def first(self) -> dict[str, str]:
        return self._vend()

    def __call__(self) -> dict[str, str]:
        self.calls += 1
        return self._vend()

    def _vend(self) -> dict[str, str]:
        expires = int((self.clock.now + self.life_s) * 1000)
        return {"s3.session-token-expires-at-ms": str(expires), "set": str(self.calls)}


def made_with(ios: list[FileIO]) -> Any:
    def make(properties: dict[str, str]) -> FileIO:
        io = PyArrowFileIO(properties)
        ios.append(io)
        return io

    return make


def test_credentials_are_renewed_halfway_through_their_life_not_before(tmp_path: Path) -> None:
    clock = Clock()
    renewals = Renewals(clock, life_s=10.0)
    ios: list[FileIO] = []
    io = VendedFileIO(renewals.first(), made_with(ios), renewals, clock=clock)
    target = str(tmp_path / "a.bin")
    with io.new_output(target).create() as out:
        out.write(b"abc")

    clock.now += 4.9
    assert io.new_input(target).open().read() == b"abc"
    assert renewals.calls == 0
    clock.now += 0.2  # past half of the 10 s
    assert io.new_input(target).open().read() == b"abc"
    assert renewals.calls == 1
    assert io.properties["set"] == "1"
    assert io.current() is ios[-1]
    assert len(ios) == 2


def test_long_lived_credentials_are_renewed_five_minutes_before_expiry(tmp_path: Path) -> None:
    clock = Clock()
    renewals = Renewals(clock, life_s=3600.0)
    io = VendedFileIO(renewals.first(), made_with([]), renewals, clock=clock)
    clock.now += 3600 - 301
    io.current()
    assert renewals.calls == 0
    clock.now += 2
    io.current()
    assert renewals.calls == 1


class RefusingIO(PyArrowFileIO):
    """Local files whose opening is refused, as S3 refuses an expired token, ``refusals`` times."""

    def __init__(self, properties: dict[str, str], refusals: list[int]) -> None:
        super().__init__(properties)
        self._refusals = refusals

    def new_input(self, location: str) -> Any:
        if self._refusals[0] > 0:
            self._refusals[0] -= 1
            raise OSError("AWS Error UNKNOWN (HTTP status 403): ExpiredToken")
        return super().new_input(location)


def test_a_refused_file_is_opened_once_more_after_one_renewal(tmp_path: Path) -> None:
    clock = Clock()
    renewals = Renewals(clock, life_s=600.0)
    refusals = [1]
    io = VendedFileIO(
        renewals.first(), lambda props: RefusingIO(props, refusals), renewals, clock=clock
    )
    target = tmp_path / "b.bin"
    target.write_bytes(b"xyz")

    assert io.new_input(str(target)).open().read() == b"xyz"
    assert renewals.calls == 1

    refusals[0] = 2  # refused again after the renewal: not a question of expiry
    with pytest.raises(OSError, match="ExpiredToken"):
        io.new_input(str(target)).open()
    assert renewals.calls == 2


def test_a_renewal_keeps_the_tables_settings_and_drops_the_old_expiry(tmp_path: Path) -> None:
    """A credentials endpoint may answer the keys alone: the endpoint and region stay."""
    clock = Clock()
    first = {
        "s3.endpoint": "http://storage.example",
        "s3.access-key-id": "old",
        "expiration-time": str(int((clock.now + 10) * 1000)),
    }
    fresh = {
        "s3.access-key-id": "new",
        "s3.session-token-expires-at-ms": str(int((clock.now + 1000) * 1000)),
    }
    calls: list[int] = []

    def renew() -> dict[str, str]:
        calls.append(1)
        return fresh

    io = VendedFileIO(first, made_with([]), renew, clock=clock)
    clock.now += 6
    io.current()
    assert io.credentials == {"s3.endpoint": "http://storage.example", **fresh}
    clock.now += 6  # the old expiration-time has passed: it no longer counts
    io.current()
    assert len(calls) == 1
