"""Every write mode takes ``branch=``: only the branch moves, on every adapter."""

from __future__ import annotations

import pyarrow as pa
import pytest

import floe
from tests.contract.test_table_store_contract import DAY2, SCHEMA, ids_of, rows


@pytest.fixture
def table(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(ns, "events")
    lake.tables.create(ident, SCHEMA, ["day(ts)"])
    return ident


@pytest.fixture
def audit(lake: floe.Floe, table: floe.TableIdentifier) -> int:
    """Main holds ids 1, 2 (day 1) and 3 (day 2); branch ``audit`` starts there. Main's head."""
    lake.writes.append(table, rows([1, 2]))
    head = lake.writes.append(table, rows([3], DAY2)).snapshot_id
    assert head is not None
    lake.refs.create_branch(table, "audit")
    return head


def _main_untouched(lake: floe.Floe, table: floe.TableIdentifier, head: int) -> None:
    current = lake.snapshots.current(table)
    assert current is not None
    assert current.snapshot_id == head
    assert ids_of(lake.reads.scan(table)) == [1, 2, 3]


def _branch_head(lake: floe.Floe, table: floe.TableIdentifier) -> int:
    return lake.refs.get(table, "audit").snapshot_id


def test_append_to_a_branch(lake: floe.Floe, table: floe.TableIdentifier, audit: int) -> None:
    result = lake.writes.append(table, rows([10, 11]), branch="audit")

    assert result.snapshot_id == _branch_head(lake, table)
    assert result.snapshot is not None
    assert result.snapshot.parent_id == audit
    assert result.snapshot.refs == ("audit",)
    assert ids_of(lake.reads.scan(table, ref="audit")) == [1, 2, 3, 10, 11]
    _main_untouched(lake, table, audit)


def test_overwrite_by_filter_on_a_branch_replaces_the_branch_rows(
    lake: floe.Floe, table: floe.TableIdentifier, audit: int
) -> None:
    lake.writes.append(table, rows([10]), branch="audit")

    result = lake.writes.overwrite(table, rows([20]), row_filter="id >= 3", branch="audit")

    # The filter met the branch's rows (3 and 10), not main's alone.
    assert result.rows_deleted == 2
    assert ids_of(lake.reads.scan(table, ref="audit")) == [1, 2, 20]
    _main_untouched(lake, table, audit)


def test_upsert_on_a_branch_matches_the_branch_rows(
    lake: floe.Floe, table: floe.TableIdentifier, audit: int
) -> None:
    lake.writes.append(table, rows([10]), branch="audit")
    changed = rows([10, 12], region="us")

    result = lake.writes.upsert(table, changed, join_columns=["id"], branch="audit")

    assert (result.rows_added, result.rows_deleted) == (2, 1)
    on_branch = lake.reads.scan(table, ref="audit").sort_by("id")
    assert on_branch.column("id").to_pylist() == [1, 2, 3, 10, 12]
    assert on_branch.column("region").to_pylist() == ["eu", "eu", "eu", "us", "us"]
    _main_untouched(lake, table, audit)


def test_delete_on_a_branch(lake: floe.Floe, table: floe.TableIdentifier, audit: int) -> None:
    result = lake.writes.delete(table, "id = 2", branch="audit")

    assert result.rows_deleted == 1
    assert result.snapshot_id == _branch_head(lake, table)
    assert ids_of(lake.reads.scan(table, ref="audit")) == [1, 3]
    _main_untouched(lake, table, audit)
    # A filter matching nothing on the branch commits nothing there.
    assert lake.writes.delete(table, "id = 2", branch="audit").snapshot_id is None


def test_streamed_append_to_a_branch(
    lake: floe.Floe, table: floe.TableIdentifier, audit: int
) -> None:
    stream = pa.RecordBatchReader.from_batches(
        SCHEMA, rows([30, 31, 32]).cast(SCHEMA).to_batches(max_chunksize=1)
    )

    result = lake.writes.append(table, stream, branch="audit", chunk_bytes=1)

    assert result.rows_added == 3
    assert result.snapshot_id == _branch_head(lake, table)
    assert ids_of(lake.reads.scan(table, ref="audit")) == [1, 2, 3, 30, 31, 32]
    _main_untouched(lake, table, audit)


def test_schema_evolution_on_a_branch_is_the_table_schema(
    lake: floe.Floe, table: floe.TableIdentifier, audit: int
) -> None:
    # Iceberg keeps one schema per table: a column added on a branch is the table's.
    wider = rows([40]).append_column("note", pa.array(["x"], pa.string()))

    lake.writes.append(table, wider, branch="audit", allow_schema_evolution=True)

    assert "note" in lake.tables.load(table).schema.names
    assert lake.reads.scan(table, ref="audit", row_filter="id = 40").column("note").to_pylist() == [
        "x"
    ]
    _main_untouched(lake, table, audit)


def test_main_writes_do_not_move_the_branch(
    lake: floe.Floe, table: floe.TableIdentifier, audit: int
) -> None:
    branch_head = _branch_head(lake, table)

    lake.writes.append(table, rows([50]))
    lake.writes.append(table, rows([51]), branch="main")

    assert _branch_head(lake, table) == branch_head
    assert ids_of(lake.reads.scan(table, ref="audit")) == [1, 2, 3]
    assert ids_of(lake.reads.scan(table)) == [1, 2, 3, 50, 51]


@pytest.mark.parametrize("mode", ["append", "overwrite", "upsert", "delete", "stream"])
def test_a_write_to_a_tag_or_an_unknown_branch_is_refused_and_nothing_moves(
    lake: floe.Floe, table: floe.TableIdentifier, audit: int, mode: str
) -> None:
    lake.refs.create_tag(table, "v1")
    before = [(r.name, r.snapshot_id) for r in lake.refs.list(table)]

    def write(branch: str) -> object:
        if mode == "append":
            return lake.writes.append(table, rows([9]), branch=branch)
        if mode == "overwrite":
            return lake.writes.overwrite(table, rows([9]), row_filter="id = 1", branch=branch)
        if mode == "upsert":
            return lake.writes.upsert(table, rows([9]), join_columns=["id"], branch=branch)
        if mode == "delete":
            return lake.writes.delete(table, "id = 1", branch=branch)
        reader = pa.RecordBatchReader.from_batches(SCHEMA, rows([9]).cast(SCHEMA).to_batches())
        return lake.writes.append(table, reader, branch=branch)

    with pytest.raises(floe.InvalidRefError, match=r"'v1' .* is a tag"):
        write("v1")
    with pytest.raises(floe.RefNotFoundError, match="no branch 'nope'"):
        write("nope")
    with pytest.raises(floe.InvalidRefError, match="empty"):
        write("")

    assert [(r.name, r.snapshot_id) for r in lake.refs.list(table)] == before
    assert [r.name for r in lake.refs.list(table)] == ["main", "audit", "v1"]
    _main_untouched(lake, table, audit)


def test_a_branch_write_to_a_missing_table_is_refused_even_with_create_if_missing(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    missing = floe.TableIdentifier(ns, "missing")

    with pytest.raises(floe.TableNotFoundError, match=r"branch 'audit'.*no branches"):
        lake.writes.append(missing, rows([1]), branch="audit", create_if_missing=floe.NewTable())

    assert not lake.tables.exists(missing)


def test_writes_to_a_branch_keep_its_retention(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    # PyIceberg's producers move a branch with a bare ref update; floe carries the settings over.
    lake.writes.append(table, rows([1, 2]))
    lake.refs.create_branch(
        table,
        "kept",
        max_ref_age_ms=86_400_000,
        max_snapshot_age_ms=60_000,
        min_snapshots_to_keep=4,
    )
    retention = lake.refs.get(table, "kept").retention

    lake.writes.append(table, rows([3]), branch="kept")
    lake.writes.overwrite(table, rows([4]), row_filter="id = 3", branch="kept")
    lake.writes.upsert(table, rows([4, 5]), join_columns=["id"], branch="kept")
    lake.writes.delete(table, "id = 5", branch="kept")

    assert lake.refs.get(table, "kept").retention == retention
    assert retention == floe.RefRetention(86_400_000, 4, 60_000)
    assert ids_of(lake.reads.scan(table, ref="kept")) == [1, 2, 4]
