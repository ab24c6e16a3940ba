"""An overwrite, upsert or delete whose commit is refused leaves no file; an unknown one keeps all.

Each operation writes files before its commit: the rewritten files (the
rows a filter or an update does not touch), the new rows, the manifests
and the manifest list. When the catalog answers "no" (a conflict beyond
PyIceberg's retries, a failed validation, a 4xx), none of them is
referenced, and floe deletes them all: the orphan search of the table
finds nothing. When the outcome is unknown (a 5xx, a cut connection once
the request went out) the commit may have landed, so floe deletes nothing;
the table stays readable, with the write's rows exactly once if it landed.

On the embedded catalog and over REST, the refusal is a real conflict:
another client commits, every time, just before floe's commit is sent (the
``race`` fixture). Over REST through the Polaris proxy, the catalog
refuses or fails the commit request itself; on the embedded catalog the
commit fails writing the new table metadata, a failure floe cannot judge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

import floe
from tests.contract.test_table_store_contract import SCHEMA, rows
from tests.integration.conftest import PolarisFactory, Race, polaris_config, unique
from tests.integration.counting_io import FLAKY_IO
from tests.integration.polaris_proxy import PolarisProxy
from tests.integration.proxy import Fault
from tests.integration.seaweed import SeaweedServer
from tests.integration.test_stream_faults import (
    CONFLICT,
    ONE_COMMIT_RETRY,
    DataFiles,
    commits,
    iceberg_error,
    on_commit,
)

#: Each operation rewrites the fixture's one data file (keeping id 1) and,
#: but the delete, writes new rows: files of its own before the commit.
OPERATIONS: dict[str, Callable[[floe.Floe, str], object]] = {
    "overwrite": lambda lake, t: lake.writes.overwrite(t, rows([9]), row_filter="id >= 2"),
    "upsert": lambda lake, t: lake.writes.upsert(
        t, rows([2, 9]).set_column(2, "region", pa.array(["new", "new"])), join_columns=["id"]
    ),
    "delete": lambda lake, t: lake.writes.delete(t, "id >= 2"),
}
#: The ids after each operation, had it landed.
LANDED = {"overwrite": [1, 9], "upsert": [1, 2, 3, 9], "delete": [1]}


def ids(lake: floe.Floe, table: str) -> list[int]:
    return sorted(lake.reads.scan(table, columns=["id"]).column("id").to_pylist())


def orphans(lake: floe.Floe, table: str) -> list[str]:
    """Every file under the table's location that no metadata references."""
    found = lake.maintenance.remove_orphan_files(
        table, older_than=dt.timedelta(0), dry_run=True, allow_short_window=True
    )
    assert found.recent_files == 0
    return list(found.orphan_paths)


def new_table(lake: floe.Floe, properties: dict[str, str] | None = None) -> str:
    """A table holding ids 1, 2, 3 in one data file, no orphan."""
    namespace = unique("refused")
    lake.namespaces.create(namespace)
    table = f"{namespace}.events"
    lake.tables.create(table, SCHEMA, ["day(ts)"], properties or {})
    lake.writes.append(table, rows([1, 2, 3]))
    assert orphans(lake, table) == []
    return table


# -- a real conflict, on the embedded catalog and over REST -------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS, ids=list(OPERATIONS))
def test_a_write_refused_for_a_concurrent_commit_leaves_no_file(
    clients: tuple[floe.Floe, floe.Floe], race: list[Race], operation: str
) -> None:
    lake, other = clients
    table = new_table(lake)
    race.append(lambda: other.writes.append(table, rows([5])))  # inside every filter and range

    with pytest.raises(floe.CommitConflictError, match=table):
        OPERATIONS[operation](lake, table)

    assert ids(lake, table) == [1, 2, 3, 5]  # as the other writer left it
    assert len(lake.snapshots.list(table)) == 2
    assert orphans(lake, table) == []  # the rewritten files, new rows and manifests deleted


