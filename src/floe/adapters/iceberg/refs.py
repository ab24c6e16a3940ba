"""Branches and tags of PyIceberg tables: listed, created, dropped, moved, cherry-picked onto.

Every change is one commit of PyIceberg's ``ManageSnapshots`` (or, for a
cherry-pick, one fast-append snapshot producer) inside
:func:`commit_outcome_guarded`. PyIceberg sets a ref without asking whether
it exists and, writing to a branch it does not know, starts a new branch
from no snapshot at all; floe checks first, so a name never silently
replaces a ref and a write to a misspelt branch is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyiceberg.manifest import DataFile, ManifestEntryStatus
from pyiceberg.table import Table, Transaction
from pyiceberg.table.refs import MAIN_BRANCH, SnapshotRef, SnapshotRefType
from pyiceberg.table.snapshots import Operation
from pyiceberg.table.update import (
    AddSnapshotUpdate,
    AssertRefSnapshotId,
    SetSnapshotRefUpdate,
    TableRequirement,
    TableUpdate,
)

from floe.adapters.iceberg.guard import commit_outcome_guarded
from floe.adapters.iceberg.streaming import append_producer
from floe.domain.errors import (
    CommitConflictError,
    InvalidRefError,
    RefExistsError,
    RefNotFoundError,
    SnapshotNotFoundError,
    WriteError,
)
from floe.domain.refs import Ref, RefKind, RefRetention, check_ref_name


class BranchSafe(Transaction):
    """A transaction whose snapshot commits are safe next to writers of other branches.

    Two things PyIceberg 0.12's snapshot producers leave out, restored for
    every update staged (commit retries stage afresh, so they get them too):

    * **Retention**: a branch is moved with a ``set-snapshot-ref`` update
      naming the snapshot only, which the catalog applies by replacing the
      ref: every write to a branch would drop its ``min-snapshots-to-keep``,
      ``max-snapshot-age-ms`` and ``max-ref-age-ms``. They are carried over,
      as Java's writers do.
    * **Sequence numbers**: a new snapshot takes the table's next sequence
      number as read. The commit asserts only the head of the branch it
      moves, so a commit that landed meanwhile on another branch makes the
      catalog refuse it as a bad request (its sequence number is no longer
      above the last), which nothing retries. The commit also asserts the
      head of every other ref, so such a commit is refused as a conflict
      instead and PyIceberg's commit retry re-applies it on fresh metadata,
      with a fresh sequence number.
    """

    def _stage(
        self,
        updates: tuple[TableUpdate, ...],
        requirements: tuple[TableRequirement, ...] = (),
    ) -> Transaction:
        refs = self.table_metadata.refs
        kept = tuple(_keeping_retention(update, refs) for update in updates)
        staged = super()._stage(kept, requirements)
        if any(isinstance(update, AddSnapshotUpdate) for update in kept):
            asserted = {r.ref for r in self._requirements if isinstance(r, AssertRefSnapshotId)}
            self._requirements += tuple(
                AssertRefSnapshotId(ref=name, snapshot_id=ref.snapshot_id)  # type: ignore[call-arg]
                for name, ref in refs.items()
                if name not in asserted
            )
        return staged


def _keeping_retention(update: TableUpdate, refs: Mapping[str, SnapshotRef]) -> TableUpdate:
    if not isinstance(update, SetSnapshotRefUpdate) or update.ref_name not in refs:
        return update
    ref = refs[update.ref_name]
    unset = (
        update.max_ref_age_ms is None
        and update.max_snapshot_age_ms is None
        and update.min_snapshots_to_keep is None
    )
    if not unset or ref.snapshot_ref_type != SnapshotRefType.BRANCH:
        return update
    return update.model_copy(
        update={
            "max_ref_age_ms": ref.max_ref_age_ms,
            "max_snapshot_age_ms": ref.max_snapshot_age_ms,
            "min_snapshots_to_keep": ref.min_snapshots_to_keep,
        }
    )


def transaction(table: Table) -> Transaction:
    """A transaction of ``table`` for writes (see :class:`BranchSafe`)."""
    return BranchSafe(table)


def ref_of(name: str, ref: SnapshotRef) -> Ref:
    """A PyIceberg snapshot ref as floe's value."""
    return Ref(
        name,
        RefKind(ref.snapshot_ref_type.value),
        ref.snapshot_id,
        RefRetention(
            max_ref_age_ms=ref.max_ref_age_ms,
            min_snapshots_to_keep=ref.min_snapshots_to_keep,
            max_snapshot_age_ms=ref.max_snapshot_age_ms,
        ),
    )


