"""Properties of the expiry rule with refs: ref heads are kept, nothing else changes."""

from __future__ import annotations

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from floe import SnapshotInfo
from floe.domain.models import RetentionPolicy
from floe.domain.retention import snapshots_protected_by_refs, snapshots_to_expire
from tests.properties.test_domain_properties import policies

PROPERTY = settings(max_examples=200, deadline=None, database=None)


@st.composite
def histories_with_refs(draw: st.DrawFn) -> tuple[list[SnapshotInfo], int | None]:
    ids = draw(st.lists(st.integers(0, 2**63 - 1), unique=True, max_size=25))
    snapshots = [
        SnapshotInfo(
            i,
            None,
            draw(st.integers(0, 10**6)),
            "append",
            refs=draw(st.lists(st.sampled_from(["v1", "v2", "dev", "audit"]), max_size=2)),
        )
        for i in ids
    ]
    current = draw(st.one_of(st.none(), st.sampled_from(ids))) if ids else None
    return snapshots, current


@PROPERTY
@given(history=histories_with_refs(), now_ms=st.integers(0, 2 * 10**6), policy=policies)
def test_refs_only_move_candidates_from_expired_to_protected(
    history: tuple[list[SnapshotInfo], int | None], now_ms: int, policy: RetentionPolicy
) -> None:
    snapshots, current = history
    with_refs = {s.snapshot_id for s in snapshots if s.refs}
    bare = [attrs.evolve(s, refs=()) for s in snapshots]

    expired = snapshots_to_expire(snapshots, current, now_ms, policy)
    protected = snapshots_protected_by_refs(snapshots, current, now_ms, policy)
    without_refs = snapshots_to_expire(bare, current, now_ms, policy)

    assert not set(expired) & with_refs
    assert set(protected) <= with_refs
    assert current not in protected
    assert sorted(expired + protected) == sorted(without_refs)
    assert snapshots_protected_by_refs(bare, current, now_ms, policy) == ()
