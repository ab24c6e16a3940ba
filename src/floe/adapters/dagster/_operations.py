"""Maintenance operations a Dagster maintenance job runs on each table, and what they report.

Each operation is a frozen value holding its parameters; :meth:`run` calls
one ``lake.maintenance`` method on a table and returns the figures it
reports, as the ``floe/...`` metadata of the table's asset observation. A
new kind of maintenance is one more such value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Protocol

import attrs

from floe.application.maintenance import MaintenanceService
from floe.domain.compaction import (
    DEFAULT_MIN_INPUT_FILES,
    CompactResult,
    check_min_input_files,
    target_file_size,
)
from floe.domain.errors import InvalidConfigError
from floe.domain.health import small_file_threshold
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ExpireResult
from floe.domain.table_files import DEFAULT_ORPHAN_AGE, OrphanFilesResult, orphan_age

#: Iceberg's default snapshot age limit (``history.expire.max-snapshot-age-ms``).
DEFAULT_SNAPSHOT_AGE = timedelta(days=5)

Figures = Mapping[str, int | float | str]


class MaintenanceOperation(Protocol):
    """One maintenance step of a table: a value whose ``run`` does it and says what it did."""

    @property
    def name(self) -> str:
        """The operation's name, as logged (e.g. ``expire_snapshots``)."""

    def run(self, maintenance: MaintenanceService, table: TableIdentifier) -> Figures:
        """Run on one table.

        Args:
            maintenance: The lake's maintenance service.
            table: The table.

        Returns:
            Figures by ``floe/...`` metadata key.

        Raises:
            FloeStorageError: The operation failed.
        """


