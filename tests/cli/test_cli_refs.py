"""``floe snapshots tag|branch|rollback``, ``floe refs``, ``floe publish`` and ``read --ref``.

Run as a subprocess over the embedded local catalog; the REST twin is in
test_cli_rest.py.
"""

from __future__ import annotations

import json

import pyarrow as pa

import floe
from tests.cli.conftest import Workdir, golden, orders


def seeded(workdir: Workdir) -> floe.Floe:
    """``shop.orders`` with one append of two rows."""
    lake = workdir.lake()
    lake.namespaces.create("shop")
    lake.writes.append("shop.orders", orders([1, 2]), create_if_missing=floe.NewTable())
    return lake


def ids(table: pa.Table) -> list[int]:
    return sorted(table["id"].to_pylist())


def head(lake: floe.Floe) -> int:
    current = lake.tables.load("shop.orders").current_snapshot_id
    assert current is not None
    return current


def test_tag_branch_and_list_refs(workdir: Workdir) -> None:
    lake = seeded(workdir)
    first = head(lake)
    lake.writes.append("shop.orders", orders([3]))
    second = head(lake)

    tagged = workdir.run("snapshots", "tag", "shop.orders", "v1", "--snapshot", str(first))
    assert tagged.code == 0, tagged.text
    assert tagged.stdout == f"created tag 'v1' of shop.orders at snapshot {first}\n"
    branched = workdir.run(
        "snapshots",
        "branch",
        "shop.orders",
        "audit",
        "--max-ref-age",
        "7d",
        "--max-snapshot-age",
        "1d12h",
        "--min-snapshots-to-keep",
        "3",
        "--json",
    )
    assert branched.code == 0, branched.text
    assert json.loads(branched.stdout) == {
        "table": "shop.orders",
        "ref": {
            "name": "audit",
            "kind": "branch",
            "snapshot_id": second,
            "max_ref_age_ms": 7 * 86_400_000,
            "max_snapshot_age_ms": 36 * 3_600_000,
            "min_snapshots_to_keep": 3,
        },
    }
    audit = lake.refs.get("shop.orders", "audit")
    assert audit.retention == floe.RefRetention(7 * 86_400_000, 3, 36 * 3_600_000)

    listed = workdir.run("refs", "list", "shop.orders")
    assert listed.code == 0, listed.text
    # Ids are random and not all of one length: the golden text keeps each id's width.
    w = max(len(str(first)), len(str(second)), len("snapshot"))
    marks = {
        str(first): "<first>".rjust(len(str(first))),
        str(second): "<2nd>".rjust(len(str(second))),
    }
    header = f"name    kind     {'snapshot':>{w}}   max ref age   max snapshot age   min snapshots"
    assert golden(listed.stdout, marks) == (
        f"{header}\n"
        f"{'─' * len(header)}\n"
        f"main    branch   {marks[str(second)]:>{w}}\n"
        f"audit   branch   {marks[str(second)]:>{w}}   7d            1d 12h"
        f"{'3':>26}\n"
        f"v1      tag      {marks[str(first)]:>{w}}\n"
    )
    document = json.loads(workdir.run("refs", "list", "shop.orders", "--json").stdout)
    assert [(r["name"], r["kind"], r["snapshot_id"]) for r in document["refs"]] == [
        ("main", "branch", second),
        ("audit", "branch", second),
        ("v1", "tag", first),
    ]
    assert set(document["refs"][0]) == {
        "name",
        "kind",
        "snapshot_id",
        "max_ref_age_ms",
        "max_snapshot_age_ms",
        "min_snapshots_to_keep",
    }
    history = json.loads(workdir.run("snapshots", "list", "shop.orders", "--json").stdout)
    assert [sorted(s["refs"]) for s in history["snapshots"]] == [["v1"], ["audit", "main"]]


def test_ref_errors_have_their_exit_codes(workdir: Workdir) -> None:
    lake = seeded(workdir)
    before = lake.refs.list("shop.orders")

    exists = workdir.run("snapshots", "tag", "shop.orders", "main")
    assert exists.code == 4, exists.text
    assert "RefExistsError" in exists.stderr
    no_table = workdir.run("snapshots", "branch", "shop.nope", "audit")
    assert no_table.code == 3, no_table.text
    assert "TableNotFoundError" in no_table.stderr
    no_snapshot = workdir.run("snapshots", "tag", "shop.orders", "v1", "--snapshot", "12345")
    assert no_snapshot.code == 3, no_snapshot.text
    assert "SnapshotNotFoundError" in no_snapshot.stderr
    bad_name = workdir.run("snapshots", "branch", "shop.orders", "")
    assert bad_name.code == 2, bad_name.text
    assert "InvalidRefError" in bad_name.stderr
    bad_age = workdir.run("snapshots", "tag", "shop.orders", "v1", "--max-ref-age", "soon")
    assert bad_age.code == 2, bad_age.text
    assert "'soon' is not a duration" in bad_age.stderr
    tag_retention = workdir.run(
        "snapshots", "tag", "shop.orders", "v1", "--min-snapshots-to-keep", "2"
    )
    assert tag_retention.code == 2  # a branch-only option: tags keep exactly one snapshot
    assert "No such option" in tag_retention.stderr

    missing = workdir.run("refs", "drop", "shop.orders", "nope", "--yes", "--json")
    assert missing.code == 3, missing.text
    error = json.loads(missing.stderr)["error"]
    assert error["type"] == "RefNotFoundError"
    assert error["exit_code"] == 3
    assert "'nope'" in error["message"]
    main = workdir.run("refs", "drop", "shop.orders", "main", "--yes")
    assert main.code == 2, main.text
    assert "main cannot be dropped" in main.stderr
    assert lake.refs.list("shop.orders") == before