def list_refs(table: Table) -> list[Ref]:
    """The table's refs, ``main`` first, then by name."""
    refs = table.refs()
    return [ref_of(n, refs[n]) for n in sorted(refs, key=lambda n: (n != MAIN_BRANCH, n))]


def write_target(table: Table, name: str, branch: str | None) -> str:
    """The branch a write commits to: ``main`` for ``None``, else an existing branch.

    Raises:
        RefNotFoundError: No ref of that name.
        InvalidRefError: It is a tag.
    """
    if branch is None or branch == MAIN_BRANCH:
        return MAIN_BRANCH
    check_ref_name(branch)
    ref = table.metadata.refs.get(branch)
    if ref is None:
        raise RefNotFoundError(
            f"table {name} has no branch {branch!r}; create it first (lake.refs.create_branch)",
            subject=name,
        )
    if ref.snapshot_ref_type != SnapshotRefType.BRANCH:
        raise InvalidRefError(
            f"{branch!r} of table {name} is a tag: tags never move, write to a branch",
            subject=name,
        )
    return branch


def create_ref(
    table: Table,
    name: str,
    ref_name: str,
    kind: RefKind,
    snapshot_id: int | None,
    retention: RefRetention,
) -> Ref:
    """Create a branch or tag in one commit.

    Raises:
        RefExistsError: The name is taken.
        SnapshotNotFoundError: No such snapshot, or none at all.
    """
    if ref_name == MAIN_BRANCH or ref_name in table.metadata.refs:
        raise RefExistsError(f"table {name} already has a ref {ref_name!r}", subject=name)
    if snapshot_id is None:
        current = table.current_snapshot()
        if current is None:
            raise SnapshotNotFoundError(
                f"table {name} has no snapshot yet: a {kind.value} needs one to point at "
                "(write to main first)",
                subject=name,
            )
        snapshot_id = current.snapshot_id
    elif table.snapshot_by_id(snapshot_id) is None:
        raise SnapshotNotFoundError(f"table {name} has no snapshot {snapshot_id}", subject=name)
    manage = table.manage_snapshots()
    if kind is RefKind.TAG:
        manage.create_tag(snapshot_id, ref_name, max_ref_age_ms=retention.max_ref_age_ms)
    else:
        manage.create_branch(
            snapshot_id,
            ref_name,
            max_ref_age_ms=retention.max_ref_age_ms,
            max_snapshot_age_ms=retention.max_snapshot_age_ms,
            min_snapshots_to_keep=retention.min_snapshots_to_keep,
        )
    with commit_outcome_guarded(name):
        manage.commit()
    return ref_of(ref_name, table.metadata.refs[ref_name])


def drop_ref(table: Table, name: str, ref_name: str, kind: RefKind) -> None:
    """Remove a branch or tag in one commit.

    Raises:
        RefNotFoundError: No ref of that name and kind.
    """
    ref = table.metadata.refs.get(ref_name)
    if ref_name == MAIN_BRANCH or ref is None or ref.snapshot_ref_type.value != kind.value:
        raise RefNotFoundError(f"table {name} has no {kind.value} {ref_name!r}", subject=name)
    manage = table.manage_snapshots()
    if kind is RefKind.TAG:
        manage.remove_tag(ref_name)
    else:
        manage.remove_branch(ref_name)
    with commit_outcome_guarded(name):
        manage.commit()