def _age(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise InvalidConfigError(
            f"{name} must be a non-negative timedelta, got {value!r}", subject=name
        )


def _bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidConfigError(f"{name} must be True or False, got {value!r}", subject=name)


@attrs.frozen
class Compact:
    """Rewrite small data files into files near the target size (``lake.maintenance.compact``).

    One ``replace`` snapshot per table, no row changes; partitions already
    compact are left alone. The replaced files stay on storage until an
    expiry drops the snapshots that read them: put :class:`ExpireSnapshots`
    after it.

    Attributes:
        target_file_size: The size to aim for; by default the table's
            ``write.target-file-size-bytes`` (512 MiB unless set).
        where: Only the files that may hold rows this filter selects
            (filter text, e.g. ``"ts >= '2024-05-01T00:00:00'"``).
        min_input_files: Small files a partition needs to be rewritten (>= 2).
        dry_run: Only plan and report.
    """

    target_file_size: int | None = None
    where: str | None = None
    min_input_files: int = DEFAULT_MIN_INPUT_FILES
    dry_run: bool = False
    name = "compact"

    def __attrs_post_init__(self) -> None:
        """Refuse bad parameters when the job is defined, not when it runs."""
        target_file_size({}, self.target_file_size)
        check_min_input_files(self.min_input_files)
        _bool("dry_run", self.dry_run)
        if self.where is not None and not isinstance(self.where, str):
            raise InvalidConfigError(
                f"where must be filter text, got {self.where!r:.80}", subject="where"
            )

    def run(self, maintenance: MaintenanceService, table: TableIdentifier) -> Figures:
        """Compact the table's small files; see :class:`MaintenanceOperation`."""
        return _compaction_figures(
            maintenance.compact(
                table,
                target_file_size=self.target_file_size,
                where=self.where,
                min_input_files=self.min_input_files,
                dry_run=self.dry_run,
            )
        )


def _compaction_figures(result: CompactResult) -> Figures:
    figures: dict[str, int | float | str] = {
        "floe/files_compacted": result.files_rewritten,
        "floe/bytes_rewritten": result.bytes_in,
        "floe/compacted_files_written": result.files_added,
        "floe/compacted_bytes_written": result.bytes_out,
        "floe/target_file_size": result.target_file_size,
    }
    if result.dry_run:
        figures["floe/compaction_dry_run"] = "planned only, nothing written"
    if result.skipped_with_deletes:
        figures["floe/partitions_with_deletes"] = ", ".join(result.skipped_with_deletes)
    return figures


@attrs.frozen
class ExpireSnapshots:
    """Expire snapshots (``lake.maintenance.expire_snapshots``) and delete their files.

    Attributes:
        older_than: Age beyond which snapshots may go (Iceberg's 5 days by
            default); ``None`` expires every snapshot but the
            ``retain_last`` newest.
        retain_last: How many of the newest snapshots always stay (>= 1).
        delete_files: Delete the files only the expired snapshots referenced.
    """

    older_than: timedelta | None = DEFAULT_SNAPSHOT_AGE
    retain_last: int = 1
    delete_files: bool = True
    name = "expire_snapshots"

    def __attrs_post_init__(self) -> None:
        """Refuse bad parameters when the job is defined, not when it runs."""
        _age("older_than", self.older_than)
        if (
            isinstance(self.retain_last, bool)
            or not isinstance(self.retain_last, int)
            or self.retain_last < 1
        ):
            raise InvalidConfigError(
                f"retain_last must be an integer >= 1, got {self.retain_last!r}",
                subject="retain_last",
            )
        _bool("delete_files", self.delete_files)

    def run(self, maintenance: MaintenanceService, table: TableIdentifier) -> Figures:
        """Expire the table's snapshots; see :class:`MaintenanceOperation`."""
        return _expiry_figures(
            maintenance.expire_snapshots(
                table,
                older_than=self.older_than,
                retain_last=self.retain_last,
                delete_files=self.delete_files,
            )
        )


def _expiry_figures(result: ExpireResult) -> Figures:
    deleted = result.deleted_files
    figures: dict[str, int | float | str] = {
        "floe/snapshots_expired": len(result.expired_snapshot_ids),
        "floe/snapshots_retained": len(result.retained_snapshot_ids),
        "floe/expired_files_deleted": deleted.files,
        "floe/expired_bytes_freed": deleted.size_bytes,
    }
    if deleted.failed_paths:
        figures["floe/expired_files_not_deleted"] = len(deleted.failed_paths)
    if deleted.skipped:
        figures["floe/expired_files_skipped"] = deleted.skipped
    return figures


@attrs.frozen
class RemoveOrphanFiles:
    """Delete files no metadata references (``lake.maintenance.remove_orphan_files``).

    Attributes:
        older_than: Age beyond which an unreferenced file is an orphan
            (Iceberg's 3 days by default; under a day only with
            ``allow_short_window``).
        dry_run: Only find and report the orphans.
        allow_short_window: Accept ``older_than`` under a day: only when no
            write to the tables can be in progress.
    """

    older_than: timedelta = DEFAULT_ORPHAN_AGE
    dry_run: bool = False
    allow_short_window: bool = False
    name = "remove_orphan_files"

    def __attrs_post_init__(self) -> None:
        """Refuse bad parameters when the job is defined, not when it runs."""
        _bool("dry_run", self.dry_run)
        _bool("allow_short_window", self.allow_short_window)
        orphan_age(
            self.older_than, dry_run=self.dry_run, allow_short_window=self.allow_short_window
        )

    def run(self, maintenance: MaintenanceService, table: TableIdentifier) -> Figures:
        """Remove the table's orphan files; see :class:`MaintenanceOperation`."""
        return _orphan_figures(
            maintenance.remove_orphan_files(
                table,
                older_than=self.older_than,
                dry_run=self.dry_run,
                allow_short_window=self.allow_short_window,
            )
        )


def _orphan_figures(result: OrphanFilesResult) -> Figures:
    figures: dict[str, int | float | str] = {
        "floe/orphan_files": len(result.orphan_paths),
        "floe/orphan_bytes": result.orphan_bytes,
        "floe/orphan_files_deleted": result.deleted.files,
        "floe/orphan_bytes_freed": result.deleted.size_bytes,
        "floe/recent_unreferenced_files": result.recent_files,
    }
    if result.deleted.failed_paths:
        figures["floe/orphan_files_not_deleted"] = len(result.deleted.failed_paths)
    return figures


@attrs.frozen
class Health:
    """Sum up the current snapshot's storage (``lake.maintenance.health``); deletes nothing.

    Attributes:
        small_file_bytes: The size under which a data file is small; by
            default a quarter of the table's target file size.
    """

    small_file_bytes: int | None = None
    name = "health"

    def __attrs_post_init__(self) -> None:
        """Refuse a bad threshold when the job is defined, not when it runs."""
        small_file_threshold({}, self.small_file_bytes)

    def run(self, maintenance: MaintenanceService, table: TableIdentifier) -> Figures:
        """Report the table's health; see :class:`MaintenanceOperation`."""
        health = maintenance.health(table, small_file_bytes=self.small_file_bytes)
        return {
            "floe/snapshots": health.snapshots,
            "floe/data_files": health.data_files,
            "floe/data_bytes": health.data_bytes,
            "floe/delete_files": health.delete_files,
            "floe/small_files": health.small_files,
            "floe/small_file_ratio": health.small_file_ratio,
            "floe/average_file_bytes": health.average_file_bytes,
            "floe/manifests": health.manifests,
            "floe/manifest_bytes": health.manifest_bytes,
            "floe/metadata_bytes": health.metadata_bytes,
        }


@attrs.frozen
class ByPolicy:
    """Compact, expire snapshots and remove orphans as the catalog's policies say.

    Runs ``lake.maintenance.maintain``: a catalog serving Apache Polaris'
    policy API gives the settings (``system.data-compaction``,
    ``system.snapshot-expiry``, ``system.orphan-file-removal``); a value
    set here wins over the policy; what neither sets takes the defaults; a
    disabled policy skips its operation (``floe/skipped``).

    Attributes:
        target_file_size: The size compaction aims for.
        older_than: Age beyond which snapshots may go.
        retain_last: How many of the newest snapshots always stay.
        orphan_older_than: Age beyond which an unreferenced file is an orphan.
        allow_short_window: Accept an orphan age under a day.
    """

    target_file_size: int | None = None
    older_than: timedelta | None = None
    retain_last: int | None = None
    orphan_older_than: timedelta | None = None
    allow_short_window: bool = False
    name = "maintain_by_policy"

    def __attrs_post_init__(self) -> None:
        """Refuse bad parameters when the job is defined, not when it runs."""
        target_file_size({}, self.target_file_size)
        _age("older_than", self.older_than)
        _age("orphan_older_than", self.orphan_older_than)
        if self.retain_last is not None:
            ExpireSnapshots(retain_last=self.retain_last)
        _bool("allow_short_window", self.allow_short_window)

    def run(self, maintenance: MaintenanceService, table: TableIdentifier) -> Figures:
        """Run the table's policy-driven maintenance; see :class:`MaintenanceOperation`."""
        run = maintenance.maintain(
            table,
            target_file_size=self.target_file_size,
            older_than=self.older_than,
            retain_last=self.retain_last,
            orphan_older_than=self.orphan_older_than,
            allow_short_window=self.allow_short_window,
        )
        figures: dict[str, int | float | str] = {}
        applied = run.policies
        policies = [
            p.name
            for p in (applied.data_compaction, applied.snapshot_expiry, applied.orphan_file_removal)
            if p is not None
        ]
        figures["floe/policies"] = ", ".join(policies) or "none"
        if run.skipped:
            figures["floe/skipped"] = "; ".join(run.skipped)
        if run.compacted is not None:
            figures.update(_compaction_figures(run.compacted))
        if run.expired is not None:
            figures.update(_expiry_figures(run.expired))
        if run.orphans is not None:
            figures.update(_orphan_figures(run.orphans))
        return figures


#: What a maintenance job runs by default, in this order: compaction first, so
#: that an expiry can drop the snapshots reading the files it replaced.
DEFAULT_OPERATIONS: tuple[MaintenanceOperation, ...] = (
    Compact(),
    ExpireSnapshots(),
    RemoveOrphanFiles(),
    Health(),
)


def totals(figures: Figures) -> dict[str, int]:
    """Files deleted and bytes freed by every operation together."""
    return {
        "floe/files_deleted": sum(
            int(figures.get(k, 0))
            for k in ("floe/expired_files_deleted", "floe/orphan_files_deleted")
        ),
        "floe/bytes_freed": sum(
            int(figures.get(k, 0)) for k in ("floe/expired_bytes_freed", "floe/orphan_bytes_freed")
        ),
    }