def test_drop_asks_first_then_drops_tags_and_branches(workdir: Workdir) -> None:
    lake = seeded(workdir)
    lake.refs.create_tag("shop.orders", "v1")
    lake.refs.create_branch("shop.orders", "audit")
    at = head(lake)

    refused = workdir.run("refs", "drop", "shop.orders", "v1")
    assert refused.code == 2, refused.text
    assert "refusing to drop tag 'v1' of shop.orders" in refused.stderr
    assert {r.name for r in lake.refs.list("shop.orders")} == {"main", "v1", "audit"}

    dropped = workdir.run("refs", "drop", "shop.orders", "v1", "--yes")
    assert dropped.code == 0, dropped.text
    assert dropped.stdout == f"dropped tag 'v1' of shop.orders (was at snapshot {at})\n"
    branch = workdir.run("refs", "drop", "shop.orders", "audit", "--yes", "--json")
    assert branch.code == 0, branch.text
    assert json.loads(branch.stdout)["dropped"]["kind"] == "branch"
    assert [r.name for r in lake.refs.list("shop.orders")] == ["main"]
    assert head(lake) == at


def test_read_a_branch_or_tag(workdir: Workdir) -> None:
    lake = seeded(workdir)
    lake.refs.create_tag("shop.orders", "v1")
    lake.refs.create_branch("shop.orders", "audit")
    lake.writes.append("shop.orders", orders([3]), branch="audit")

    on_branch = workdir.run("read", "shop.orders", "--ref", "audit", "-c", "id", "--json")
    assert on_branch.code == 0, on_branch.text
    assert sorted(r["id"] for r in json.loads(on_branch.stdout)["rows"]) == [1, 2, 3]
    then = workdir.run(
        "read", "shop.orders", "--ref", "audit", "--as-of", "2100-01-01T00:00:00+00:00", "--json"
    )
    assert then.code == 0, then.text
    assert sorted(r["id"] for r in json.loads(then.stdout)["rows"]) == [1, 2, 3]
    on_main = json.loads(workdir.run("read", "shop.orders", "-c", "id", "--json").stdout)
    assert sorted(r["id"] for r in on_main["rows"]) == [1, 2]
    to_file = workdir.run("read", "shop.orders", "--ref", "v1", "--to", "v1.jsonl")
    assert to_file.code == 0, to_file.text
    assert len((workdir.path / "v1.jsonl").read_text().splitlines()) == 2

    missing = workdir.run("read", "shop.orders", "--ref", "nope")
    assert missing.code == 3, missing.text
    assert "RefNotFoundError" in missing.stderr
    both = workdir.run("read", "shop.orders", "--ref", "audit", "--snapshot", "1")
    assert both.code == 2, both.text


