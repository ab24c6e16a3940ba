"""A policy-driven maintenance run: compaction, expiry and orphan removal as the policies say."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

import attrs

from floe.domain.compaction import CompactResult
from floe.domain.compaction import target_file_size as check_target_file_size
from floe.domain.errors import InvalidConfigError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ExpireResult, RetentionPolicy
from floe.domain.policies import (
    CompactionSettings,
    ExpirySettings,
    TablePolicies,
    compaction_settings,
    expiry_settings,
    orphan_settings,
    table_policies,
)
from floe.domain.table_files import DEFAULT_ORPHAN_AGE, OrphanFilesResult, orphan_age
from floe.ports.policies import PolicyPort


@attrs.frozen
class MaintenanceRun:
    """What a policy-driven maintenance run did to one table.

    Attributes:
        table: The table.
        policies: The maintenance policies the catalog applies to it.
        compacted: The compaction's result (``None`` when skipped).
        expired: The snapshot expiry's result (``None`` when skipped).
        orphans: The orphan-file removal's result (``None`` when skipped).
        skipped: The operations a disabled policy skipped, with the policy's name.
    """

    table: TableIdentifier
    policies: TablePolicies
    compacted: CompactResult | None = None
    expired: ExpireResult | None = None
    orphans: OrphanFilesResult | None = None
    skipped: tuple[str, ...] = ()


class _Operations(Protocol):
    def compact(
        self, table: TableIdentifier, *, target_file_size: int | None = None
    ) -> CompactResult: ...

    def expire_snapshots(
        self,
        table: TableIdentifier,
        *,
        older_than: timedelta | None = None,
        retain_last: int = 1,
        delete_files: bool = True,
    ) -> ExpireResult: ...

    def remove_orphan_files(
        self,
        table: TableIdentifier,
        *,
        older_than: timedelta = DEFAULT_ORPHAN_AGE,
        dry_run: bool = False,
        allow_short_window: bool = False,
    ) -> OrphanFilesResult: ...


def run_by_policy(
    operations: _Operations,
    policies: PolicyPort | None,
    identifier: TableIdentifier,
    *,
    target_file_size: int | None,
    older_than: timedelta | None,
    retain_last: int | None,
    orphan_older_than: timedelta | None,
    delete_files: bool,
    allow_short_window: bool,
) -> MaintenanceRun:
    """Compact, then expire snapshots, then remove orphans, with the settings the policies give.

    Compaction comes first so that the expiry of the same run can already
    drop the snapshots that read the small files it replaced, and orphan
    removal comes last so that it judges the table as the other two left it.
    Every setting is checked before anything runs.

    Raises:
        InvalidPolicyError: A maintenance policy's content is malformed
            (nothing was run).
        InvalidConfigError: A setting, given or from a policy, is out of
            range (nothing was run).
    """
    applied = table_policies(() if policies is None else policies.applicable_policies(identifier))
    compaction = compaction_settings(applied.data_compaction, target_file_size=target_file_size)
    expiry = expiry_settings(
        applied.snapshot_expiry, older_than=older_than, retain_last=retain_last
    )
    orphan_window = orphan_settings(
        applied.orphan_file_removal, older_than=orphan_older_than, default=DEFAULT_ORPHAN_AGE
    )
    _check(compaction, expiry, orphan_window, allow_short_window=allow_short_window)
    skipped: list[str] = []
    compacted = expired = orphans = None
    if compaction is None:
        skipped.append(_skipped("compact", applied.data_compaction))
    else:
        compacted = operations.compact(identifier, target_file_size=compaction.target_file_size)
    if expiry is None:
        skipped.append(_skipped("expire_snapshots", applied.snapshot_expiry))
    else:
        expired = operations.expire_snapshots(
            identifier,
            older_than=expiry.older_than,
            retain_last=expiry.retain_last,
            delete_files=delete_files,
        )
    if orphan_window is None:
        skipped.append(_skipped("remove_orphan_files", applied.orphan_file_removal))
    else:
        orphans = operations.remove_orphan_files(
            identifier, older_than=orphan_window, allow_short_window=allow_short_window
        )
    return MaintenanceRun(
        table=identifier,
        policies=applied,
        compacted=compacted,
        expired=expired,
        orphans=orphans,
        skipped=tuple(skipped),
    )


def _check(
    compaction: CompactionSettings | None,
    expiry: ExpirySettings | None,
    orphan_window: timedelta | None,
    *,
    allow_short_window: bool,
) -> None:
    """Refuse a bad setting before the first operation changes the table."""
    if compaction is not None and compaction.target_file_size is not None:
        check_target_file_size({}, compaction.target_file_size)
    if expiry is not None:
        if expiry.older_than < timedelta(0):
            raise InvalidConfigError(
                f"older_than must not be negative, got {expiry.older_than}", subject="older_than"
            )
        RetentionPolicy(retain_last=expiry.retain_last)
    if orphan_window is not None:
        orphan_age(orphan_window, dry_run=False, allow_short_window=allow_short_window)


def _skipped(operation: str, policy: object) -> str:
    return f"{operation}: policy {getattr(policy, 'name', '')!r} is disabled"
