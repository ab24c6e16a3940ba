"""``maintenance_job``: a Dagster job that maintains the IO manager's tables.

One op runs the operations (:mod:`floe.adapters.dagster._operations`) on
each table in turn, through the ``floe.Floe`` of an :class:`IcebergIOManager`
(the same ``catalog``/``catalog_env_prefix`` settings, the same asset key to
table mapping), and records for each table an ``AssetObservation`` on its
asset key: maintenance changes no row, so the asset is observed, not
materialized, and the figures land in the asset's history in the UI.
"""

# No "from __future__ import annotations": Dagster reads the op's context annotation.
from collections.abc import Iterable, Iterator, Mapping, Sequence

import attrs
import dagster as dg

from floe.adapters.dagster import _targets as targets
from floe.adapters.dagster._io_manager import IcebergIOManager
from floe.adapters.dagster._logs import to_op_log
from floe.adapters.dagster._operations import (
    DEFAULT_OPERATIONS,
    MaintenanceOperation,
    totals,
)
from floe.domain.errors import FloeStorageError, InvalidConfigError

TableSource = dg.AssetKey | dg.AssetsDefinition | dg.AssetSpec | str | Sequence[str]


@attrs.frozen
class _Target:
    """An asset key and the definition metadata that may name its table (``floe/table``)."""

    key: dg.AssetKey
    metadata: Mapping[str, object]


def targets_of(tables: Iterable[TableSource], *, job: str = "maintenance") -> tuple[_Target, ...]:
    """The assets a ``job`` (maintenance, publish) works on, each key once, in the order given."""
    found: dict[dg.AssetKey, _Target] = {}
    for source in tables:
        if isinstance(source, dg.AssetsDefinition):
            for key in source.keys:
                found.setdefault(key, _Target(key, dict(source.metadata_by_key.get(key, {}))))
        elif isinstance(source, dg.AssetSpec):
            found.setdefault(source.key, _Target(source.key, dict(source.metadata or {})))
        elif isinstance(source, dg.AssetKey):
            found.setdefault(source, _Target(source, {}))
        elif isinstance(source, str):
            key = dg.AssetKey.from_user_string(source)
            found.setdefault(key, _Target(key, {}))
        elif isinstance(source, Sequence) and source and all(isinstance(p, str) for p in source):
            key = dg.AssetKey(list(source))
            found.setdefault(key, _Target(key, {}))
        else:
            raise InvalidConfigError(
                f"a table of a {job} job is an AssetKey, an asset definition or spec, an asset "
                f"key string ('sales/orders') or its parts, got {source!r:.80}",
                subject="tables",
            )
    if not found:
        raise InvalidConfigError(f"a {job} job needs at least one table", subject="tables")
    return tuple(found.values())


def _operations_of(operations: Iterable[MaintenanceOperation]) -> tuple[MaintenanceOperation, ...]:
    chosen = tuple(operations)
    for operation in chosen:
        if not callable(getattr(operation, "run", None)) or not isinstance(
            getattr(operation, "name", None), str
        ):
            raise InvalidConfigError(
                "a maintenance operation has a 'name' and a 'run(maintenance, table)' "
                "(Compact, ExpireSnapshots, RemoveOrphanFiles, Health, ByPolicy), got "
                f"{operation!r:.80}",
                subject="operations",
            )
    if not chosen:
        raise InvalidConfigError(
            "a maintenance job needs at least one operation", subject="operations"
        )
    return chosen


