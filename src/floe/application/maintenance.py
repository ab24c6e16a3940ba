"""Maintenance use cases: snapshot expiry, orphan-file removal, storage health."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta

import attrs

from floe.application.inputs import TableLike, as_identifier
from floe.application.policy_runs import MaintenanceRun, run_by_policy
from floe.domain.compaction import (
    DEFAULT_MIN_INPUT_FILES,
    CompactResult,
    ManifestRewriteResult,
    check_min_input_files,
    plan_compaction,
    summarize,
)
from floe.domain.compaction import (
    target_file_size as target_file_size_for,
)
from floe.domain.errors import FloeStorageError, InvalidConfigError
from floe.domain.health import TableHealth, small_file_threshold, table_health
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ExpireResult, RetentionPolicy, RowFilter
from floe.domain.refs import MAIN, kept_by_branch_retention
from floe.domain.retention import snapshots_protected_by_refs, snapshots_to_expire
from floe.domain.table_files import (
    DEFAULT_ORPHAN_AGE,
    FileKind,
    FilesDeleted,
    OrphanFilesResult,
    TableFile,
    find_orphans,
    orphan_age,
    unreferenced,
)
from floe.ports.catalog import CatalogPort
from floe.ports.policies import PolicyPort
from floe.ports.table_files import TableFilesPort
from floe.ports.table_store import TableStorePort


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def _flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidConfigError(f"{name} must be True or False, got {value!r}", subject=name)


class MaintenanceService:
    """Expire old snapshots and reclaim the storage no snapshot needs any more.

    Args:
        catalog: The catalog port.
        store: The table store port.
        files: The table files port (what metadata references, what storage holds).
        clock_ms: The present in epoch milliseconds (injectable for tests).
        policies: The policies port (the catalog's maintenance policies), for
            :meth:`maintain`; ``None``: no policy applies.
    """

    def __init__(
        self,
        catalog: CatalogPort,
        store: TableStorePort,
        files: TableFilesPort,
        clock_ms: Callable[[], int] = _wall_clock_ms,
        policies: PolicyPort | None = None,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._files = files
        self._clock_ms = clock_ms
        self._policies = policies

    def expire_snapshots(
        self,
        table: TableLike,
        *,
        older_than: timedelta | None = None,
        retain_last: int = 1,
        delete_files: bool = True,
        dry_run: bool = False,
    ) -> ExpireResult:
        """Expire snapshots older than ``older_than``, keeping the ``retain_last`` newest.

        The current snapshot is never expired, nor is a snapshot a branch or
        tag points at: those are kept and reported in
        ``protected_snapshot_ids``. With ``older_than=None`` every other
        snapshot but the ``retain_last`` newest is expired.

        With ``delete_files`` (the default), once the expiry has committed
        the files of the expired snapshots that no snapshot left references
        are deleted: data and delete files, manifests, manifest lists and
        statistics. What is still referenced is read from the table as it is
        after the commit, so a file a concurrent commit made or kept is never
        deleted. Deletion problems after the commit are reported in
        ``deleted_files`` (``failed_paths``, ``skipped``), not raised: the
        expiry happened, and a file left behind is only an orphan, which
        :meth:`remove_orphan_files` removes. Old metadata files are bounded
        by the table itself (see ``docs/maintenance.md``).

        A dry run commits and deletes nothing: it reports the snapshots that
        would expire, and in ``unreferenced_files`` the files that would be
        deleted, read from the table as it is now without those snapshots.
        A commit landing between a dry run and a real run can change both.

        Args:
            table: The table.
            older_than: Age beyond which snapshots may go.
            retain_last: How many of the newest snapshots always stay (>= 1).
            delete_files: Delete the files the expired snapshots alone
                referenced; ``False`` only edits the metadata.
            dry_run: Only find and report what would expire and be deleted.

        Returns:
            The expired, the retained and the ref-protected snapshot ids, the
            files no snapshot references any more and those deleted.

        Raises:
            InvalidConfigError: ``retain_last`` < 1, a negative age, or
                ``delete_files`` or ``dry_run`` not a bool.
            TableNotFoundError: The table does not exist.
            CommitStateUnknownError: The expiry commit was sent but its answer
                was lost; it may or may not have been applied (list the
                snapshots to learn which). It is not re-sent, and no file is
                deleted.
            WriteError: The expiry commit failed (nothing expired, nothing
                deleted), e.g. a branch or tag was moved onto a chosen
                snapshot meanwhile.
            FloeStorageError: The expired snapshots' files could not be read
                before the commit (nothing expired).
        """
        if older_than is not None and older_than < timedelta(0):
            raise InvalidConfigError(
                f"older_than must not be negative, got {older_than}", subject="older_than"
            )
        _flag("delete_files", delete_files)
        _flag("dry_run", dry_run)
        policy = RetentionPolicy(
            max_age_ms=None if older_than is None else int(older_than.total_seconds() * 1000),
            retain_last=retain_last,
        )
        identifier = as_identifier(table)
        refs = self._store.list_refs(identifier)
        current = next((r.snapshot_id for r in refs if r.name == MAIN), None)
        snapshots = self._store.list_snapshots(identifier)
        now_ms = self._clock_ms()
        kept = kept_by_branch_retention(snapshots, refs, now_ms)
        doomed = snapshots_to_expire(snapshots, current, now_ms, policy, kept)
        # Read before the commit: afterwards the expired snapshots are gone.
        candidates = (
            self._files.snapshot_files(identifier, doomed) if doomed and delete_files else []
        )

        def retained(gone: set[int]) -> tuple[int, ...]:
            return tuple(s.snapshot_id for s in snapshots if s.snapshot_id not in gone)

        result = ExpireResult(
            table=identifier,
            expired_snapshot_ids=tuple(doomed),
            retained_snapshot_ids=retained(set(doomed)),
            protected_snapshot_ids=snapshots_protected_by_refs(
                snapshots, current, now_ms, policy, kept
            ),
            dry_run=dry_run,
        )
        if dry_run:
            # What the table would reference without them: the files a run would delete.
            left = self._files.referenced_files(identifier, without=doomed) if candidates else []
            return attrs.evolve(result, unreferenced_files=unreferenced(candidates, left))
        expired = self._store.expire_snapshots(identifier, doomed) if doomed else ()
        chosen, deleted = self._delete_unreferenced(identifier, candidates)
        return attrs.evolve(
            result,
            expired_snapshot_ids=tuple(expired),
            retained_snapshot_ids=retained(set(expired)),
            deleted_files=deleted,
            unreferenced_files=chosen,
        )

    def _delete_unreferenced(
        self, identifier: TableIdentifier, candidates: Sequence[TableFile]
    ) -> tuple[tuple[TableFile, ...], FilesDeleted]:
        """Delete the candidates the table, read afresh, no longer references (never raises).

        Returns:
            The files chosen for deletion, and what was deleted.
        """
        if not candidates:
            return (), FilesDeleted()
        try:
            referenced = self._files.referenced_files(identifier)
        except FloeStorageError as exc:
            return (), FilesDeleted(
                skipped=f"the table could not be read after the expiry ({exc}), so what it "
                "still references is unknown: nothing was deleted; remove_orphan_files "
                "removes the files later"
            )
        doomed = unreferenced(candidates, referenced)
        if not doomed:
            return (), FilesDeleted()
        try:
            return doomed, self._files.delete_files(identifier, doomed)
        except FloeStorageError as exc:
            return doomed, FilesDeleted(
                failed_paths=[f.path for f in doomed],
                skipped=f"the files could not be deleted ({exc}); they are orphans for "
                "remove_orphan_files",
            )

    def remove_orphan_files(
        self,
        table: TableLike,
        *,
        older_than: timedelta = DEFAULT_ORPHAN_AGE,
        dry_run: bool = False,
        allow_short_window: bool = False,
    ) -> OrphanFilesResult:
        """Delete the files under the table's location that its metadata does not reference.

        Such files are left by writes that failed or crashed before their
        commit, by expiries run with ``delete_files=False`` or whose
        deletions failed, and by metadata files a table no longer logs. A
        write in progress has files no metadata names yet too: only files
        last modified more than ``older_than`` ago are orphans, the younger
        ones are counted in ``recent_files`` and left alone. Storage is
        listed first and the metadata read afterwards, so a file committed
        in between is referenced.

        Only the table's location is searched; a file the table references
        elsewhere is never listed, and another table's files inside this
        table's location would be taken for orphans (tables floe creates
        never nest).

        Args:
            table: The table.
            older_than: The age beyond which an unreferenced file is an
                orphan: Iceberg's 3 days by default, at least one day unless
                ``allow_short_window`` (or ``dry_run``).
            dry_run: Find and report the orphans, delete nothing.
            allow_short_window: Accept ``older_than`` under a day: only when
                no write to the table can be in progress.

        Returns:
            The orphans (paths and bytes), what was deleted and what could
            not be, and how many unreferenced files were too young.

        Raises:
            InvalidConfigError: ``older_than`` is not a timedelta, negative,
                or under a day without ``allow_short_window``; a flag is not
                a bool.
            TableNotFoundError: The table does not exist.
            FloeStorageError: Storage could not be listed or the metadata
                read (nothing deleted).
        """
        _flag("dry_run", dry_run)
        _flag("allow_short_window", allow_short_window)
        age = orphan_age(older_than, dry_run=dry_run, allow_short_window=allow_short_window)
        identifier = as_identifier(table)
        cutoff_ms = self._clock_ms() - age // timedelta(milliseconds=1)
        stored = self._files.list_files(identifier)
        referenced = self._files.referenced_files(identifier)
        search = find_orphans(stored, referenced, cutoff_ms)
        deleted = FilesDeleted()
        if search.orphans and not dry_run:
            deleted = self._files.delete_files(
                identifier,
                [TableFile(f.path, FileKind.ORPHAN, f.size_bytes) for f in search.orphans],
            )
        return OrphanFilesResult(
            table=identifier,
            older_than=age,
            dry_run=dry_run,
            orphan_paths=tuple(f.path for f in search.orphans),
            orphan_bytes=sum(f.size_bytes for f in search.orphans),
            deleted=deleted,
            recent_files=search.recent,
        )

    def health(self, table: TableLike, *, small_file_bytes: int | None = None) -> TableHealth:
        """Sum up the storage of the table's current snapshot.

        Args:
            table: The table.
            small_file_bytes: The size under which a data file counts as
                small; by default a quarter of the table's
                ``write.target-file-size-bytes`` (512 MiB unless set).

        Returns:
            Snapshots, data and delete files with their bytes, small files,
            manifests and the current metadata file's size.

        Raises:
            InvalidConfigError: ``small_file_bytes`` is not a positive integer.
            TableNotFoundError: The table does not exist.
        """
        small_file_threshold({}, small_file_bytes)  # bad input fails before any I/O
        identifier = as_identifier(table)
        info = self._catalog.load_table(identifier)
        threshold = small_file_threshold(info.properties, small_file_bytes)
        snapshots = self._store.list_snapshots(identifier)
        current = self._files.current_files(identifier)
        return table_health(identifier, len(snapshots), current, threshold)

    def compact(
        self,
        table: TableLike,
        *,
        target_file_size: int | None = None,
        where: RowFilter | None = None,
        min_input_files: int = DEFAULT_MIN_INPUT_FILES,
        dry_run: bool = False,
    ) -> CompactResult:
        """Rewrite the small data files of each partition into files near the target size.

        A data file under 3/4 of the target is small. In each partition (of
        the spec each file was written with) holding at least
        ``min_input_files`` small files, they are packed, largest first, into
        bins of at most the target size; each bin of two or more files is
        rewritten as one file under the table's current schema and
        partition spec (one per partition of that spec, when files written
        before a partition field was added are split by it). Every bin
        lands in ONE commit, an Iceberg ``replace`` snapshot: no row
        changes, so reads, time travel and ``total-records`` are as before,
        and the snapshot summary counts the files and rows replaced. Files
        are read and written two bins at a time: memory holds about two
        output files' rows.

        A partition to which row-level delete files apply (written by other
        engines; floe writes none) is left alone and reported in
        ``skipped_with_deletes``. A concurrent append is kept: the commit
        checks only that the replaced files are still live. A concurrent
        overwrite or delete of a replaced file aborts the compaction: nothing
        is committed and the files it wrote are deleted.

        Args:
            table: The table.
            target_file_size: The size to aim for; by default the table's
                ``write.target-file-size-bytes`` (512 MiB unless set).
            where: Only the files that may hold rows this filter selects are
                considered; a filter on partition columns selects whole
                partitions.
            min_input_files: Small files a partition needs to be rewritten (>= 2).
            dry_run: Only plan and report; ``files_added`` then counts the
                files that would be written.

        Returns:
            The files rewritten and written per partition, the snapshot, and
            the partitions left alone.

        Raises:
            InvalidConfigError: ``target_file_size`` or ``min_input_files`` is
                not a valid integer, or ``dry_run`` not a bool.
            InvalidFilterError: ``where`` is malformed or names an unknown column.
            TableNotFoundError: The table does not exist.
            CommitConflictError: A file to rewrite was removed by a concurrent
                commit; the table is unchanged.
            CommitStateUnknownError: The commit's answer was lost.
            WriteError: The rewrite failed; the table is unchanged.
        """
        target_file_size_for({}, target_file_size)  # bad input fails before any I/O
        check_min_input_files(min_input_files)
        _flag("dry_run", dry_run)
        identifier = as_identifier(table)
        info = self._catalog.load_table(identifier)
        target = target_file_size_for(info.properties, target_file_size)
        found = self._store.compaction_candidates(identifier, where)
        plan = plan_compaction(found.files, target_bytes=target, min_input_files=min_input_files)
        result = CompactResult(
            table=identifier,
            snapshot_id=None,
            dry_run=dry_run,
            target_file_size=target,
            partitions=summarize(plan, None),
            skipped_compact=plan.already_compact,
            skipped_with_deletes=plan.with_deletes,
        )
        if dry_run or not plan.bins:
            return result
        outcome = self._store.rewrite_data_files(identifier, plan.bins)
        return attrs.evolve(
            result,
            snapshot_id=outcome.snapshot_id,
            partitions=summarize(plan, outcome.outputs),
        )

    def rewrite_manifests(self, table: TableLike) -> ManifestRewriteResult:
        """Rewrite the current snapshot's manifests into one per partition spec.

        Each append adds a manifest; after many small appends, planning a
        scan opens every one. The rewrite commits one ``replace`` snapshot
        (no row changes) whose manifests list the same live files; manifests
        that only mark files deleted are dropped. Nothing is committed when
        the snapshot has at most one manifest. A commit landing meanwhile
        is kept: the rewrite is re-applied on the fresh table.

        Args:
            table: The table.

        Returns:
            The snapshot committed (``None`` if none) and the manifests of
            the current snapshot before and after.

        Raises:
            TableNotFoundError: The table does not exist.
            CommitStateUnknownError: The commit's answer was lost.
            WriteError: The rewrite failed; the table is unchanged.
        """
        identifier = as_identifier(table)
        done = self._store.rewrite_manifests(identifier)
        return ManifestRewriteResult(
            table=identifier,
            snapshot_id=done.snapshot_id,
            manifests_before=done.manifests_before,
            manifests_after=done.manifests_after,
        )

    def maintain(
        self,
        table: TableLike,
        *,
        target_file_size: int | None = None,
        older_than: timedelta | None = None,
        retain_last: int | None = None,
        orphan_older_than: timedelta | None = None,
        delete_files: bool = True,
        allow_short_window: bool = False,
    ) -> MaintenanceRun:
        """Compact, expire snapshots, then remove orphan files, as the catalog's policies say.

        A catalog serving Apache Polaris' policy API applies maintenance
        policies to the table (its own or inherited from its namespaces and
        catalog): ``system.data-compaction`` gives ``target_file_size``
        (``target_file_size_bytes``), ``system.snapshot-expiry`` gives
        ``retain_last`` (``min_snapshot_to_keep``) and ``older_than``
        (``max_snapshot_age_days``), ``system.orphan-file-removal`` gives
        ``orphan_older_than`` (``max_orphan_file_age_in_days``). An argument
        given here wins over the policy; what neither gives takes the
        defaults (compaction aims at the table's
        ``write.target-file-size-bytes``; snapshots older than 5 days go,
        the newest stays; orphans older than 3 days go). A policy with
        ``"enable": false`` skips its operation (reported in ``skipped``). A
        catalog without policies (not serving the endpoint, the embedded
        catalog) runs all three with the defaults.

        The operations run in that order: the expiry can then drop the
        snapshots that still read the files compaction replaced, and orphan
        removal judges the table as the other two left it. Every setting is
        checked before the first one runs; an operation that fails stops
        the run (those before it have happened).

        Args:
            table: The table.
            target_file_size: The size compaction aims for.
            older_than: Age beyond which snapshots may go.
            retain_last: How many of the newest snapshots always stay (>= 1).
            orphan_older_than: Age beyond which an unreferenced file is an orphan.
            delete_files: Let the expiry delete the files it unreferenced.
            allow_short_window: Accept an orphan age under a day.

        Returns:
            The policies found and what each operation did.

        Raises:
            InvalidPolicyError: A maintenance policy's content is malformed;
                nothing was run.
            InvalidConfigError: A setting (given or from a policy) is out of
                range, e.g. an orphan age under a day; nothing was run.
            TableNotFoundError: The table does not exist.
            CommitConflictError: A concurrent commit removed a file being
                compacted; nothing was compacted, expired or removed.
            FloeStorageError: As :meth:`compact`, :meth:`expire_snapshots`
                and :meth:`remove_orphan_files`.
        """
        _flag("delete_files", delete_files)
        _flag("allow_short_window", allow_short_window)
        return run_by_policy(
            self,
            self._policies,
            as_identifier(table),
            target_file_size=target_file_size,
            older_than=older_than,
            retain_last=retain_last,
            orphan_older_than=orphan_older_than,
            delete_files=delete_files,
            allow_short_window=allow_short_window,
        )
