"""Compaction and manifest rewrite: which small data files are rewritten together, and results.

Frequent small writes leave many small data files; every scan opens each
one. Compaction bin-packs the small files of each partition into files near
the target size, in one ``replace`` snapshot that changes no row. The rules
of what is rewritten live here, as Iceberg's ``RewriteDataFiles``
bin-pack strategy states them: a file is *small* under 3/4 of the target
size; a partition is rewritten only when it holds at least
``min_input_files`` small files; files are packed, largest first, into bins
of at most the target size; a bin of one file gains nothing and is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from floe.domain.errors import InvalidConfigError
from floe.domain.health import DEFAULT_TARGET_FILE_SIZE, TARGET_FILE_SIZE_PROPERTY
from floe.domain.identifiers import TableIdentifier

#: A data file under this share of the target size is small, as in Iceberg's rewrite.
SMALL_FILE_SHARE = 0.75
#: Partitions with fewer small files than this are left alone by default.
DEFAULT_MIN_INPUT_FILES = 2


def _frozen(value: Mapping[str, str | None]) -> Mapping[str, str | None]:
    return dict(value)


def partition_label(partition: Mapping[str, str | None]) -> str:
    """A partition spelt as Iceberg spells its directory: ``day=2024-05-01/kind=a``.

    An unpartitioned table's single partition is ``""``.
    """
    return "/".join(f"{k}={'null' if v is None else v}" for k, v in partition.items())


@attrs.frozen
class CompactionCandidate:
    """A live data file of a table's current snapshot, as compaction sees it.

    Attributes:
        path: Its location.
        partition: Partition field → value under the spec it was written with.
        spec_id: That spec (files of one partition value but different specs
            are never packed together).
        size_bytes: Its size on storage.
        record_count: Rows in it.
        has_deletes: Row-level delete files apply to it (merge-on-read); its
            partition is then left alone.
    """

    path: str
    partition: Mapping[str, str | None] = attrs.field(converter=_frozen)
    spec_id: int
    size_bytes: int
    record_count: int
    has_deletes: bool = False

    @property
    def partition_key(self) -> tuple[int, str]:
        """The group it is compacted in: its spec and its partition."""
        return self.spec_id, partition_label(self.partition)


@attrs.frozen
class CompactionBin:
    """Small files of one partition to be rewritten together into (about) one file.

    Attributes:
        partition: Their partition, as :func:`partition_label` spells it.
        files: The files, at least two.
    """

    partition: str
    files: tuple[CompactionCandidate, ...]

    @property
    def size_bytes(self) -> int:
        """Their bytes together."""
        return sum(f.size_bytes for f in self.files)

    @property
    def record_count(self) -> int:
        """Their rows together."""
        return sum(f.record_count for f in self.files)


@attrs.frozen
class CompactionPlan:
    """What a compaction rewrites and what it leaves alone.

    Attributes:
        bins: The groups of files to rewrite, each into its own output.
        already_compact: Partitions without enough small files to rewrite.
        with_deletes: Partitions left alone because delete files apply to
            some of their files (floe does not apply row-level deletes while
            rewriting).
    """

    bins: tuple[CompactionBin, ...]
    already_compact: tuple[str, ...]
    with_deletes: tuple[str, ...]


def target_file_size(properties: Mapping[str, str], target: int | None) -> int:
    """The size compaction aims for: the caller's, else the table's target file size.

    Args:
        properties: The table's properties.
        target: The caller's target; ``None`` takes the table's
            ``write.target-file-size-bytes`` (Iceberg's 512 MiB when unset).

    Raises:
        InvalidConfigError: ``target`` is not a positive integer.
    """
    if target is not None:
        _positive("target_file_size", target)
        return target
    try:
        configured = int(properties.get(TARGET_FILE_SIZE_PROPERTY, DEFAULT_TARGET_FILE_SIZE))
    except ValueError:
        configured = DEFAULT_TARGET_FILE_SIZE
    return configured if configured > 0 else DEFAULT_TARGET_FILE_SIZE


def check_min_input_files(min_input_files: int) -> None:
    """Refuse a ``min_input_files`` under 2 (one file rewritten alone gains nothing).

    Raises:
        InvalidConfigError: It is not an integer of at least 2.
    """
    _positive("min_input_files", min_input_files)
    if min_input_files < 2:
        raise InvalidConfigError(
            f"min_input_files must be at least 2, got {min_input_files}",
            subject="min_input_files",
        )


def _positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidConfigError(f"{name} must be a positive integer, got {value!r}", subject=name)


def plan_compaction(
    files: Iterable[CompactionCandidate], *, target_bytes: int, min_input_files: int
) -> CompactionPlan:
    """Choose the bins of small files to rewrite, partition by partition.

    Args:
        files: The live data files compaction may touch.
        target_bytes: The output size aimed for.
        min_input_files: Small files a partition needs to be rewritten.

    Returns:
        The bins (partitions in order of their labels, largest bins first)
        and the partitions left alone, and why.
    """
    threshold = max(1, int(target_bytes * SMALL_FILE_SHARE))
    groups: dict[tuple[int, str], list[CompactionCandidate]] = {}
    for f in files:
        groups.setdefault(f.partition_key, []).append(f)
    bins: list[CompactionBin] = []
    compact: set[str] = set()
    deletes: set[str] = set()
    for (_, label), members in sorted(groups.items(), key=lambda g: (g[0][1], g[0][0])):
        if any(f.has_deletes for f in members):
            deletes.add(label)
            continue
        small = [f for f in members if f.size_bytes < threshold]
        packed = _pack(small, target_bytes) if len(small) >= min_input_files else []
        if not packed:
            compact.add(label)
            continue
        bins.extend(CompactionBin(label, tuple(b)) for b in packed)
    compact -= {b.partition for b in bins} | deletes
    return CompactionPlan(tuple(bins), tuple(sorted(compact)), tuple(sorted(deletes)))


def _pack(
    files: Sequence[CompactionCandidate], target_bytes: int
) -> list[list[CompactionCandidate]]:
    """First-fit decreasing: each file into the first bin it fits; bins of one file dropped."""
    bins: list[list[CompactionCandidate]] = []
    sizes: list[int] = []
    for f in sorted(files, key=lambda c: (-c.size_bytes, c.path)):
        for i, used in enumerate(sizes):
            if used + f.size_bytes <= target_bytes:
                bins[i].append(f)
                sizes[i] += f.size_bytes
                break
        else:
            bins.append([f])
            sizes.append(f.size_bytes)
    return [b for b in bins if len(b) > 1]


@attrs.frozen
class PartitionCompaction:
    """What compaction did to one partition.

    Attributes:
        partition: The partition, as :func:`partition_label` spells it.
        files_rewritten: Small files replaced.
        bytes_in: Their bytes.
        files_added: Files written in their place (in a dry run: the bins planned).
        bytes_out: The bytes written (``0`` in a dry run).
    """

    partition: str
    files_rewritten: int
    bytes_in: int
    files_added: int
    bytes_out: int


@attrs.frozen
class CompactResult:
    """What :meth:`MaintenanceService.compact` did (or, in a dry run, would do).

    Attributes:
        table: The table.
        snapshot_id: The ``replace`` snapshot committed; ``None`` when nothing
            was rewritten or in a dry run.
        dry_run: Nothing was written.
        target_file_size: The size aimed for.
        partitions: What was rewritten, partition by partition.
        skipped_compact: Partitions already compact (too few small files).
        skipped_with_deletes: Partitions left alone because row-level delete
            files apply to them.
    """

    table: TableIdentifier
    snapshot_id: int | None
    dry_run: bool
    target_file_size: int
    partitions: tuple[PartitionCompaction, ...] = ()
    skipped_compact: tuple[str, ...] = ()
    skipped_with_deletes: tuple[str, ...] = ()

    @property
    def files_rewritten(self) -> int:
        """Small files replaced, in every partition."""
        return sum(p.files_rewritten for p in self.partitions)

    @property
    def files_added(self) -> int:
        """Files written in their place."""
        return sum(p.files_added for p in self.partitions)

    @property
    def bytes_in(self) -> int:
        """Bytes of the replaced files."""
        return sum(p.bytes_in for p in self.partitions)

    @property
    def bytes_out(self) -> int:
        """Bytes written."""
        return sum(p.bytes_out for p in self.partitions)


def summarize(
    plan: CompactionPlan, outputs: Sequence[tuple[int, int]] | None
) -> tuple[PartitionCompaction, ...]:
    """Sum a plan's bins (and, once written, their outputs) up by partition.

    Args:
        plan: The plan.
        outputs: For each bin, the files and bytes written; ``None`` for a dry
            run (each bin counts as one file, no bytes).
    """
    sums: dict[str, list[int]] = {}
    for i, b in enumerate(plan.bins):
        files, size = (1, 0) if outputs is None else outputs[i]
        acc = sums.setdefault(b.partition, [0, 0, 0, 0])
        acc[0] += len(b.files)
        acc[1] += b.size_bytes
        acc[2] += files
        acc[3] += size
    return tuple(PartitionCompaction(p, *acc) for p, acc in sums.items())


@attrs.frozen
class ManifestRewriteResult:
    """What :meth:`MaintenanceService.rewrite_manifests` did.

    Attributes:
        table: The table.
        snapshot_id: The ``replace`` snapshot committed; ``None`` when there
            was nothing to rewrite (no snapshot, or already one manifest).
        manifests_before: Manifests of the current snapshot before.
        manifests_after: And after.
    """

    table: TableIdentifier
    snapshot_id: int | None
    manifests_before: int
    manifests_after: int
