"""What each adapter's storage really holds, read without floe, and a way to plant files there.

Maintenance tests compare floe's reports with the ground truth: the
in-memory adapter's object store, the local warehouse directory, the REST
catalog's S3 bucket (listed with pyarrow's own S3 client).
"""

from __future__ import annotations

import os
import time
import urllib.parse
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import attrs
import pyarrow.fs as pafs
import pytest

import floe
from floe.adapters.memory.state import MemoryWarehouse
from floe.api import build_container
from floe.application.maintenance import MaintenanceService
from floe.container import FloeContainer
from tests.conftest import rest_config
from tests.integration.seaweed import SeaweedServer


class Storage(Protocol):
    """Files under a location, and writing one."""

    def files(self, location: str) -> dict[str, int]:
        """Path -> size of every file below ``location``."""

    def plant(self, path: str, data: bytes) -> None:
        """Write a file as a crashed or running writer would leave it."""


@attrs.frozen
class MemoryStorageView:
    warehouse: MemoryWarehouse

    def files(self, location: str) -> dict[str, int]:
        with self.warehouse.lock:
            return {p: o.size_bytes for p, o in self.warehouse.storage.under(location).items()}

    def plant(self, path: str, data: bytes) -> None:
        with self.warehouse.lock:
            self.warehouse.storage.put(path, len(data))


class LocalStorage:
    def files(self, location: str) -> dict[str, int]:
        root = Path(urllib.parse.urlparse(location).path)
        return {
            f"file://{Path(d) / f}": (Path(d) / f).stat().st_size
            for d, _, names in os.walk(root)
            for f in names
        }

    def plant(self, path: str, data: bytes) -> None:
        where = Path(urllib.parse.urlparse(path).path)
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_bytes(data)


@attrs.frozen
class S3Storage:
    fs: pafs.S3FileSystem

    @classmethod
    def of(cls, server: SeaweedServer) -> S3Storage:
        endpoint = urllib.parse.urlparse(server.s3_endpoint)
        return cls(
            pafs.S3FileSystem(
                access_key=server.access_key,
                secret_key=server.secret_key,
                region=server.region,
                endpoint_override=endpoint.netloc,
                scheme=endpoint.scheme,
            )
        )

    def files(self, location: str) -> dict[str, int]:
        prefix = location.removeprefix("s3://").rstrip("/")
        listed = self.fs.get_file_info(pafs.FileSelector(prefix, recursive=True))
        return {
            f"s3://{i.path}": i.size
            for i in listed
            if i.type == pafs.FileType.File and i.path.startswith(prefix + "/")
        }

    def plant(self, path: str, data: bytes) -> None:
        with self.fs.open_output_stream(path.removeprefix("s3://")) as out:
            out.write(data)


@attrs.frozen
class MaintLake:
    """floe over one adapter, its container, and the ground truth of its storage."""

    kind: str
    floe: floe.Floe
    container: FloeContainer
    storage: Storage

    def stored(self, table: floe.TableIdentifier) -> dict[str, int]:
        """Path -> size of every file under the table's location."""
        return self.storage.files(self.floe.tables.load(table).location)

    def plant(self, table: floe.TableIdentifier, relative: str, size: int = 64) -> str:
        """Leave a file under the table's location, as a crashed writer does; its path."""
        path = f"{self.floe.tables.load(table).location.rstrip('/')}/{relative}"
        self.storage.plant(path, b"x" * size)
        return path

    def maintenance_at(self, ahead: timedelta) -> MaintenanceService:
        """The maintenance service with a clock ``ahead`` of the real one (files look older)."""
        shift_ms = ahead // timedelta(milliseconds=1)
        return MaintenanceService(
            self.container.catalog(),
            self.container.store(),
            self.container.table_files(),
            clock_ms=lambda: time.time_ns() // 1_000_000 + shift_ms,
            policies=self.container.policies(),
        )


def maint_lake(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> MaintLake:
    """A fresh lake of ``kind`` (``memory``, ``local``, ``rest``) with its storage."""
    storage: Storage
    config: floe.CatalogConfig
    if kind == "memory":
        config = floe.MemoryCatalogConfig()
    elif kind == "local":
        config = floe.LocalCatalogConfig(str(tmp_path / "warehouse"))
    else:
        server = request.getfixturevalue("seaweed")
        config = rest_config(server)
    container = build_container(config)
    if kind == "memory":
        storage = MemoryStorageView(container.memory_warehouse())
    elif kind == "local":
        storage = LocalStorage()
    else:
        storage = S3Storage.of(server)
    return MaintLake(kind, floe.Floe.from_container(container), container, storage)


def fresh_namespace(lake: floe.Floe) -> tuple[str, ...]:
    """A uniquely named namespace (the REST server is shared by tests)."""
    name = ("m" + uuid.uuid4().hex[:10],)
    lake.namespaces.create(name)
    return name


Pointer = Callable[[floe.TableIdentifier, str, int], None]


def tagger(lake: MaintLake) -> Pointer:
    """Tag a snapshot through floe's own API (``lake.refs``)."""

    def tag(table: floe.TableIdentifier, name: str, snapshot_id: int) -> None:
        lake.floe.refs.create_tag(table, name, snapshot_id=snapshot_id)

    return tag