def test_publish_fast_forwards_then_refuses_a_diverged_branch_then_replays(
    workdir: Workdir,
) -> None:
    lake = seeded(workdir)
    lake.refs.create_branch("shop.orders", "audit")
    lake.writes.append("shop.orders", orders([3]), branch="audit")
    start = head(lake)
    audited = lake.refs.get("shop.orders", "audit").snapshot_id

    refused = workdir.run("publish", "shop.orders", "audit")
    assert refused.code == 2, refused.text
    assert "refusing to publish branch 'audit' of shop.orders" in refused.stderr
    assert head(lake) == start

    published = workdir.run("publish", "shop.orders", "audit", "--yes")
    assert published.code == 0, published.text
    assert published.stdout == (
        f"published branch 'audit' of shop.orders: fast-forwarded main to snapshot {audited} "
        f"(was {start})\n"
    )
    assert ids(lake.reads.scan("shop.orders")) == [1, 2, 3]

    # main moves on its own, the branch too: they diverged.
    lake.writes.append("shop.orders", orders([4]))
    lake.writes.append("shop.orders", orders([5]), branch="audit")
    main_head = head(lake)
    branch_head = lake.refs.get("shop.orders", "audit").snapshot_id
    diverged = workdir.run("publish", "shop.orders", "audit", "--yes")
    assert diverged.code == 4, diverged.text
    assert diverged.stderr.startswith("BranchDivergedError: cannot publish branch 'audit'")
    assert f"main is at snapshot {main_head}, branch 'audit' at {branch_head}" in diverged.stderr
    assert "hint: `floe publish shop.orders audit --replay`" in diverged.stderr
    assert head(lake) == main_head
    as_json = workdir.run("publish", "shop.orders", "audit", "--yes", "--json")
    assert as_json.code == 4
    assert as_json.stdout == ""
    error = json.loads(as_json.stderr)["error"]
    assert error["type"] == "BranchDivergedError"
    assert (error["main_head"], error["branch_head"], error["exit_code"]) == (
        main_head,
        branch_head,
        4,
    )
    assert head(lake) == main_head

    replayed = workdir.run(
        "publish", "shop.orders", "audit", "--replay", "--drop-branch", "--yes", "--json"
    )
    assert replayed.code == 0, replayed.text
    document = json.loads(replayed.stdout)
    assert document == {
        "table": "shop.orders",
        "branch": "audit",
        "kind": "replay",
        "snapshot_id": head(lake),
        "previous_main_id": main_head,
        "replayed_snapshot_ids": [branch_head],
        "branch_dropped": True,
    }
    assert ids(lake.reads.scan("shop.orders")) == [1, 2, 3, 4, 5]
    assert [r.name for r in lake.refs.list("shop.orders")] == ["main"]


def test_publish_errors_have_their_exit_codes(workdir: Workdir) -> None:
    lake = seeded(workdir)
    lake.refs.create_tag("shop.orders", "v1")
    lake.refs.create_branch("shop.orders", "audit")
    start = head(lake)

    assert workdir.run("publish", "shop.nope", "audit", "--yes").code == 3
    missing = workdir.run("publish", "shop.orders", "nope", "--yes")
    assert missing.code == 3, missing.text
    assert "RefNotFoundError" in missing.stderr
    tag = workdir.run("publish", "shop.orders", "v1", "--yes")
    assert tag.code == 2, tag.text
    assert "'v1' is a tag" in tag.stderr
    main = workdir.run("publish", "shop.orders", "main", "--yes")
    assert main.code == 2, main.text
    usage = workdir.run("publish", "shop.orders")
    assert usage.code == 2
    assert "Missing argument 'BRANCH'" in usage.stderr

    nothing = workdir.run("publish", "shop.orders", "audit", "--yes")
    assert nothing.code == 0, nothing.text
    assert nothing.stdout == (
        f"main of shop.orders already holds branch 'audit' (snapshot {start}); nothing committed\n"
    )
    assert head(lake) == start


def test_rollback_by_snapshot_or_tag(workdir: Workdir) -> None:
    lake = seeded(workdir)
    first = head(lake)
    lake.refs.create_tag("shop.orders", "v1")
    lake.writes.append("shop.orders", orders([3]))
    second = head(lake)
    lake.refs.create_branch("shop.orders", "audit")
    lake.writes.append("shop.orders", orders([9]), branch="audit")
    elsewhere = lake.refs.get("shop.orders", "audit").snapshot_id

    refused = workdir.run("snapshots", "rollback", "shop.orders", "--tag", "v1")
    assert refused.code == 2, refused.text
    assert f"refusing to roll main of shop.orders back to snapshot {first} (tag 'v1')" in (
        refused.stderr
    )
    assert head(lake) == second

    back = workdir.run("snapshots", "rollback", "shop.orders", "--tag", "v1", "--yes")
    assert back.code == 0, back.text
    assert back.stdout == (
        f"rolled main of shop.orders back to snapshot {first} (tag 'v1') (was {second})\n"
    )
    assert ids(lake.reads.scan("shop.orders")) == [1, 2]

    not_history = workdir.run(
        "snapshots", "rollback", "shop.orders", "--snapshot", str(elsewhere), "--yes"
    )
    assert not_history.code == 2, not_history.text
    assert "not in main's history" in not_history.stderr
    assert head(lake) == first

    forward = workdir.run(
        "snapshots", "rollback", "shop.orders", "--snapshot", str(first), "--yes", "--json"
    )
    assert forward.code == 0, forward.text
    assert json.loads(forward.stdout) == {
        "table": "shop.orders",
        "snapshot_id": first,
        "previous_snapshot_id": first,
        "tag": None,
    }

    for args, code in (
        (("--tag", "nope"), 3),
        (("--snapshot", "12345"), 3),
        ((), 2),
        (("--snapshot", str(first), "--tag", "v1"), 2),
        (("--tag", "audit"), 2),
    ):
        run = workdir.run("snapshots", "rollback", "shop.orders", *args, "--yes")
        assert run.code == code, (args, run.text)
    assert workdir.run("snapshots", "rollback", "shop.nope", "--tag", "v1", "--yes").code == 3
    assert head(lake) == first
