"""Every contract test runs once per adapter; the ids differ only in the adapter name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import floe

ADAPTERS = ["memory", "local", "rest"]


@pytest.fixture(params=ADAPTERS)
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[floe.Floe]:
    """A Floe over a fresh catalog of the parametrised kind."""
    if request.param == "memory":
        yield floe.Floe.from_config(floe.MemoryCatalogConfig())
    elif request.param == "local":
        yield floe.Floe.from_config(floe.LocalCatalogConfig(str(tmp_path / "warehouse")))
    elif request.param == "rest":
        yield request.getfixturevalue("rest_lake")
    else:  # pragma: no cover - guarded by ADAPTERS
        raise AssertionError(request.param)


@pytest.fixture
def ns(lake: floe.Floe) -> tuple[str, ...]:
    """A fresh, uniquely named namespace (the REST server is shared by tests)."""
    name = ("c" + uuid.uuid4().hex[:10],)
    lake.namespaces.create(name)
    return name
