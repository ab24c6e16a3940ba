"""Snapshot retention and time travel: pure rules over a table's snapshots.

A version is a snapshot: every floe write that commits makes exactly one
(an overwrite or an updating upsert is one ``overwrite`` snapshot), so
counting snapshots counts commits. Writers that split one commit into
several snapshots (PyIceberg's own overwrite: ``delete`` then ``append``)
leave intermediate snapshots that these rules count like any other: a
snapshot does not record which commit made it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from floe.domain.errors import WriteError
from floe.domain.models import RetentionPolicy, SnapshotInfo


def snapshots_to_expire(
    snapshots: Sequence[SnapshotInfo],
    current_snapshot_id: int | None,
    now_ms: int,
    policy: RetentionPolicy,
    kept_by_refs: Collection[int] = (),
) -> tuple[int, ...]:
    """Choose the snapshots to expire.

    Kept: the current snapshot, every snapshot a branch or tag points at
    (``SnapshotInfo.refs``) or a branch's retention keeps (``kept_by_refs``,
    see :func:`floe.domain.refs.kept_by_branch_retention`), the
    ``retain_last`` newest snapshots (the
    ``retain_last`` newest commits of a table floe writes), and
    (when ``policy.max_age_ms`` is set) every snapshot committed at or after
    ``now_ms - max_age_ms``. Everything else is expired.

    Args:
        snapshots: The table's snapshots, in any order.
        current_snapshot_id: The table's current snapshot, never expired.
        now_ms: The present, milliseconds since the epoch.
        policy: The retention policy.
        kept_by_refs: Snapshots the refs' own retention keeps besides their heads.

    Returns:
        Ids to expire, oldest first.
    """
    candidates = _past_retention(snapshots, current_snapshot_id, now_ms, policy)
    kept = set(kept_by_refs)
    return tuple(s.snapshot_id for s in candidates if not s.refs and s.snapshot_id not in kept)


def snapshots_protected_by_refs(
    snapshots: Sequence[SnapshotInfo],
    current_snapshot_id: int | None,
    now_ms: int,
    policy: RetentionPolicy,
    kept_by_refs: Collection[int] = (),
) -> tuple[int, ...]:
    """The snapshots past retention that are kept because a branch or tag points at them.

    These are exactly the snapshots :func:`snapshots_to_expire` would choose
    if refs (their heads and ``kept_by_refs``) did not count (the current
    snapshot is kept for being current, not listed here).

    Args:
        snapshots: The table's snapshots, in any order.
        current_snapshot_id: The table's current snapshot.
        now_ms: The present, milliseconds since the epoch.
        policy: The retention policy.
        kept_by_refs: Snapshots the refs' own retention keeps besides their heads.

    Returns:
        Their ids, oldest first.
    """
    candidates = _past_retention(snapshots, current_snapshot_id, now_ms, policy)
    kept = set(kept_by_refs)
    return tuple(s.snapshot_id for s in candidates if s.refs or s.snapshot_id in kept)


def _past_retention(
    snapshots: Sequence[SnapshotInfo],
    current_snapshot_id: int | None,
    now_ms: int,
    policy: RetentionPolicy,
) -> list[SnapshotInfo]:
    """The snapshots neither current nor kept by the policy, oldest first."""
    newest_first = sorted(snapshots, key=lambda s: (s.timestamp_ms, s.snapshot_id), reverse=True)
    keep = {s.snapshot_id for s in newest_first[: policy.retain_last]}
    if current_snapshot_id is not None:
        keep.add(current_snapshot_id)
    if policy.max_age_ms is not None:
        cutoff = now_ms - policy.max_age_ms
        keep.update(s.snapshot_id for s in snapshots if s.timestamp_ms >= cutoff)
    return [s for s in reversed(newest_first) if s.snapshot_id not in keep]


def refs_by_snapshot(refs: Iterable[tuple[str, int]]) -> dict[int, list[str]]:
    """For each snapshot a branch or tag points at, the names of those refs.

    Args:
        refs: ``(ref name, snapshot id)`` pairs, as a table lists its refs.
    """
    heads: dict[int, list[str]] = {}
    for name, snapshot_id in refs:
        heads.setdefault(snapshot_id, []).append(name)
    return heads


def refuse_expiring_ref_heads(
    table: str, snapshot_ids: Iterable[int], heads: Mapping[int, Sequence[str]]
) -> None:
    """Refuse an expiry that names a snapshot a branch or tag points at.

    :func:`snapshots_to_expire` never chooses one; this guards a store handed
    ids chosen before a ref moved onto one of them.

    Raises:
        WriteError: Naming the snapshots and their refs; nothing expires.
    """
    protected = {i: list(heads[i]) for i in dict.fromkeys(snapshot_ids) if i in heads}
    if protected:
        raise WriteError(
            f"cannot expire snapshot(s) of table {table} that a branch or tag "
            f"points at: {protected}; nothing expired",
            subject=table,
        )


def snapshot_as_of(snapshots: Sequence[SnapshotInfo], at_ms: int) -> SnapshotInfo | None:
    """The snapshot that was current at ``at_ms``: the newest committed at or before it.

    For a table floe writes, that is the state after the last commit at or
    before ``at_ms``.

    Args:
        snapshots: The table's snapshots, in any order.
        at_ms: The instant, milliseconds since the epoch.

    Returns:
        That snapshot, or ``None`` if the table had none yet.
    """
    earlier = [s for s in snapshots if s.timestamp_ms <= at_ms]
    if not earlier:
        return None
    return max(earlier, key=lambda s: (s.timestamp_ms, s.snapshot_id))
