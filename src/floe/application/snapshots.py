"""Snapshot and time-travel use cases."""

from __future__ import annotations

from datetime import datetime

from floe.application.inputs import TableLike, as_identifier
from floe.domain.errors import InvalidScanError, RefNotFoundError, SnapshotNotFoundError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import SnapshotInfo
from floe.domain.refs import MAIN, ancestry, check_ref_name, off_branch_excluded
from floe.domain.retention import snapshot_as_of
from floe.ports.catalog import CatalogPort
from floe.ports.table_store import TableStorePort


def to_epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime.

    Raises:
        InvalidScanError: The datetime is naive (its zone would be a guess).
    """
    if moment.tzinfo is None:
        raise InvalidScanError(
            f"{moment.isoformat()} has no time zone; pass an aware datetime (e.g. UTC)"
        )
    return int(moment.timestamp() * 1000)


class SnapshotService:
    """List snapshots and find the one current at a given time.

    Args:
        catalog: The catalog port.
        store: The table store port.
    """

    def __init__(self, catalog: CatalogPort, store: TableStorePort) -> None:
        self._catalog = catalog
        self._store = store

    def list(self, table: TableLike) -> list[SnapshotInfo]:
        """The table's snapshots, oldest first.

        Raises:
            TableNotFoundError: The table does not exist.
        """
        return self._store.list_snapshots(as_identifier(table))

    def current(self, table: TableLike) -> SnapshotInfo | None:
        """The current snapshot, ``None`` before the first write.

        Raises:
            TableNotFoundError: The table does not exist.
        """
        identifier = as_identifier(table)
        current_id = self._catalog.load_table(identifier).current_snapshot_id
        if current_id is None:
            return None
        return self._by_id(identifier, current_id)

    def get(self, table: TableLike, snapshot_id: int) -> SnapshotInfo:
        """One snapshot by id.

        Raises:
            SnapshotNotFoundError: No such snapshot.
        """
        return self._by_id(as_identifier(table), snapshot_id)

    def as_of(self, table: TableLike, moment: datetime, *, ref: str | None = None) -> SnapshotInfo:
        """The snapshot that was current at ``moment`` (on ``ref``'s history, when given).

        Without ``ref``, the newest snapshot committed by then that ``main``
        held: commits made only on other branches are not ``main``'s (a
        snapshot a rollback left behind still counts: it was current). With
        ``ref``, the newest one among the ref's head and its ancestors.

        Raises:
            InvalidScanError: ``moment`` is naive.
            SnapshotNotFoundError: The table (or ref) had no snapshot yet at that time.
            RefNotFoundError: The table has no branch or tag ``ref``.
        """
        identifier = as_identifier(table)
        at_ms = to_epoch_ms(moment)
        snapshots = self._store.list_snapshots(identifier)
        where = ""
        if ref is not None:
            head = next((s for s in snapshots if check_ref_name(ref) in s.refs), None)
            if head is None and ref != MAIN:
                raise RefNotFoundError(
                    f"table {identifier} has no branch or tag {ref!r}", subject=str(identifier)
                )
            snapshots = ancestry(snapshots, None if head is None else head.snapshot_id)
            where = f" on {ref!r}"
        else:
            snapshots = off_branch_excluded(snapshots)
        found = snapshot_as_of(snapshots, at_ms)
        if found is None:
            raise SnapshotNotFoundError(
                f"table {identifier} had no snapshot{where} at {moment.isoformat()}",
                subject=str(identifier),
            )
        return found

    def _by_id(self, identifier: TableIdentifier, snapshot_id: int) -> SnapshotInfo:
        for snapshot in self._store.list_snapshots(identifier):
            if snapshot.snapshot_id == snapshot_id:
                return snapshot
        raise SnapshotNotFoundError(
            f"table {identifier} has no snapshot {snapshot_id}", subject=str(identifier)
        )
