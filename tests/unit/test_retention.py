"""Snapshot retention: which snapshots an expiry removes, and which one was current when."""

from __future__ import annotations

import random

import pytest

from floe import InvalidConfigError, SnapshotInfo
from floe.domain.models import RetentionPolicy
from floe.domain.retention import snapshot_as_of, snapshots_to_expire

MINUTE = 60_000


def _snap(snapshot_id: int, timestamp_ms: int, parent_id: int | None = None) -> SnapshotInfo:
    return SnapshotInfo(snapshot_id, parent_id, timestamp_ms, "append")


# A table written four times, a minute apart; snapshot 4 is current.
HISTORY = [
    _snap(1, 1 * MINUTE),
    _snap(2, 2 * MINUTE, parent_id=1),
    _snap(3, 3 * MINUTE, parent_id=2),
    _snap(4, 4 * MINUTE, parent_id=3),
]
NOW = 5 * MINUTE


def test_keep_only_the_newest_expires_the_rest_oldest_first() -> None:
    expired = snapshots_to_expire(HISTORY, 4, NOW, RetentionPolicy(retain_last=1))

    assert expired == (1, 2, 3)


def test_retain_last_keeps_that_many_newest() -> None:
    expired = snapshots_to_expire(HISTORY, 4, NOW, RetentionPolicy(retain_last=3))

    assert expired == (1,)


def test_retain_last_beyond_the_history_expires_nothing() -> None:
    assert snapshots_to_expire(HISTORY, 4, NOW, RetentionPolicy(retain_last=10)) == ()


def test_the_current_snapshot_is_kept_even_when_old() -> None:
    # After a rollback, the current snapshot is not the newest one.
    expired = snapshots_to_expire(HISTORY, 2, NOW, RetentionPolicy(retain_last=1))

    assert expired == (1, 3)


def test_max_age_keeps_young_snapshots_cutoff_included() -> None:
    # Cutoff = 5 min - 3 min = 2 min: snapshot 2 sits exactly on it and is kept.
    policy = RetentionPolicy(max_age_ms=3 * MINUTE, retain_last=1)

    assert snapshots_to_expire(HISTORY, 4, NOW, policy) == (1,)


def test_max_age_just_past_a_snapshot_expires_it() -> None:
    policy = RetentionPolicy(max_age_ms=3 * MINUTE - 1, retain_last=1)

    assert snapshots_to_expire(HISTORY, 4, NOW, policy) == (1, 2)


def test_max_age_zero_keeps_only_retain_last_and_current() -> None:
    policy = RetentionPolicy(max_age_ms=0, retain_last=2)

    assert snapshots_to_expire(HISTORY, 4, NOW, policy) == (1, 2)


def test_input_order_does_not_matter() -> None:
    shuffled = list(HISTORY)
    random.Random(7).shuffle(shuffled)

    assert snapshots_to_expire(shuffled, 4, NOW, RetentionPolicy(retain_last=2)) == (1, 2)


def test_equal_commit_times_are_ordered_by_snapshot_id() -> None:
    snapshots = [_snap(30, MINUTE), _snap(10, MINUTE), _snap(20, MINUTE)]

    assert snapshots_to_expire(snapshots, None, NOW, RetentionPolicy(retain_last=1)) == (10, 20)


def test_a_table_without_snapshots_expires_nothing() -> None:
    assert snapshots_to_expire([], None, NOW, RetentionPolicy(max_age_ms=0)) == ()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"retain_last": 0}, "retain_last must be an integer >= 1, got 0"),
        ({"retain_last": True}, "retain_last must be an integer >= 1, got True"),
        ({"retain_last": 1.5}, "retain_last must be an integer >= 1, got 1.5"),
        ({"max_age_ms": -1}, "max_age_ms must be a non-negative integer, got -1"),
        ({"max_age_ms": False}, "max_age_ms must be a non-negative integer, got False"),
    ],
)
def test_policy_values_are_validated(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        RetentionPolicy(**kwargs)  # type: ignore[arg-type]

    assert fragment in str(caught.value)


# -- snapshot_as_of ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at_ms", "expected_id"),
    [
        (1 * MINUTE, 1),
        (2 * MINUTE - 1, 1),
        (2 * MINUTE, 2),
        (3 * MINUTE + 30_000, 3),
        (4 * MINUTE, 4),
        (100 * MINUTE, 4),
    ],
)
def test_as_of_finds_the_newest_snapshot_committed_at_or_before(
    at_ms: int, expected_id: int
) -> None:
    found = snapshot_as_of(HISTORY, at_ms)

    assert found is not None
    assert found.snapshot_id == expected_id


def test_as_of_before_the_first_commit_finds_nothing() -> None:
    assert snapshot_as_of(HISTORY, MINUTE - 1) is None


def test_as_of_on_an_empty_history_finds_nothing() -> None:
    assert snapshot_as_of([], NOW) is None


def test_as_of_ignores_input_order() -> None:
    found = snapshot_as_of(list(reversed(HISTORY)), 3 * MINUTE)

    assert found == HISTORY[2]


def test_as_of_breaks_equal_commit_times_by_snapshot_id() -> None:
    found = snapshot_as_of([_snap(5, MINUTE), _snap(9, MINUTE), _snap(7, MINUTE)], MINUTE)

    assert found is not None
    assert found.snapshot_id == 9
