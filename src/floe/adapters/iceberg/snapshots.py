"""Snapshot history and expiry of PyIceberg tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pyiceberg.table import Table

from floe.adapters.iceberg.guard import commit_outcome_guarded
from floe.domain.errors import SnapshotNotFoundError, WriteError
from floe.domain.models import SnapshotInfo
from floe.domain.retention import refs_by_snapshot, refuse_expiring_ref_heads


def snapshot_infos(table: Table) -> list[SnapshotInfo]:
    """Every snapshot of the table, oldest first, with the refs pointing at it.

    Args:
        table: The table.

    Returns:
        Each snapshot's id, parent, time, operation, summary and refs.
    """
    heads = _refs_by_snapshot(table)
    return [_snapshot_info(s, heads.get(s.snapshot_id, ())) for s in table.snapshots()]


def snapshot_info_of(table: Table, snapshot_id: int) -> SnapshotInfo | None:
    """One snapshot of the table with the refs pointing at it, ``None`` if it has none such."""
    snapshot = table.snapshot_by_id(snapshot_id)
    if snapshot is None:
        return None
    return _snapshot_info(snapshot, _refs_by_snapshot(table).get(snapshot_id, ()))


def expire(table: Table, name: str, snapshot_ids: Sequence[int]) -> tuple[int, ...]:
    """Expire the given snapshots in one commit (none: no commit).

    Args:
        table: The table.
        name: Its name, for messages.
        snapshot_ids: The snapshots to expire (repeats are ignored).

    Returns:
        The expired ids, in the order given.

    Raises:
        SnapshotNotFoundError: An id is not a snapshot of the table.
        WriteError: An id is the current snapshot or the head of a ref.
    """
    ids = list(dict.fromkeys(snapshot_ids))
    unknown = [i for i in ids if table.snapshot_by_id(i) is None]
    if unknown:
        raise SnapshotNotFoundError(f"table {name} has no snapshot(s) {unknown}", subject=name)
    current = table.current_snapshot()
    if current is not None and current.snapshot_id in ids:
        raise WriteError(
            f"cannot expire snapshot {current.snapshot_id}: it is the current "
            f"snapshot of table {name}",
            subject=name,
        )
    # Iceberg refuses to expire a ref's head; say which ref, before any commit.
    refuse_expiring_ref_heads(name, ids, _refs_by_snapshot(table))
    if ids:
        with commit_outcome_guarded(name):
            table.maintenance.expire_snapshots().by_ids(ids).commit()
    return tuple(ids)


def _snapshot_info(snapshot: object, refs: Iterable[str] = ()) -> SnapshotInfo:
    summary = getattr(snapshot, "summary", None)
    operation = summary.operation.value if summary is not None else "unknown"
    entries = {"operation": operation}
    if summary is not None:
        entries.update({str(k): str(v) for k, v in summary.additional_properties.items()})
    return SnapshotInfo(
        snapshot_id=snapshot.snapshot_id,  # type: ignore[attr-defined]
        parent_id=snapshot.parent_snapshot_id,  # type: ignore[attr-defined]
        timestamp_ms=snapshot.timestamp_ms,  # type: ignore[attr-defined]
        operation=operation,
        summary=entries,
        refs=refs,
    )


def _refs_by_snapshot(table: Table) -> dict[int, list[str]]:
    """For each snapshot a branch or tag points at, the names of those refs."""
    return refs_by_snapshot((name, ref.snapshot_id) for name, ref in table.refs().items())