def set_branch(
    table: Table, name: str, branch: str, snapshot_id: int, expected_id: int | None
) -> None:
    """Point ``branch`` at ``snapshot_id`` if it is at ``expected_id``: one asserted commit.

    The commit carries PyIceberg's ``assert-ref-snapshot-id`` on the head
    read here, so the catalog refuses it when the branch moved after.

    Raises:
        RefNotFoundError, InvalidRefError: As :func:`write_target`.
        SnapshotNotFoundError: No such snapshot.
        CommitConflictError: The branch is not at ``expected_id``.
    """
    target = write_target(table, name, branch)
    if table.snapshot_by_id(snapshot_id) is None:
        raise SnapshotNotFoundError(f"table {name} has no snapshot {snapshot_id}", subject=name)
    head = table.metadata.snapshot_by_name(target)
    head_id = None if head is None else head.snapshot_id
    if head_id != expected_id:
        raise CommitConflictError(
            f"branch {target!r} of table {name} moved to snapshot {head_id} (expected "
            f"{expected_id}); nothing changed",
            subject=name,
        )
    manage = table.manage_snapshots()
    if target == MAIN_BRANCH:
        manage.set_current_snapshot(snapshot_id=snapshot_id)
    else:
        ref = table.metadata.refs[target]
        manage.create_branch(
            snapshot_id,
            target,
            max_ref_age_ms=ref.max_ref_age_ms,
            max_snapshot_age_ms=ref.max_snapshot_age_ms,
            min_snapshots_to_keep=ref.min_snapshots_to_keep,
        )
    with commit_outcome_guarded(name):
        manage.commit()


def cherry_pick_appends(
    table: Table,
    name: str,
    snapshot_ids: Sequence[int],
    onto: str,
    snapshot_properties: Mapping[str, str] | None,
) -> int | None:
    """Add the files the given append snapshots added to ``onto``, in one fast-append commit.

    Returns:
        The snapshot committed; ``None`` when the snapshots added no file.

    Raises:
        SnapshotNotFoundError: An id is not a snapshot of the table.
        WriteError: A snapshot is not an append, or wrote under another spec.
        RefNotFoundError, InvalidRefError: As :func:`write_target`.
    """
    target = write_target(table, name, onto)
    files = _added_files(table, name, snapshot_ids)
    spec_id = table.spec().spec_id
    stale = sorted({f.file_path for f in files if f.spec_id != spec_id})
    if stale:
        raise WriteError(
            f"cannot replay onto {target!r} of table {name}: {len(stale)} file(s) were written "
            f"under an older partition spec (e.g. {stale[0]}); nothing was committed",
            subject=name,
        )
    if not files:
        return None
    tx = transaction(table)
    producer = append_producer(tx, dict(snapshot_properties or {}), branch=target)
    for data_file in files:
        producer.append_data_file(data_file)
    producer.commit()
    with commit_outcome_guarded(name):
        # A refused commit deletes its manifests only: the data files belong
        # to the branch snapshots and stay.
        tx.commit_transaction()
    head = table.metadata.snapshot_by_name(target)
    return None if head is None else head.snapshot_id


def _added_files(table: Table, name: str, snapshot_ids: Sequence[int]) -> list[DataFile]:
    """The data files each append snapshot added, in order."""
    files: list[DataFile] = []
    for snapshot_id in snapshot_ids:
        snapshot = table.snapshot_by_id(snapshot_id)
        if snapshot is None:
            raise SnapshotNotFoundError(f"table {name} has no snapshot {snapshot_id}", subject=name)
        operation = snapshot.summary.operation if snapshot.summary is not None else None
        if operation != Operation.APPEND:
            raise WriteError(
                f"snapshot {snapshot_id} of table {name} is not an append "
                f"({operation.value if operation else 'unknown'}): only appends are replayed; "
                "nothing was committed",
                subject=name,
            )
        for manifest in snapshot.manifests(table.io):
            if manifest.added_snapshot_id != snapshot_id:
                continue
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                if entry.status == ManifestEntryStatus.ADDED and entry.snapshot_id == snapshot_id:
                    files.append(entry.data_file)
    return files
