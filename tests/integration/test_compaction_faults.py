"""A compaction whose commit or writes fail: typed, the table unchanged or compacted once.

The catalog is SeaweedFS behind the Polaris proxy; each fault hits the
compaction's commit (the POST to the table) after its files were written.
A refused commit leaves the table as it was and deletes the files the
compaction wrote; an unknown outcome keeps them (they may be referenced)
and the rows read back once. A write failing half-way deletes what was
written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

import floe
from floe.adapters.iceberg import compaction
from tests.integration.conftest import PolarisFactory, polaris_config, unique
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

SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])
SMALL_APPENDS = 4


@pytest.fixture
def polaris(polaris_factory: PolarisFactory) -> PolarisProxy:
    return polaris_factory(token_lifetime_s=600.0)


def _ids(lake: floe.Floe, table: str) -> list[int]:
    return sorted(lake.reads.scan(table, columns=["id"]).column("id").to_pylist())


class Scene:
    """A table of :data:`SMALL_APPENDS` one-row files, with a floe talking through the proxy."""

    def __init__(self, seaweed: SeaweedServer, polaris: PolarisProxy) -> None:
        self.lake = floe.Floe.from_config(polaris_config(seaweed, polaris))
        namespace = unique("compactfault")
        self.table = f"{namespace}.t"
        self.lake.namespaces.create(namespace)
        self.lake.tables.create(self.table, SCHEMA, properties=ONE_COMMIT_RETRY)
        for i in range(SMALL_APPENDS):
            self.lake.writes.append(self.table, pa.table({"id": [i], "v": [f"r{i}"]}, SCHEMA))
        polaris.clear()
        self.files = DataFiles(seaweed, self.lake.tables.load(self.table).location)
        self.files_before = self.files.listed()
        self.snapshots_before = self.lake.snapshots.list(self.table)

    def assert_unchanged(self) -> None:
        """Nothing committed and no file of the compaction left on storage."""
        assert self.lake.snapshots.list(self.table) == self.snapshots_before
        assert _ids(self.lake, self.table) == list(range(SMALL_APPENDS))
        assert self.files.listed() == self.files_before


@pytest.mark.parametrize(
    ("fault", "error", "answers"),
    [
        (CONFLICT, floe.CommitConflictError, [409, 409]),
        (
            Fault(status=400, body=iceberg_error(400, "ValidationException", "bad snapshot")),
            floe.WriteError,
            [400],
        ),
    ],
    ids=["409-beyond-retries", "400-validation"],
)
def test_a_refused_compaction_commit_leaves_the_table_and_deletes_its_files(
    seaweed: SeaweedServer,
    polaris: PolarisProxy,
    fault: Fault,
    error: type[Exception],
    answers: list[int],
) -> None:
    scene = Scene(seaweed, polaris)
    polaris.inject(on_commit(scene.table, fault))
    with pytest.raises(error) as info:
        scene.lake.maintenance.compact(scene.table)
    assert type(info.value) is error
    assert commits(polaris, scene.table) == answers
    scene.assert_unchanged()


def test_a_compaction_commit_applied_but_unanswered_keeps_its_file_and_reads_once(
    seaweed: SeaweedServer, polaris: PolarisProxy
) -> None:
    scene = Scene(seaweed, polaris)
    polaris.inject(on_commit(scene.table, Fault(status=500, after_forward=True)))
    with pytest.raises(floe.CommitStateUnknownError):
        scene.lake.maintenance.compact(scene.table)
    assert commits(polaris, scene.table) == [500]  # never re-sent
    snapshots = scene.lake.snapshots.list(scene.table)
    assert snapshots[:-1] == scene.snapshots_before
    assert snapshots[-1].operation == "replace"
    assert _ids(scene.lake, scene.table) == list(range(SMALL_APPENDS))
    live = scene.lake.tables.files(scene.table)
    assert len(live) == 1
    assert {f.path.split("://", 1)[1] for f in live} <= scene.files.listed()


def test_a_write_failing_half_way_deletes_what_the_compaction_wrote(
    seaweed: SeaweedServer, polaris: PolarisProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = Scene(seaweed, polaris)
    files = scene.lake.tables.files(scene.table)
    sizes = sorted(f.size_bytes for f in files)
    target = sizes[-1] + sizes[-2] + sizes[0] - 1  # two bins of two files
    write = compaction._dataframe_to_data_files
    calls: list[int] = []

    def fail_second(*args: Any, **kwargs: Any) -> Iterator[Any]:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("storage went away")
        return write(*args, **kwargs)

    monkeypatch.setattr(compaction, "_dataframe_to_data_files", fail_second)
    with pytest.raises(floe.FloeStorageError):
        scene.lake.maintenance.compact(scene.table, target_file_size=target)
    assert len(calls) >= 2  # the first bin was written before the failure
    assert commits(polaris, scene.table) == []
    scene.assert_unchanged()
