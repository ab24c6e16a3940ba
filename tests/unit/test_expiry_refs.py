"""Expiry and refs: the domain rule keeps ref heads, the use case reports them."""

from __future__ import annotations

import pyarrow as pa

import floe
from floe import SnapshotInfo
from floe.adapters.memory.catalog import MemoryCatalog
from floe.adapters.memory.state import MemoryWarehouse
from floe.adapters.memory.store import MemoryTableStore
from floe.adapters.memory.table_files import MemoryTableFiles
from floe.application.maintenance import MaintenanceService
from floe.domain.models import RetentionPolicy
from floe.domain.refs import RefKind, RefRetention
from floe.domain.retention import snapshots_protected_by_refs, snapshots_to_expire

MINUTE = 60_000
NOW = 5 * MINUTE


def _snap(snapshot_id: int, *refs: str) -> SnapshotInfo:
    return SnapshotInfo(snapshot_id, None, snapshot_id * MINUTE, "append", refs=refs)


# Four commits a minute apart; 4 is current (main), 1 is tagged, 2 heads a branch.
HISTORY = [_snap(1, "v1"), _snap(2, "dev"), _snap(3), _snap(4, "main")]


def test_ref_heads_are_not_expired() -> None:
    assert snapshots_to_expire(HISTORY, 4, NOW, RetentionPolicy(retain_last=1)) == (3,)


def test_ref_heads_past_retention_are_reported_oldest_first() -> None:
    assert snapshots_protected_by_refs(HISTORY, 4, NOW, RetentionPolicy(retain_last=1)) == (1, 2)


def test_a_ref_head_the_policy_keeps_anyway_is_not_reported() -> None:
    # retain_last=3 keeps 2, 3, 4: only the tag on 1 saves a snapshot.
    assert snapshots_protected_by_refs(HISTORY, 4, NOW, RetentionPolicy(retain_last=3)) == (1,)
    # The current snapshot is kept for being current, whatever refs it has.
    assert snapshots_protected_by_refs(HISTORY, 4, NOW, RetentionPolicy(retain_last=1)) == (1, 2)


def test_refs_are_kept_sorted() -> None:
    assert _snap(7, "zeta", "alpha").refs == ("alpha", "zeta")


def test_the_use_case_expires_the_rest_and_reports_what_a_ref_kept() -> None:
    warehouse = MemoryWarehouse()
    catalog, store = MemoryCatalog(warehouse), MemoryTableStore(warehouse)
    catalog.create_namespace(("n",))
    table = floe.TableIdentifier(("n",), "t")
    catalog.create_table(table, pa.schema([pa.field("id", pa.int64())]))
    data = pa.table({"id": pa.array([1], pa.int64())})
    written = [store.append(table, data).snapshot_id for _ in range(3)]
    store.create_ref(table, "v1", RefKind.TAG, written[0], RefRetention())
    service = MaintenanceService(
        catalog, store, MemoryTableFiles(warehouse), clock_ms=lambda: 10**15
    )

    result = service.expire_snapshots(table, retain_last=1)

    assert result.expired_snapshot_ids == (written[1],)
    assert result.protected_snapshot_ids == (written[0],)
    assert result.retained_snapshot_ids == (written[0], written[2])


def test_a_snapshot_is_the_same_snapshot_whatever_refs_point_at_it() -> None:
    # A later commit moves main off a snapshot; the history is unchanged.
    assert _snap(4, "main") == _snap(4)