def maintenance_job(
    tables: Iterable[TableSource],
    *,
    operations: Iterable[MaintenanceOperation] = DEFAULT_OPERATIONS,
    name: str = "floe_maintenance",
    io_manager: IcebergIOManager | None = None,
    resource_key: str = "io_manager",
) -> dg.JobDefinition:
    """A job that runs maintenance operations on the tables of the given assets.

    Its one op runs every operation, in order, on each table, through the
    ``floe.Floe`` of the :class:`IcebergIOManager` bound to ``resource_key``
    (the one the assets are written with, given by ``Definitions`` or here
    as ``io_manager``), so the tables are those the IO manager maps the
    asset keys to (``floe/table`` metadata of an asset definition or spec
    included). For each table it logs a summary to the run's log and records
    an ``AssetObservation`` on the asset key whose metadata holds what each
    operation reported (``floe/files_compacted``, ``floe/bytes_rewritten``,
    ``floe/snapshots_expired``, ``floe/files_deleted``, ``floe/bytes_freed``,
    ``floe/orphan_files``, ``floe/data_files``…).
    When an operation fails on a table, that table's remaining operations
    are skipped and the other tables are still maintained; the op then
    fails naming every failed table. Schedule it with
    ``dg.ScheduleDefinition(job=job, cron_schedule="0 3 * * *")``.

    Args:
        tables: The assets whose tables to maintain: asset definitions
            (every key), ``AssetSpec``s, ``AssetKey``s, asset key strings
            (``"sales/orders"``) or key parts (``["sales", "orders"]``).
        operations: What to run on each table, in order: by default
            ``Compact()`` (small files into files near the table's target
            size), ``ExpireSnapshots()`` (older than 5 days, keeping the
            newest), ``RemoveOrphanFiles()`` (older than 3 days) and
            ``Health()``. Leave ``Compact()`` out of the list not to
            rewrite data files.
        name: The job's name.
        io_manager: The IO manager to use; ``None`` takes the resource bound
            to ``resource_key`` where the job is defined.
        resource_key: The key of the :class:`IcebergIOManager` resource.

    Returns:
        The job.

    Raises:
        InvalidConfigError: No table, an unknown kind of table, or no or an
            invalid operation.
    """
    chosen = targets_of(tables)
    steps = _operations_of(operations)

    @dg.op(
        name=f"{name}_tables",
        required_resource_keys={resource_key},
        description="Runs "
        + ", ".join(s.name for s in steps)
        + " on "
        + ", ".join(t.key.to_user_string() for t in chosen),
    )
    def maintain(context: dg.OpExecutionContext) -> Iterator[dg.AssetObservation | dg.Output[None]]:
        # A generator: each observation is recorded as it is yielded, even
        # when the op fails at the end (events logged with log_event are not).
        manager = getattr(context.resources, resource_key)
        if not isinstance(manager, IcebergIOManager):
            raise dg.Failure(
                f"resource {resource_key!r} must be an IcebergIOManager, got "
                f"{type(manager).__name__}"
            )
        failed: list[str] = []
        for target in chosen:
            observation, error = _maintain(context, manager, target, steps)
            yield observation
            if error is not None:
                failed.append(f"{target.key.to_user_string()}: {error}")
        if failed:
            raise dg.Failure(
                description=f"maintenance failed for {len(failed)} of {len(chosen)} "
                "tables: " + "; ".join(failed),
                metadata={"floe/failed_tables": "\n".join(failed)},
            )
        yield dg.Output(None)

    @dg.job(
        name=name,
        resource_defs={resource_key: io_manager} if io_manager is not None else None,
        description="floe table maintenance",
    )
    def job() -> None:
        maintain()

    return job


def _maintain(
    context: dg.OpExecutionContext,
    manager: IcebergIOManager,
    target: _Target,
    steps: Sequence[MaintenanceOperation],
) -> tuple[dg.AssetObservation, str | None]:
    """Run the operations on one table: its observation, and the error text if one failed."""
    asset = target.key.to_user_string()
    figures: dict[str, int | float | str] = {}
    error: str | None = None
    table_name = asset
    with to_op_log(context):
        try:
            table = targets.table_for(
                list(target.key.path), target.metadata, manager.settings.default_namespace
            )
            table_name = str(table)
            maintenance = manager.lake.maintenance
            for step in steps:
                figures.update(step.run(maintenance, table))
        except FloeStorageError as exc:
            error = f"{type(exc).__name__}: {exc}"
    figures.update(totals(figures))
    metadata: dict[str, dg.RawMetadataValue] = {"floe/table": table_name, **figures}
    if error is not None:
        metadata["floe/error"] = error
        context.log.error(f"maintenance of {table_name} (asset {asset}) failed: {error}")
    else:
        context.log.info(
            f"maintained {table_name} (asset {asset}): "
            + ", ".join(f"{k.removeprefix('floe/')}={v}" for k, v in figures.items())
        )
    return dg.AssetObservation(asset_key=target.key, metadata=metadata), error
