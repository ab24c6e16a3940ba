"""The domain's compaction rules: what is small, which partitions are worth it, bin-packing."""

from __future__ import annotations

import pytest

from floe.domain.compaction import (
    CompactionCandidate,
    CompactionPlan,
    partition_label,
    plan_compaction,
    summarize,
    target_file_size,
)
from floe.domain.errors import InvalidConfigError


def _file(
    name: str, size: int, day: str | None = "d1", spec: int = 0, deletes: bool = False
) -> CompactionCandidate:
    return CompactionCandidate(
        path=f"s3://b/t/data/{name}.parquet",
        partition={"day": day},
        spec_id=spec,
        size_bytes=size,
        record_count=size // 10,
        has_deletes=deletes,
    )


def _plan(*files: CompactionCandidate, target: int = 100, min_files: int = 2) -> CompactionPlan:
    return plan_compaction(files, target_bytes=target, min_input_files=min_files)


def _bins(plan: CompactionPlan) -> list[tuple[str, list[str]]]:
    return [
        (b.partition, sorted(f.path.rsplit("/", 1)[1][:-8] for f in b.files)) for b in plan.bins
    ]


def test_small_files_under_three_quarters_of_the_target_are_packed() -> None:
    plan = _plan(_file("a", 10), _file("b", 20), _file("big", 75), _file("c", 30))
    assert _bins(plan) == [("day=d1", ["a", "b", "c"])]  # 75 is not small


def test_first_fit_decreasing_fills_bins_up_to_the_target() -> None:
    plan = _plan(*(_file(n, s) for n, s in [("a", 60), ("b", 50), ("c", 40), ("d", 30), ("e", 20)]))
    assert _bins(plan) == [("day=d1", ["a", "c"]), ("day=d1", ["b", "d", "e"])]
    assert all(b.size_bytes <= 100 for b in plan.bins)


def test_a_bin_of_one_file_is_dropped() -> None:
    plan = _plan(_file("a", 70), _file("b", 60), _file("c", 10))
    assert _bins(plan) == [("day=d1", ["a", "c"])]


def test_a_partition_with_too_few_small_files_is_already_compact() -> None:
    plan = _plan(_file("a", 10), _file("b", 10), _file("c", 10, day="d2"), min_files=2)
    assert _bins(plan) == [("day=d1", ["a", "b"])]
    assert plan.already_compact == ("day=d2",)
    assert _plan(_file("a", 10), _file("b", 10), min_files=3).already_compact == ("day=d1",)


def test_partitions_with_delete_files_are_left_alone_and_named() -> None:
    plan = _plan(_file("a", 10), _file("b", 10, deletes=True), _file("c", 10, day=None))
    assert plan.bins == ()
    assert plan.with_deletes == ("day=d1",)
    assert plan.already_compact == ("day=null",)


def test_files_of_different_specs_are_never_packed_together() -> None:
    plan = _plan(_file("a", 10), _file("b", 10), _file("c", 10, spec=1), _file("d", 10, spec=1))
    assert _bins(plan) == [("day=d1", ["a", "b"]), ("day=d1", ["c", "d"])]


def test_the_target_comes_from_the_table_unless_given() -> None:
    assert target_file_size({}, None) == 512 * 2**20
    assert target_file_size({"write.target-file-size-bytes": "4096"}, None) == 4096
    assert target_file_size({"write.target-file-size-bytes": "junk"}, None) == 512 * 2**20
    assert target_file_size({"write.target-file-size-bytes": "4096"}, 10) == 10


@pytest.mark.parametrize("bad", [0, -5, True, 1.5, "1"])
def test_a_bad_target_is_refused(bad: object) -> None:
    with pytest.raises(InvalidConfigError, match="target_file_size"):
        target_file_size({}, bad)  # type: ignore[arg-type]


def test_partition_labels_spell_nulls_and_unpartitioned_tables() -> None:
    assert partition_label({"day": "2024-05-01", "kind": None}) == "day=2024-05-01/kind=null"
    assert partition_label({}) == ""


def test_a_summary_sums_bins_by_partition() -> None:
    plan = _plan(*(_file(n, s) for n, s in [("a", 60), ("b", 50), ("c", 40), ("d", 30)]))
    dry = summarize(plan, None)
    assert [(p.partition, p.files_rewritten, p.bytes_in, p.files_added) for p in dry] == [
        ("day=d1", 4, 180, 2)
    ]
    done = summarize(plan, [(1, 95), (1, 80)])
    assert [(p.files_added, p.bytes_out) for p in done] == [(2, 175)]
