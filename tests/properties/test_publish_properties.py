"""Write-audit-publish over the in-memory adapter: what main holds after any publish."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import floe

PUBLISH = settings(max_examples=80, deadline=None, database=None)

#: Writes after the branch is cut: (on the branch?, the ids appended or deleted, delete?).
Step = tuple[bool, list[int], bool]

steps = st.lists(
    st.tuples(
        st.booleans(),
        st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=4),
        st.booleans(),
    ),
    max_size=6,
)


def _lake(start: list[int]) -> tuple[floe.Floe, str]:
    lake = floe.Floe.from_config(floe.MemoryCatalogConfig())
    lake.namespaces.create("wap")
    lake.writes.append(
        "wap.t",
        pa.table({"id": pa.array(start, pa.int64())}),
        create_if_missing=floe.NewTable(),
    )
    lake.refs.create_branch("wap.t", "b")
    return lake, "wap.t"


def _ids(lake: floe.Floe, table: str, ref: str | None = None) -> list[int]:
    return sorted(lake.reads.scan(table, ref=ref).column("id").to_pylist())


@PUBLISH
@given(start=st.lists(st.integers(0, 50), min_size=1, max_size=5), writes=steps)
def test_publish_makes_main_the_branch_or_main_plus_its_appends_or_refuses(
    start: list[int], writes: list[Step]
) -> None:
    lake, table = _lake(start)
    branch_added: list[int] = []
    main_moved = branch_rewrote = False
    for on_branch, ids, delete in writes:
        where = "b" if on_branch else None
        if delete:
            done = lake.writes.delete(table, f"id in ({','.join(map(str, ids))})", branch=where)
            committed = done.snapshot_id is not None
        else:
            lake.writes.append(table, pa.table({"id": pa.array(ids, pa.int64())}), branch=where)
            committed = True
        if on_branch and not delete:
            branch_added += ids
        branch_rewrote |= on_branch and delete and committed
        main_moved |= not on_branch and committed
    main_before, branch_rows = _ids(lake, table), _ids(lake, table, "b")
    head_before = lake.refs.get(table, "main").snapshot_id

    if main_moved and branch_rewrote:
        with pytest.raises(floe.BranchDivergedError):
            lake.refs.publish(table, "b", replay_appends=True)
        assert _ids(lake, table) == main_before
        assert lake.refs.get(table, "main").snapshot_id == head_before
        return
    result = lake.refs.publish(table, "b", replay_appends=True)

    if not main_moved:
        assert result.kind in {floe.PublishKind.FAST_FORWARD, floe.PublishKind.UP_TO_DATE}
        assert _ids(lake, table) == branch_rows
    else:
        assert result.kind in {floe.PublishKind.REPLAY, floe.PublishKind.UP_TO_DATE}
        assert _ids(lake, table) == sorted(main_before + branch_added)
    assert _ids(lake, table, "b") == branch_rows
