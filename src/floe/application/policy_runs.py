"""A policy-driven maintenance run: expiry and orphan removal as the catalog's policies say."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

import attrs

from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ExpireResult
from floe.domain.policies import TablePolicies, expiry_settings, orphan_settings, table_policies
from floe.domain.table_files import DEFAULT_ORPHAN_AGE, OrphanFilesResult
from floe.ports.policies import PolicyPort


@attrs.frozen
class MaintenanceRun:
    """What a policy-driven maintenance run did to one table.

    Attributes:
        table: The table.
        policies: The maintenance policies the catalog applies to it.
        expired: The snapshot expiry's result (``None`` when skipped).
        orphans: The orphan-file removal's result (``None`` when skipped).
        skipped: The operations a disabled policy skipped, with the policy's name.
    """

    table: TableIdentifier
    policies: TablePolicies
    expired: ExpireResult | None = None
    orphans: OrphanFilesResult | None = None
    skipped: tuple[str, ...] = ()


class _Operations(Protocol):
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
    older_than: timedelta | None,
    retain_last: int | None,
    orphan_older_than: timedelta | None,
    delete_files: bool,
    allow_short_window: bool,
) -> MaintenanceRun:
    """Expire snapshots, then remove orphans, with the settings the policies give.

    Raises:
        InvalidPolicyError: A maintenance policy's content is malformed
            (nothing was run).
    """
    applied = table_policies(() if policies is None else policies.applicable_policies(identifier))
    expiry = expiry_settings(
        applied.snapshot_expiry, older_than=older_than, retain_last=retain_last
    )
    orphan_age = orphan_settings(
        applied.orphan_file_removal, older_than=orphan_older_than, default=DEFAULT_ORPHAN_AGE
    )
    skipped: list[str] = []
    expired = orphans = None
    if expiry is None:
        skipped.append(_skipped("expire_snapshots", applied.snapshot_expiry))
    else:
        expired = operations.expire_snapshots(
            identifier,
            older_than=expiry.older_than,
            retain_last=expiry.retain_last,
            delete_files=delete_files,
        )
    if orphan_age is None:
        skipped.append(_skipped("remove_orphan_files", applied.orphan_file_removal))
    else:
        orphans = operations.remove_orphan_files(
            identifier, older_than=orphan_age, allow_short_window=allow_short_window
        )
    return MaintenanceRun(
        table=identifier,
        policies=applied,
        expired=expired,
        orphans=orphans,
        skipped=tuple(skipped),
    )


def _skipped(operation: str, policy: object) -> str:
    return f"{operation}: policy {getattr(policy, 'name', '')!r} is disabled"
