"""Maintenance use cases: snapshot expiry by age and count."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from floe.application.inputs import TableLike, as_identifier
from floe.domain.errors import InvalidConfigError
from floe.domain.models import ExpireResult, RetentionPolicy
from floe.domain.retention import snapshots_protected_by_refs, snapshots_to_expire
from floe.ports.catalog import CatalogPort
from floe.ports.table_store import TableStorePort


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class MaintenanceService:
    """Expire old snapshots to bound metadata and storage.

    Args:
        catalog: The catalog port.
        store: The table store port.
        clock_ms: The present in epoch milliseconds (injectable for tests).
    """

    def __init__(
        self,
        catalog: CatalogPort,
        store: TableStorePort,
        clock_ms: Callable[[], int] = _wall_clock_ms,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._clock_ms = clock_ms

    def expire_snapshots(
        self,
        table: TableLike,
        *,
        older_than: timedelta | None = None,
        retain_last: int = 1,
    ) -> ExpireResult:
        """Expire snapshots older than ``older_than``, keeping the ``retain_last`` newest.

        The current snapshot is never expired, nor is a snapshot a branch or
        tag points at: those are kept and reported in
        ``protected_snapshot_ids``. With ``older_than=None`` every other
        snapshot but the ``retain_last`` newest is expired.

        Args:
            table: The table.
            older_than: Age beyond which snapshots may go.
            retain_last: How many of the newest snapshots always stay (>= 1).

        Returns:
            The expired, the retained and the ref-protected snapshot ids.

        Raises:
            InvalidConfigError: ``retain_last`` < 1 or a negative age.
            TableNotFoundError: The table does not exist.
            CommitStateUnknownError: The expiry commit was sent but its answer
                was lost; it may or may not have been applied (list the
                snapshots to learn which). It is not re-sent.
            WriteError: The expiry commit failed (nothing expired), e.g. a
                branch or tag was moved onto a chosen snapshot meanwhile.
        """
        if older_than is not None and older_than < timedelta(0):
            raise InvalidConfigError(
                f"older_than must not be negative, got {older_than}", subject="older_than"
            )
        policy = RetentionPolicy(
            max_age_ms=None if older_than is None else int(older_than.total_seconds() * 1000),
            retain_last=retain_last,
        )
        identifier = as_identifier(table)
        info = self._catalog.load_table(identifier)
        snapshots = self._store.list_snapshots(identifier)
        now_ms = self._clock_ms()
        doomed = snapshots_to_expire(snapshots, info.current_snapshot_id, now_ms, policy)
        expired = self._store.expire_snapshots(identifier, doomed) if doomed else ()
        gone = set(expired)
        return ExpireResult(
            table=identifier,
            expired_snapshot_ids=tuple(expired),
            retained_snapshot_ids=tuple(
                s.snapshot_id for s in snapshots if s.snapshot_id not in gone
            ),
            protected_snapshot_ids=snapshots_protected_by_refs(
                snapshots, info.current_snapshot_id, now_ms, policy
            ),
        )
