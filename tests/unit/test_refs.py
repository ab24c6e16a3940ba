"""The domain's ref values and the rules of rollback and publish, over plain histories."""

from __future__ import annotations

import pytest

from floe.domain.errors import BranchDivergedError, InvalidRefError
from floe.domain.models import SnapshotInfo
from floe.domain.refs import (
    PublishKind,
    Ref,
    RefKind,
    RefRetention,
    ancestry,
    check_ref_name,
    is_ancestor,
    kept_by_branch_retention,
    off_branch_excluded,
    plan_publish,
    rollback_target,
)


def _snap(
    snapshot_id: int, parent: int | None, *refs: str, operation: str = "append"
) -> SnapshotInfo:
    return SnapshotInfo(snapshot_id, parent, snapshot_id * 10, operation, refs=refs)


# main: 1 - 2 - 3 ; audit branched at 2: 2 - 4 - 5
HISTORY = [
    _snap(1, None),
    _snap(2, 1),
    _snap(3, 2, "main"),
    _snap(4, 2),
    _snap(5, 4, "audit"),
]


def test_ancestry_walks_parents_newest_first_and_stops_at_a_gap() -> None:
    assert [s.snapshot_id for s in ancestry(HISTORY, 5)] == [5, 4, 2, 1]
    assert [s.snapshot_id for s in ancestry(HISTORY[1:], 5)] == [5, 4, 2]
    assert ancestry(HISTORY, None) == []
    assert is_ancestor(HISTORY, 2, 5)
    assert not is_ancestor(HISTORY, 3, 5)


def test_publish_fast_forwards_when_main_did_not_move() -> None:
    history = [_snap(1, None), _snap(2, 1, "main"), _snap(4, 2), _snap(5, 4, "audit")]

    plan = plan_publish("t", "audit", history, 2, 5, replay_appends=False)

    assert (plan.kind, plan.main_head, plan.branch_head) == (PublishKind.FAST_FORWARD, 2, 5)


def test_publish_onto_a_main_without_snapshot_fast_forwards() -> None:
    plan = plan_publish("t", "audit", [_snap(7, None, "audit")], None, 7, replay_appends=False)
    assert plan.kind is PublishKind.FAST_FORWARD


def test_publish_of_a_branch_main_already_holds_does_nothing() -> None:
    assert plan_publish("t", "old", HISTORY, 3, 2, replay_appends=False).kind is (
        PublishKind.UP_TO_DATE
    )
    assert plan_publish("t", "same", HISTORY, 3, 3, replay_appends=False).kind is (
        PublishKind.UP_TO_DATE
    )


def test_publish_after_main_moved_is_refused_naming_both_heads() -> None:
    with pytest.raises(
        BranchDivergedError, match="main is at snapshot 3, branch 'audit' at 5"
    ) as e:
        plan_publish("t", "audit", HISTORY, 3, 5, replay_appends=False)
    assert (e.value.main_head, e.value.branch_head) == (3, 5)


def test_replay_lists_the_branch_snapshots_since_it_left_main_oldest_first() -> None:
    plan = plan_publish("t", "audit", HISTORY, 3, 5, replay_appends=True)
    assert (plan.kind, plan.replay) == (PublishKind.REPLAY, (4, 5))


def test_replay_refuses_a_branch_holding_anything_but_appends() -> None:
    history = [*HISTORY[:4], _snap(5, 4, "audit", operation="overwrite")]
    with pytest.raises(BranchDivergedError, match=r"5 \(overwrite\)"):
        plan_publish("t", "audit", history, 3, 5, replay_appends=True)


def test_replay_refuses_a_branch_whose_history_no_longer_reaches_main() -> None:
    history = [_snap(3, 2, "main"), _snap(4, 9), _snap(5, 4, "audit")]
    with pytest.raises(BranchDivergedError, match="does not reach"):
        plan_publish("t", "audit", history, 3, 5, replay_appends=True)


def test_rollback_accepts_main_history_only() -> None:
    rollback_target("t", HISTORY, 3, 1)
    rollback_target("t", HISTORY, 3, 3)
    with pytest.raises(InvalidRefError, match="not in main's history"):
        rollback_target("t", HISTORY, 3, 4)


def test_main_history_as_of_leaves_out_what_only_other_refs_reach() -> None:
    kept = [s.snapshot_id for s in off_branch_excluded(HISTORY)]
    assert kept == [1, 2, 3]
    # A snapshot no ref reaches (left by a rollback of main) was main's once: it stays.
    rolled_back = [_snap(1, None, "main"), _snap(2, 1)]
    assert [s.snapshot_id for s in off_branch_excluded(rolled_back)] == [1, 2]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("  ", "empty"),
        (" audit", "spaces"),
        ("a\nb", "control"),
        ("x" * 256, "at most 255"),
        (3, "text"),
    ],
)
def test_bad_ref_names_are_refused_saying_why(name: object, message: str) -> None:
    with pytest.raises(InvalidRefError, match=message):
        check_ref_name(name)


def test_a_tag_cannot_carry_branch_retention() -> None:
    with pytest.raises(InvalidRefError, match="branches only"):
        Ref("v1", RefKind.TAG, 1, RefRetention(min_snapshots_to_keep=2))
    with pytest.raises(InvalidRefError, match="branches only"):
        Ref("v1", RefKind.TAG, 1, RefRetention(max_snapshot_age_ms=5))
    assert Ref("v1", "tag", 1, RefRetention(max_ref_age_ms=5)).kind is RefKind.TAG


@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_retention_values_are_positive_integers(value: object) -> None:
    with pytest.raises(InvalidRefError, match="positive integer"):
        RefRetention(max_ref_age_ms=value)  # type: ignore[arg-type]


def test_a_branch_keeps_its_newest_snapshots_and_young_ones_by_its_own_retention() -> None:
    history = [_snap(i, i - 1 if i > 1 else None) for i in range(1, 6)]  # 5 is the head
    history[-1] = _snap(5, 4, "audit")

    def ref(**retention: int) -> Ref:
        return Ref("audit", RefKind.BRANCH, 5, RefRetention(**retention))

    assert kept_by_branch_retention(history, [ref()], now_ms=1000) == frozenset()
    assert kept_by_branch_retention(history, [ref(min_snapshots_to_keep=3)], 1000) == {5, 4, 3}
    # Timestamps are id * 10: younger than 25 ms at 50 means 3, 4 and 5; at least the head.
    assert kept_by_branch_retention(history, [ref(max_snapshot_age_ms=25)], 50) == {5, 4, 3}
    assert kept_by_branch_retention(history, [ref(max_snapshot_age_ms=1)], 1000) == {5}
    both = ref(min_snapshots_to_keep=4, max_snapshot_age_ms=1)
    assert kept_by_branch_retention(history, [both], 1000) == {5, 4, 3, 2}
    tag = Ref("v1", RefKind.TAG, 5, RefRetention(max_ref_age_ms=1))
    main = Ref("main", RefKind.BRANCH, 5, RefRetention(min_snapshots_to_keep=5))
    assert kept_by_branch_retention(history, [tag, main], 1000) == frozenset()