@pytest.mark.parametrize("operation", OPERATIONS, ids=list(OPERATIONS))
def test_a_local_commit_failing_for_a_reason_floe_cannot_judge_keeps_its_files(
    tmp_path: Path, operation: str
) -> None:
    """The embedded catalog fails to write the new table metadata: not a refusal floe knows.

    Only an answer that says "not applied" lets floe delete a commit's
    files; any other failure of the commit keeps them (orphans at worst).
    """
    armed = tmp_path / "armed"
    lake = floe.Floe.from_config(floe.LocalCatalogConfig(str(tmp_path / "warehouse")))
    failing_metadata = {
        "py-io-impl": FLAKY_IO,
        "floe-test.fail": f"after:{armed}",  # once "armed" exists
        "floe-test.fail-files": "json",  # table metadata files
    }
    table = new_table(lake, failing_metadata)
    armed.mkdir()

    with pytest.raises(floe.FloeStorageError, match=table):
        OPERATIONS[operation](lake, table)

    armed.rmdir()
    assert ids(lake, table) == [1, 2, 3]  # readable, unchanged
    assert len(lake.snapshots.list(table)) == 1
    kept = orphans(lake, table)
    assert any(p.endswith(".parquet") for p in kept)  # its data files were not deleted
    assert any(p.endswith(".avro") for p in kept)  # nor its manifests


# -- the catalog refuses or fails the commit request (REST, Polaris proxy) ----------------------


@pytest.fixture
def polaris(polaris_factory: PolarisFactory) -> PolarisProxy:
    """A Polaris proxy whose tokens outlive the test."""
    return polaris_factory(token_lifetime_s=600.0)


def proxied_table(seaweed: SeaweedServer, polaris: PolarisProxy) -> tuple[floe.Floe, str]:
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris))
    table = new_table(lake, ONE_COMMIT_RETRY)
    polaris.clear()
    return lake, table


REFUSALS = {
    "409-beyond-retries": (CONFLICT, floe.CommitConflictError),
    "400-validation": (
        Fault(status=400, body=iceberg_error(400, "ValidationException", "bad snapshot")),
        floe.WriteError,
    ),
    "403-forbidden": (
        Fault(status=403, body=iceberg_error(403, "ForbiddenException", "no write grant")),
        floe.CatalogAuthenticationError,
    ),
}


@pytest.mark.parametrize("operation", OPERATIONS, ids=list(OPERATIONS))
@pytest.mark.parametrize(("fault", "error"), list(REFUSALS.values()), ids=list(REFUSALS))
def test_a_write_the_catalog_refuses_leaves_the_table_and_no_file(
    seaweed: SeaweedServer,
    polaris: PolarisProxy,
    fault: Fault,
    error: type[Exception],
    operation: str,
) -> None:
    lake, table = proxied_table(seaweed, polaris)
    files = DataFiles(seaweed, lake.tables.load(table).location)
    before = (files.listed(), lake.snapshots.list(table))
    polaris.inject(on_commit(table, fault))

    with pytest.raises(error):
        OPERATIONS[operation](lake, table)

    assert commits(polaris, table)  # the commit was sent, and refused
    assert all(400 <= status < 500 for status in commits(polaris, table))
    assert (files.listed(), lake.snapshots.list(table)) == before
    assert ids(lake, table) == [1, 2, 3]
    assert orphans(lake, table) == []  # no data file, manifest or manifest list left


@pytest.mark.parametrize("operation", OPERATIONS, ids=list(OPERATIONS))
def test_a_write_applied_but_unanswered_keeps_its_files_and_lands_once(
    seaweed: SeaweedServer, polaris: PolarisProxy, operation: str
) -> None:
    lake, table = proxied_table(seaweed, polaris)
    polaris.inject(on_commit(table, Fault(status=500, after_forward=True)))

    with pytest.raises(floe.CommitStateUnknownError):
        OPERATIONS[operation](lake, table)

    assert commits(polaris, table) == [500]  # never re-sent
    assert ids(lake, table) == LANDED[operation]  # every file it references is there
    assert len(lake.snapshots.list(table)) == 2
    assert orphans(lake, table) == []


@pytest.mark.parametrize("operation", OPERATIONS, ids=list(OPERATIONS))
def test_a_write_failing_unknown_before_applying_keeps_its_files(
    seaweed: SeaweedServer, polaris: PolarisProxy, operation: str
) -> None:
    """floe cannot tell this 500 from one after applying: its files stay, as orphans."""
    lake, table = proxied_table(seaweed, polaris)
    polaris.inject(on_commit(table, Fault(status=500)))

    with pytest.raises(floe.CommitStateUnknownError):
        OPERATIONS[operation](lake, table)

    assert commits(polaris, table) == [500]
    assert ids(lake, table) == [1, 2, 3]
    assert len(lake.snapshots.list(table)) == 1
    kept = orphans(lake, table)
    assert any(p.endswith(".parquet") for p in kept)  # its data files were not deleted
    assert any(p.endswith(".avro") for p in kept)  # nor its manifests
