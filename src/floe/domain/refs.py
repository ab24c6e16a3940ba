"""Branches and tags: their values, and the rules of rollback and publish over a history.

A ref names a snapshot. ``main`` is the branch readers see by default; other
branches move with the writes made to them, tags never move. Publishing a
branch makes its data ``main``'s: a fast-forward when ``main`` has not moved
since the branch was cut, else (when asked) a replay of the branch's appends
onto ``main`` in one commit. The rules here are pure: they read snapshots as
:class:`SnapshotInfo` values and decide; adapters only carry the decision out.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import attrs

from floe.domain.errors import BranchDivergedError, InvalidRefError, SnapshotNotFoundError
from floe.domain.models import SnapshotInfo

#: The branch readers and writers use when they name none.
MAIN = "main"

_NAME_LIMIT = 255


class RefKind(enum.StrEnum):
    """What a ref is: a branch (moves with writes) or a tag (fixed)."""

    BRANCH = "branch"
    TAG = "tag"


def check_ref_name(name: object) -> str:
    """A ref name as given, or :class:`InvalidRefError` saying what is wrong with it.

    A name is text of 1 to 255 printable characters, not blank and without
    surrounding spaces (a catalog keeps them, a reader would not see them).

    Raises:
        InvalidRefError: Not text, empty, blank, too long, padded or with a
            control character.
    """
    if not isinstance(name, str):
        raise InvalidRefError(f"a branch or tag name is text, not {type(name).__name__}")
    if not name.strip():
        raise InvalidRefError("a branch or tag name must not be empty or blank")
    if len(name) > _NAME_LIMIT:
        raise InvalidRefError(
            f"branch or tag name {name[:40]!r}... is {len(name)} characters; at most "
            f"{_NAME_LIMIT} are allowed",
            subject=name[:40],
        )
    if name != name.strip():
        raise InvalidRefError(
            f"branch or tag name {name!r} starts or ends with spaces", subject=name
        )
    if not name.isprintable():
        raise InvalidRefError(
            f"branch or tag name {name!r} holds a control character", subject=name
        )
    return name


def _positive_or_none(_: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidRefError(
            f"{attribute.name} must be a positive integer or None, got {value!r}",
            subject=attribute.name,
        )


@attrs.frozen
class RefRetention:
    """How long a ref and the snapshots of a branch are kept (Iceberg's ref retention).

    ``None`` leaves the table's defaults to apply.

    Attributes:
        max_ref_age_ms: The ref itself may be removed once its head is older.
        min_snapshots_to_keep: A branch keeps at least this many of its newest
            snapshots (branches only).
        max_snapshot_age_ms: A branch keeps its snapshots younger than this
            (branches only).
    """

    max_ref_age_ms: int | None = attrs.field(default=None, validator=_positive_or_none)
    min_snapshots_to_keep: int | None = attrs.field(default=None, validator=_positive_or_none)
    max_snapshot_age_ms: int | None = attrs.field(default=None, validator=_positive_or_none)


def _name(_: object, __: attrs.Attribute[str], value: str) -> None:
    check_ref_name(value)


@attrs.frozen
class Ref:
    """A branch or tag of a table.

    Attributes:
        name: The ref's name (``main`` is the table's main branch).
        kind: Branch or tag.
        snapshot_id: The snapshot it points at (a branch's head).
        retention: Its retention settings.

    Raises:
        InvalidRefError: A bad name, or branch-only retention on a tag.
    """

    name: str = attrs.field(validator=_name)
    kind: RefKind = attrs.field(converter=RefKind)
    snapshot_id: int
    retention: RefRetention = attrs.field(factory=RefRetention)

    def __attrs_post_init__(self) -> None:
        if self.kind is RefKind.TAG and (
            self.retention.min_snapshots_to_keep is not None
            or self.retention.max_snapshot_age_ms is not None
        ):
            raise InvalidRefError(
                f"tag {self.name!r}: min_snapshots_to_keep and max_snapshot_age_ms apply "
                "to branches only (a tag keeps exactly one snapshot)",
                subject=self.name,
            )

    @property
    def is_branch(self) -> bool:
        """Whether this ref is a branch."""
        return self.kind is RefKind.BRANCH


def ancestry(snapshots: Sequence[SnapshotInfo], head_id: int | None) -> list[SnapshotInfo]:
    """The snapshots from ``head_id`` back along parent links, newest first.

    The walk stops at a snapshot without parent, or whose parent was
    expired (no longer in ``snapshots``).

    Args:
        snapshots: The table's snapshots, in any order.
        head_id: Where to start (``None``: nothing).
    """
    by_id = {s.snapshot_id: s for s in snapshots}
    found: list[SnapshotInfo] = []
    seen: set[int] = set()
    at = head_id
    while at is not None and at in by_id and at not in seen:
        seen.add(at)
        found.append(by_id[at])
        at = by_id[at].parent_id
    return found


def is_ancestor(snapshots: Sequence[SnapshotInfo], ancestor_id: int, head_id: int | None) -> bool:
    """Whether ``ancestor_id`` is ``head_id`` or one of its ancestors."""
    return any(s.snapshot_id == ancestor_id for s in ancestry(snapshots, head_id))


def off_branch_excluded(snapshots: Sequence[SnapshotInfo]) -> list[SnapshotInfo]:
    """The snapshots minus those only other refs reach: what ``main`` may have held.

    A snapshot in the history of a branch or tag head but not in ``main``'s
    was committed elsewhere; ``main`` never pointed at it (until a publish,
    which makes it ``main``'s ancestor). Snapshots no ref reaches (left by a
    rollback) are kept: they were ``main``'s once.

    Args:
        snapshots: The table's snapshots with their refs.
    """
    main_head = next((s.snapshot_id for s in snapshots if MAIN in s.refs), None)
    on_main = {s.snapshot_id for s in ancestry(snapshots, main_head)}
    elsewhere: set[int] = set()
    for head in (s for s in snapshots if s.refs and MAIN not in s.refs):
        elsewhere.update(a.snapshot_id for a in ancestry(snapshots, head.snapshot_id))
    return [s for s in snapshots if s.snapshot_id in on_main or s.snapshot_id not in elsewhere]


def kept_by_branch_retention(
    snapshots: Sequence[SnapshotInfo], refs: Sequence[Ref], now_ms: int
) -> frozenset[int]:
    """The snapshots branches other than ``main`` keep by their own retention settings.

    As Iceberg's snapshot expiry reads a branch's ``min-snapshots-to-keep``
    and ``max-snapshot-age-ms``: walking back from the head, an ancestor is
    kept while fewer than ``min_snapshots_to_keep`` (default 1: the head)
    are kept, or while it is younger than ``max_snapshot_age_ms``; the walk
    stops at the first one neither keeps. A branch without either setting
    keeps its head only (which expiry keeps anyway). ``main``'s snapshots
    follow the expiry's own policy.

    Args:
        snapshots: The table's snapshots.
        refs: The table's refs.
        now_ms: The present, milliseconds since the epoch.
    """
    kept: set[int] = set()
    for ref in refs:
        retention = ref.retention
        if not ref.is_branch or ref.name == MAIN:
            continue
        if retention.min_snapshots_to_keep is None and retention.max_snapshot_age_ms is None:
            continue
        least = retention.min_snapshots_to_keep or 1
        cutoff = (
            None
            if retention.max_snapshot_age_ms is None
            else now_ms - retention.max_snapshot_age_ms
        )
        for count, snapshot in enumerate(ancestry(snapshots, ref.snapshot_id)):
            young = cutoff is not None and snapshot.timestamp_ms >= cutoff
            if count >= least and not young:
                break
            kept.add(snapshot.snapshot_id)
    return frozenset(kept)


class PublishKind(enum.StrEnum):
    """How a publish changed ``main``."""

    UP_TO_DATE = "up-to-date"
    FAST_FORWARD = "fast-forward"
    REPLAY = "replay"


@attrs.frozen
class PublishPlan:
    """What publishing a branch will do.

    Attributes:
        kind: Nothing to do, move ``main`` to the branch head, or replay.
        main_head: ``main``'s head the plan was made on.
        branch_head: The branch's head.
        replay: For a replay, the branch's snapshots to re-commit onto
            ``main``, oldest first.
    """

    kind: PublishKind
    main_head: int | None
    branch_head: int
    replay: tuple[int, ...] = ()


def plan_publish(
    table: str,
    branch: str,
    snapshots: Sequence[SnapshotInfo],
    main_head: int | None,
    branch_head: int,
    *,
    replay_appends: bool,
) -> PublishPlan:
    """Decide how to publish ``branch`` onto ``main``.

    * The branch head is ``main``'s head or one of its ancestors: nothing to do.
    * ``main``'s head is an ancestor of the branch head (``main`` has not
      moved since the branch was cut), or ``main`` has no snapshot:
      fast-forward ``main`` to the branch head.
    * Otherwise ``main`` moved. Without ``replay_appends`` that is refused;
      with it, the branch's snapshots since it left ``main``'s history are
      replayed onto ``main`` when every one of them is an ``append`` (their
      added files are re-committed; nothing they did can clash with ``main``).

    Args:
        table: The table, for messages.
        branch: The branch, for messages.
        snapshots: The table's snapshots.
        main_head: ``main``'s head (``None``: no snapshot).
        branch_head: The branch's head.
        replay_appends: Whether a replay is allowed when ``main`` moved.

    Returns:
        The plan.

    Raises:
        BranchDivergedError: ``main`` moved and a replay was not asked for,
            or the branch holds a snapshot that is not an append, or its
            history since it left ``main`` was expired; names both heads.
    """
    if main_head is not None and is_ancestor(snapshots, branch_head, main_head):
        return PublishPlan(PublishKind.UP_TO_DATE, main_head, branch_head)
    if main_head is None or is_ancestor(snapshots, main_head, branch_head):
        return PublishPlan(PublishKind.FAST_FORWARD, main_head, branch_head)
    heads = f"main is at snapshot {main_head}, branch {branch!r} at {branch_head}"
    if not replay_appends:
        raise BranchDivergedError(
            f"cannot publish branch {branch!r} of table {table}: main moved since the branch "
            f"was cut ({heads}); pass replay_appends=True to replay the branch's appends onto "
            "main, or rebuild the branch from main; nothing was committed",
            subject=table,
            main_head=main_head,
            branch_head=branch_head,
        )
    on_main = {s.snapshot_id for s in ancestry(snapshots, main_head)}
    since: list[SnapshotInfo] = []
    for snapshot in ancestry(snapshots, branch_head):
        if snapshot.snapshot_id in on_main:
            break
        since.append(snapshot)
    else:
        raise BranchDivergedError(
            f"cannot replay branch {branch!r} of table {table}: its history does not reach "
            f"main's (expired snapshots?) ({heads}); nothing was committed",
            subject=table,
            main_head=main_head,
            branch_head=branch_head,
        )
    others = [f"{s.snapshot_id} ({s.operation})" for s in since if s.operation != "append"]
    if others:
        raise BranchDivergedError(
            f"cannot replay branch {branch!r} of table {table} onto main: only appends can be "
            f"replayed, and the branch holds {', '.join(others)} ({heads}); nothing was "
            "committed",
            subject=table,
            main_head=main_head,
            branch_head=branch_head,
        )
    return PublishPlan(
        PublishKind.REPLAY,
        main_head,
        branch_head,
        tuple(s.snapshot_id for s in reversed(since)),
    )


def rollback_target(
    table: str, snapshots: Sequence[SnapshotInfo], main_head: int | None, target: int
) -> None:
    """Check that ``main`` may be rolled back to ``target``: one of its own past states.

    Raises:
        SnapshotNotFoundError: The table has no snapshot ``target``.
        InvalidRefError: ``target`` is not ``main``'s head or an ancestor of it.
    """
    if all(s.snapshot_id != target for s in snapshots):
        raise SnapshotNotFoundError(
            f"cannot roll table {table} back to snapshot {target}: the table has no such snapshot",
            subject=table,
        )
    if not is_ancestor(snapshots, target, main_head):
        raise InvalidRefError(
            f"cannot roll table {table} back to snapshot {target}: it is not in main's history "
            f"(main is at {main_head}); publish a branch to move main elsewhere",
            subject=table,
        )


@attrs.frozen
class PublishResult:
    """What publishing a branch did.

    Attributes:
        table: The table (its text form).
        branch: The branch published.
        kind: Up to date (no commit), fast-forward or replay.
        snapshot_id: ``main``'s head afterwards.
        previous_main_id: ``main``'s head before.
        replayed_snapshot_ids: For a replay, the branch snapshots re-committed.
        branch_dropped: Whether the branch was dropped afterwards.
    """

    table: str
    branch: str
    kind: PublishKind
    snapshot_id: int | None
    previous_main_id: int | None
    replayed_snapshot_ids: tuple[int, ...] = ()
    branch_dropped: bool = False
