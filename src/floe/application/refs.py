"""Branch and tag use cases: create, list, drop, roll back, publish (write-audit-publish)."""

from __future__ import annotations

from collections.abc import Mapping

from floe.application.inputs import TableLike, as_identifier
from floe.domain.errors import CommitConflictError, InvalidRefError, RefNotFoundError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import SnapshotInfo
from floe.domain.refs import (
    MAIN,
    PublishKind,
    PublishResult,
    Ref,
    RefKind,
    RefRetention,
    check_ref_name,
    plan_publish,
    rollback_target,
)
from floe.ports.table_store import TableStorePort

#: How many times a publish re-plans when ``main`` moves under it.
PUBLISH_ATTEMPTS = 3


class RefService:
    """Branches and tags of tables, and publishing a branch onto ``main``.

    The write-audit-publish cycle: :meth:`create_branch`, write with
    ``branch=`` (``lake.writes``), read it back with ``ref=``
    (``lake.reads``), then :meth:`publish` it, or :meth:`drop_branch` it.

    Args:
        store: The table store port.
    """

    def __init__(self, store: TableStorePort) -> None:
        self._store = store

    def list(self, table: TableLike) -> list[Ref]:
        """The table's branches and tags, ``main`` first (once the table has a snapshot).

        Raises:
            TableNotFoundError: The table does not exist.
        """
        return self._store.list_refs(as_identifier(table))

    def get(self, table: TableLike, name: str) -> Ref:
        """One branch or tag by name.

        Raises:
            RefNotFoundError: No such ref (``main`` has none before the first write).
            TableNotFoundError: The table does not exist.
        """
        identifier = as_identifier(table)
        check_ref_name(name)
        for ref in self._store.list_refs(identifier):
            if ref.name == name:
                return ref
        raise RefNotFoundError(
            f"table {identifier} has no branch or tag {name!r}", subject=str(identifier)
        )

    def create_branch(
        self,
        table: TableLike,
        name: str,
        *,
        snapshot_id: int | None = None,
        max_ref_age_ms: int | None = None,
        max_snapshot_age_ms: int | None = None,
        min_snapshots_to_keep: int | None = None,
    ) -> Ref:
        """Create a branch at a snapshot (default: ``main``'s head), in one commit.

        Args:
            table: The table.
            name: The branch's name.
            snapshot_id: Where it starts; ``None``: the current snapshot.
            max_ref_age_ms: The branch may be removed once its head is older.
            max_snapshot_age_ms: The branch keeps its snapshots younger than this.
            min_snapshots_to_keep: The branch keeps at least this many snapshots.

        Returns:
            The branch.

        Raises:
            InvalidRefError: A bad name or retention value.
            RefExistsError: A branch or tag of that name exists (``main`` does).
            SnapshotNotFoundError: No such snapshot, or the table has none yet.
            TableNotFoundError: The table does not exist.
        """
        retention = RefRetention(max_ref_age_ms, min_snapshots_to_keep, max_snapshot_age_ms)
        return self._create(table, name, RefKind.BRANCH, snapshot_id, retention)

    def create_tag(
        self,
        table: TableLike,
        name: str,
        *,
        snapshot_id: int | None = None,
        max_ref_age_ms: int | None = None,
    ) -> Ref:
        """Tag a snapshot (default: ``main``'s head), in one commit; tags never move.

        Args:
            table: The table.
            name: The tag's name.
            snapshot_id: The snapshot; ``None``: the current one.
            max_ref_age_ms: The tag may be removed once it is older than this.

        Returns:
            The tag.

        Raises:
            As :meth:`create_branch`.
        """
        retention = RefRetention(max_ref_age_ms=max_ref_age_ms)
        return self._create(table, name, RefKind.TAG, snapshot_id, retention)

    def drop_branch(self, table: TableLike, name: str) -> None:
        """Remove a branch; its snapshots stay until expiry removes them.

        Raises:
            InvalidRefError: ``name`` is ``main`` (it cannot be dropped) or not a name.
            RefNotFoundError: The table has no branch ``name``.
            TableNotFoundError: The table does not exist.
        """
        self._drop(table, name, RefKind.BRANCH)

    def drop_tag(self, table: TableLike, name: str) -> None:
        """Remove a tag; its snapshot stays until expiry removes it.

        Raises:
            InvalidRefError: ``name`` is not a name.
            RefNotFoundError: The table has no tag ``name``.
            TableNotFoundError: The table does not exist.
        """
        self._drop(table, name, RefKind.TAG)

    def rollback(
        self, table: TableLike, *, snapshot_id: int | None = None, tag: str | None = None
    ) -> SnapshotInfo:
        """Move ``main`` back to one of its past snapshots, given by id or by a tag, in one commit.

        Only ``main``'s own history can be returned to (the head's ancestors);
        other states reach ``main`` by :meth:`publish`. Nothing is deleted:
        the snapshots after the target stay until expired.

        Args:
            table: The table.
            snapshot_id: The snapshot to return to.
            tag: Or the tag pointing at it.

        Returns:
            The snapshot ``main`` now points at.

        Raises:
            InvalidRefError: Neither or both given, or the target is not in
                ``main``'s history.
            RefNotFoundError: No such tag.
            SnapshotNotFoundError: No such snapshot.
            CommitConflictError: ``main`` moved meanwhile; nothing changed.
            TableNotFoundError: The table does not exist.
        """
        identifier = as_identifier(table)
        if (snapshot_id is None) == (tag is None):
            raise InvalidRefError(
                f"roll back table {identifier}: give either snapshot_id or tag",
                subject=str(identifier),
            )
        if tag is not None:
            ref = self.get(identifier, tag)
            if ref.kind is not RefKind.TAG:
                raise InvalidRefError(
                    f"roll back table {identifier}: {tag!r} is a branch, not a tag",
                    subject=str(identifier),
                )
            snapshot_id = ref.snapshot_id
        target = int(snapshot_id)  # type: ignore[arg-type]  # given, or the tag's
        snapshots = self._store.list_snapshots(identifier)
        main_head = _head(snapshots, MAIN)
        rollback_target(str(identifier), snapshots, main_head, target)
        if target != main_head:
            self._store.set_branch(identifier, MAIN, target, expected_id=main_head)
        return next(s for s in snapshots if s.snapshot_id == target)

    def publish(
        self,
        table: TableLike,
        branch: str,
        *,
        replay_appends: bool = False,
        drop_branch: bool = False,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> PublishResult:
        """Make a branch's data ``main``'s: one commit, or none when there is nothing to do.

        When ``main`` has not moved since the branch was cut (its head is an
        ancestor of the branch head), ``main`` is fast-forwarded to the
        branch head: readers of ``main`` then see exactly what was audited
        on the branch. When ``main`` moved, the publish is refused
        (:class:`BranchDivergedError`, naming both heads) unless
        ``replay_appends``: then the files the branch's snapshots added are
        committed onto ``main`` in one append snapshot, provided every
        branch snapshot since it left ``main`` is an append (anything else
        could clash with what ``main`` did meanwhile, so it is refused).
        ``main`` moving again during the publish makes it plan again (at
        most :data:`PUBLISH_ATTEMPTS` times); a refused publish leaves
        ``main`` as it was.

        Args:
            table: The table.
            branch: The branch to publish.
            replay_appends: Replay the branch's appends when ``main`` moved.
            drop_branch: Drop the branch after publishing (a second commit;
                if it fails, ``main`` stays published and the branch stays).
            snapshot_properties: Extra summary entries of a replay's snapshot.

        Returns:
            What was done, and ``main``'s head before and after.

        Raises:
            InvalidRefError: ``branch`` is ``main``, a tag or not a name.
            RefNotFoundError: The table has no branch ``branch``.
            BranchDivergedError: ``main`` moved and no replay was asked for,
                or the branch cannot be replayed; nothing was committed.
            CommitConflictError: ``main`` kept moving; nothing was committed.
            CommitStateUnknownError, WriteError: The commit failed.
            TableNotFoundError: The table does not exist.
        """
        identifier = as_identifier(table)
        name = str(identifier)
        if check_ref_name(branch) == MAIN:
            raise InvalidRefError(f"publish of table {name}: main is published already")
        ref = self.get(identifier, branch)
        if not ref.is_branch:
            raise InvalidRefError(
                f"publish of table {name}: {branch!r} is a tag; publish a branch, or roll "
                "main back to the tag",
                subject=name,
            )
        result = self._publish(identifier, branch, replay_appends, snapshot_properties)
        if drop_branch:
            self._store.drop_ref(identifier, branch, RefKind.BRANCH)
            result = PublishResult(
                result.table,
                result.branch,
                result.kind,
                result.snapshot_id,
                result.previous_main_id,
                result.replayed_snapshot_ids,
                branch_dropped=True,
            )
        return result

    def _publish(
        self,
        identifier: TableIdentifier,
        branch: str,
        replay_appends: bool,
        snapshot_properties: Mapping[str, str] | None,
    ) -> PublishResult:
        name = str(identifier)
        for attempt in range(PUBLISH_ATTEMPTS):
            snapshots = self._store.list_snapshots(identifier)
            main_head = _head(snapshots, MAIN)
            branch_head = _head(snapshots, branch)
            if branch_head is None:
                raise RefNotFoundError(f"table {name} has no branch {branch!r}", subject=name)
            plan = plan_publish(
                name, branch, snapshots, main_head, branch_head, replay_appends=replay_appends
            )
            if plan.kind is PublishKind.UP_TO_DATE:
                return PublishResult(name, branch, plan.kind, main_head, main_head)
            if plan.kind is PublishKind.FAST_FORWARD:
                try:
                    self._store.set_branch(identifier, MAIN, branch_head, expected_id=main_head)
                except CommitConflictError:
                    if attempt + 1 == PUBLISH_ATTEMPTS:
                        raise
                    continue  # main moved after planning: plan again on what it is now
                return PublishResult(name, branch, plan.kind, branch_head, main_head)
            written = self._store.cherry_pick_appends(
                identifier,
                plan.replay,
                onto=MAIN,
                snapshot_properties={
                    "floe.published-branch": branch,
                    **dict(snapshot_properties or {}),
                },
            )
            return PublishResult(
                name,
                branch,
                plan.kind,
                written.snapshot_id if written.snapshot_id is not None else main_head,
                main_head,
                plan.replay,
            )
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _create(
        self,
        table: TableLike,
        name: str,
        kind: RefKind,
        snapshot_id: int | None,
        retention: RefRetention,
    ) -> Ref:
        identifier = as_identifier(table)
        Ref(name, kind, 0, retention)  # validates the name and retention before any call
        return self._store.create_ref(identifier, name, kind, snapshot_id, retention)

    def _drop(self, table: TableLike, name: str, kind: RefKind) -> None:
        identifier = as_identifier(table)
        if check_ref_name(name) == MAIN:
            raise InvalidRefError(
                f"table {identifier}: main cannot be dropped", subject=str(identifier)
            )
        self._store.drop_ref(identifier, name, kind)


def _head(snapshots: list[SnapshotInfo], ref: str) -> int | None:
    """The snapshot ``ref`` points at, as the history lists it (``None``: none)."""
    return next((s.snapshot_id for s in snapshots if ref in s.refs), None)
