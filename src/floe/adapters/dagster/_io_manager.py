"""``IcebergIOManager``: Dagster asset outputs and inputs as floe tables.

An edge adapter: it turns Dagster contexts into calls of floe's application
services (``floe.Floe``) and nothing else. What it guarantees (table
mapping, write modes, partitions, metadata, logs, retry safety) is written
once, in the documentation of the package, :mod:`floe.adapters.dagster`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import pyarrow as pa
from pydantic import Field, PrivateAttr
from pyiceberg.expressions import And, BooleanExpression

import floe
from floe.adapters.dagster import _targets as targets
from floe.adapters.dagster._annotations import input_shape
from floe.adapters.dagster._config import IcebergIOManagerConfig
from floe.adapters.dagster._frames import (
    can_stream,
    from_arrow,
    is_ray_dataset,
    to_arrow,
    to_stream,
    wants_duckdb,
    wants_lazy,
    wants_ray,
)
from floe.adapters.dagster._lazy import lazy_scan
from floe.adapters.dagster._lineage import RUN_ID, step_write
from floe.adapters.dagster._logs import to_run_log
from floe.adapters.dagster._materialization import (
    MaterializationMetadata,
    rows_after_write,
    to_dagster,
)
from floe.adapters.dagster._partitions import partition_selection, selection_for
from floe.adapters.dagster._selection import PartitionSelection, RowsInside
from floe.adapters.filters import parse_filter
from floe.application import TableMissing
from floe.application.tables import as_partition_spec
from floe.domain.config import CatalogConfig, LocalCatalogConfig, PolarisCatalogConfig
from floe.ports.arrow import canonical_schema, describe_schema

_logger = logging.getLogger("floe.dagster")  # silent unless the application logs

#: The run tag naming the branch a run writes to (wins over the setting and the variable).
BRANCH_TAG = "floe/branch"
#: The environment variable naming the branch of a deployment (when the setting is unset).
BRANCH_ENV = "FLOE_BRANCH"


class IcebergIOManager(dg.ConfigurableIOManager):
    """Stores asset outputs in Iceberg tables and loads inputs from them.

    Outputs may be ``pyarrow.Table``, ``pandas.DataFrame``, (with polars
    installed) ``polars.DataFrame``/``LazyFrame``, ``duckdb.DuckDBPyRelation``, or
    ``pyarrow.RecordBatchReader``;
    ``None`` writes nothing. By default an output replaces its table (a
    partitioned asset's output, its partition). A reader, relation or ``LazyFrame`` output of an
    unpartitioned asset in append mode is streamed into the table in bounded
    memory (one commit, as :meth:`floe.WriteService.append` does; the
    LazyFrame runs on polars' streaming engine as the table pulls its
    batches); otherwise it is read whole (a LazyFrame collected).
    Inputs come back as the type the downstream parameter annotates
    (PyArrow by default). A ``polars.LazyFrame`` input is a lazy scan of the
    snapshot current when the input is loaded: nothing is read until it is
    collected, and then only the columns the query uses (and, for a query
    without a filter, the rows it needs); the input's ``columns`` and
    ``row_filter`` and partition filters are pushed into the scan, a polars
    filter is applied to each batch. A ``duckdb.DuckDBPyRelation`` input is
    ``reads.to_duckdb`` of that snapshot (columns, filter and partitions in
    its query): DuckDB reads the files when the asset runs the relation.
    See :mod:`floe.adapters.dagster` for table mapping, partitions and retry
    safety.

    One ``floe.Floe`` is built on first use and reused for every output and
    input. With ``{"type": "memory"}`` the tables live in that Floe, and
    Dagster initialises a fresh IO manager per run: they last one run.

    Attributes:
        catalog: The catalog config as a plain mapping, as
            :func:`floe.load_catalog_config` accepts (``{"type": "local",
            "warehouse_path": ...}``, ``{"type": "memory"}`` or Polaris
            fields). It is part of the run config: keep secrets out of it and
            use ``catalog_env_prefix`` for Polaris credentials.
        catalog_env_prefix: When set (e.g. ``"FLOE_CATALOG_"``), the catalog
            config is read from environment variables with this prefix
            (:func:`floe.catalog_config_from_env`) and ``catalog`` is ignored.
        default_namespace: Namespace of single-part asset keys.
        write_mode: ``overwrite`` (default: a materialization replaces the
            asset's table, or its partition), ``append`` or ``upsert``, unless
            an asset's ``floe/write_mode`` metadata says otherwise.
        schema_evolution: Let writes add columns and widen types.
        partition_column: Column of time-window partitioned assets whose
            metadata neither names one (``floe/partition_column``) nor implies
            one (a ``floe/partition_spec`` with one time transform).
        table_properties: Properties of the tables the IO manager creates.
        branch: Write every asset to this branch of its table and read
            inputs from it when the table has it (else from ``main``):
            write-audit-publish, see :func:`publish_job`. A run's
            ``floe/branch`` tag wins over it; unset, the ``FLOE_BRANCH``
            environment variable gives it (a branch deployment's). ``main``
            or empty: no branch.
    """

    catalog: dict[str, Any] = Field(
        default_factory=lambda: {"type": "local"},
        description="Catalog config mapping with a 'type' (local, memory, polaris).",
    )
    catalog_env_prefix: str | None = Field(
        default=None, description="Read the catalog config from env vars with this prefix."
    )
    default_namespace: str = Field(default="default", description="Namespace of 1-part keys.")
    write_mode: str = Field(
        default="overwrite",
        description="overwrite (an asset's run replaces its table or partition), append or upsert.",
    )
    schema_evolution: bool = Field(default=True, description="Allow new columns / widening.")
    partition_column: str | None = Field(
        default=None, description="Column filtered by time-window partitions."
    )
    table_properties: dict[str, str] = Field(
        default_factory=dict, description="Properties of tables created by the IO manager."
    )
    branch: str | None = Field(
        default=None,
        description="Branch every asset is written to and read from first (else FLOE_BRANCH; "
        "a run's floe/branch tag wins).",
    )

    # The memory catalog lives inside one Floe: reuse it for every output and input.
    _lake: floe.Floe | None = PrivateAttr(default=None)
    _lake_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _catalog_name: str = PrivateAttr(default="")

    @property
    def lake(self) -> floe.Floe:
        """The floe services this IO manager works through (built on first use).

        Raises:
            InvalidConfigError: The catalog configuration is invalid.
        """
        with self._lake_lock:
            if self._lake is None:
                config = (
                    floe.catalog_config_from_env(prefix=self.catalog_env_prefix)
                    if self.catalog_env_prefix
                    else floe.load_catalog_config(self.catalog)
                )
                self._lake = floe.Floe.from_config(config)
                self._catalog_name = _catalog_name(config)
            return self._lake

    @property
    def settings(self) -> IcebergIOManagerConfig:
        """The IO manager's settings as floe's validated config value.

        Raises:
            InvalidConfigError: A setting is invalid (e.g. an unknown write mode).
        """
        return IcebergIOManagerConfig(
            default_namespace=self.default_namespace,
            write_mode=self.write_mode,  # a str: the converter validates it
            schema_evolution=self.schema_evolution,
            partition_column=self.partition_column,
            table_properties=self.table_properties,
            branch=self.branch if self.branch is not None else os.environ.get(BRANCH_ENV),
        )

    def branch_for(
        self, context: dg.OutputContext | dg.InputContext | dg.OpExecutionContext
    ) -> str | None:
        """The branch a run writes to: its ``floe/branch`` tag, else the setting or ``FLOE_BRANCH``.

        Returns:
            The branch, ``None`` for ``main``.

        Raises:
            InvalidRefError: The name is not a valid branch name.
        """
        tagged = _run_tags(context).get(BRANCH_TAG)
        if tagged is not None:
            return IcebergIOManagerConfig(branch=tagged).branch
        return self.settings.branch

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write an asset's output into its table and report materialization metadata.

        floe's events during the write go to the run's log at DEBUG level.

        Raises:
            FloeStorageError: Any floe error (invalid settings, schema that does
                not fit, rows outside the partition, failed commit).
        """
        with to_run_log(context):
            self._handle_output(context, obj)

    def _handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        # One load of the table before the write (its schema, current snapshot
        # and location), handed to the write so that it does not load it
        # again; the snapshots only when an append must be checked; after the
        # write, what the commit reported (no load).
        asset = _describe(context)
        if obj is None:
            _info(context, f"{asset} returned None: nothing written")
            return
        started = time.perf_counter()
        settings = self.settings
        lake = self.lake
        metadata = context.definition_metadata or {}
        table = targets.table_for(_key_path(context), metadata, settings.default_namespace)
        mode = targets.write_mode_for(metadata, settings.write_mode, asset=asset)
        selection = partition_selection(context, metadata, settings.partition_column, asset=asset)
        # A reader or LazyFrame appended to an unpartitioned asset streams;
        # anything else is read whole (a LazyFrame collected).
        appended = selection is None and mode is floe.WriteMode.APPEND
        before = self._existing(table)
        branch = self.branch_for(context)
        branch_head: int | None = None
        if branch is not None:
            before, branch_head = self._on_branch(table, before, branch, asset)
        # A Ray Dataset appended or replacing (the table, a partition's rows,
        # on main or a branch, the table's first write too) is written by the
        # Ray workers and committed once; an upsert, or a write adding
        # partition fields the table lacks, reads it whole.
        distributed = (
            is_ray_dataset(obj)
            and mode is not floe.WriteMode.UPSERT
            and (before is None or _has_partition_fields(before, metadata, asset))
        )
        streamed = can_stream(obj) and appended
        data: Any = (
            obj
            if distributed
            else to_stream(obj, table=str(table))
            if streamed
            else to_arrow(obj, table=str(table))
        )
        row_filter: BooleanExpression | None = None
        if selection is not None and mode is not floe.WriteMode.UPSERT:
            # A partition's run replaces exactly that partition.
            mode = floe.WriteMode.OVERWRITE
            if distributed:
                # Each block is checked on its worker as the dataset runs; a
                # first write creates the table with every row (no filter).
                inside = RowsInside(
                    selection, None if before is None else before.schema, str(table)
                )
                data = data.map_batches(
                    inside, batch_format="pyarrow", batch_size=None, zero_copy_batch=True
                )
                # Ray Data re-raises a map's error as its own UserCodeException,
                # without the original; this keeps floe's typed error. (The
                # context is the output dataset's, which the step handed over.)
                data.context.raise_original_map_exception = True
                if before is not None:
                    row_filter = selection.to_filter(before.schema, table=str(table))
            else:
                schema = before.schema if before is not None else canonical_schema(data.schema)
                row_filter = selection.to_filter(schema, table=str(table))
                selection.check_rows(to_arrow(data, table=str(table)), schema, table=str(table))
        label = selection.label if selection else ""
        identity = step_write(context, label, with_ancestors=mode is floe.WriteMode.APPEND)
        history: list[floe.SnapshotInfo] = []
        if mode is floe.WriteMode.APPEND and identity is not None and before is not None:
            history = lake.snapshots.list(table)
        earlier = identity.find_earlier(history) if identity is not None else None
        if earlier is not None:
            _info(
                context,
                f"{asset}: snapshot {earlier.snapshot_id} of {table} already holds this step's "
                f"append (run {earlier.summary.get(RUN_ID)}); not appending again",
            )
            rows = int(earlier.summary.get("added-records", 0))
            committed: int | None = None
            written: floe.WriteResult | None = None
        else:
            properties = identity.snapshot_properties() if identity else None
            result = (
                self._write_distributed(
                    table, data, mode, row_filter, metadata, asset, properties, branch
                )
                if distributed
                else self._write(
                    table, data, mode, row_filter, metadata, asset, properties, before, branch
                )
            )
            rows, committed, written = result.rows_written, result.snapshot_id, result
        after = _after_write(written, before) or lake.tables.load(table)
        head = after.current_snapshot_id if branch is None else branch_head
        current = committed if committed is not None else head
        partition_rows = None
        if selection is not None:
            # An overwrite leaves exactly the rows written in the partition;
            # an upsert keeps the partition's other rows: count them.
            partition_rows = (
                rows
                if mode is floe.WriteMode.OVERWRITE and committed is not None
                else self._count(
                    table,
                    after.schema,
                    selection.to_filter(after.schema, table=str(table)),
                    ref=branch,
                )
            )
        report = MaterializationMetadata(
            table=table,
            snapshot_id=earlier.snapshot_id if earlier is not None else current,
            row_count=self._table_rows(
                table,
                after.schema,
                current,
                # A branch's totals are its own snapshot's (``before`` is main's).
                known=None
                if branch is not None
                else rows_after_write(mode, selection, committed, rows, before, history),
                snapshot=None if written is None else written.snapshot,
                ref=branch,
            ),
            rows_written=rows,
            columns=describe_schema(after.schema),
            write_mode=mode,
            duration_ms=(time.perf_counter() - started) * 1000,
            partition=selection.label if selection else None,
            partition_row_count=partition_rows,
            deduplicated=earlier is not None,
            location=after.location,
            catalog=self._catalog_name,
            branch=branch,
        )
        context.add_output_metadata(to_dagster(report))

    def _on_branch(
        self,
        table: floe.TableIdentifier,
        before: floe.TableInfo | None,
        branch: str,
        asset: str,
    ) -> tuple[floe.TableInfo, int]:
        """Make sure ``branch`` exists (cut from ``main``'s head on its first write).

        Returns:
            The table as loaded after the branch exists, and the branch's head.

        Raises:
            TableNotFoundError: The table does not exist, or has no snapshot on
                ``main`` to cut the branch from.
        """
        if before is None or before.current_snapshot_id is None:
            raise floe.TableNotFoundError(
                f"{asset}: table {table} has no data on main yet, so branch {branch!r} cannot "
                "be cut from it; materialize the asset on main first",
                subject=str(table),
            )
        refs = {ref.name: ref for ref in self.lake.refs.list(table)}
        found = refs.get(branch)
        if found is not None:
            return before, found.snapshot_id
        try:
            created = self.lake.refs.create_branch(table, branch)
        except floe.RefExistsError:  # another step cut it meanwhile
            created = self.lake.refs.get(table, branch)
        # The write starts from the table it is handed: one that knows the branch.
        return self.lake.tables.load(table), created.snapshot_id

    def _write(
        self,
        table: floe.TableIdentifier,
        data: pa.Table | pa.RecordBatchReader,
        mode: floe.WriteMode,
        row_filter: BooleanExpression | None,
        metadata: Mapping[str, Any],
        asset: str,
        snapshot_properties: Mapping[str, str] | None,
        before: floe.TableInfo | None,
        branch: str | None,
    ) -> floe.WriteResult:
        """Write an output's rows (not a distributed write) with the asset's settings."""
        settings = self.settings
        spec = targets.names(metadata, targets.PARTITION_SPEC, asset=asset) or ()
        return self.lake.writes.write(
            table,
            data,
            mode=mode,
            row_filter=row_filter,
            join_columns=targets.names(metadata, targets.JOIN_COLUMNS, asset=asset) or (),
            allow_schema_evolution=settings.schema_evolution,
            snapshot_properties=snapshot_properties,
            # A first write creates the table in the same commit as its rows;
            # later ones add partition fields the metadata names and the
            # table lacks, in the same commit too (others are kept).
            create_if_missing=floe.NewTable(spec, settings.table_properties),
            partition_fields=spec,
            current=before if before is not None else TableMissing(),
            branch=branch,
        )

    def _write_distributed(
        self,
        table: floe.TableIdentifier,
        dataset: Any,
        mode: floe.WriteMode,
        row_filter: BooleanExpression | None,
        metadata: Mapping[str, Any],
        asset: str,
        snapshot_properties: Mapping[str, str] | None,
        branch: str | None,
    ) -> floe.WriteResult:
        """Write a Ray Dataset output through the Ray workers, as :meth:`_write` would write it."""
        settings = self.settings
        spec = targets.names(metadata, targets.PARTITION_SPEC, asset=asset) or ()
        # A first write creates the table in the same commit as the workers' files.
        new = floe.NewTable(spec, settings.table_properties)
        if mode is floe.WriteMode.APPEND:
            return self.lake.writes.append_distributed(
                table,
                dataset,
                allow_schema_evolution=settings.schema_evolution,
                snapshot_properties=snapshot_properties,
                branch=branch,
                create_if_missing=new,
            )
        return self.lake.writes.overwrite_distributed(
            table,
            dataset,
            row_filter=row_filter,
            allow_schema_evolution=settings.schema_evolution,
            snapshot_properties=snapshot_properties,
            branch=branch,
            create_if_missing=new,
        )

    def _table_rows(
        self,
        table: floe.TableIdentifier,
        schema: pa.Schema,
        snapshot_id: int | None,
        *,
        known: int | None,
        snapshot: floe.SnapshotInfo | None,
        ref: str | None = None,
    ) -> int:
        """Rows in the table at ``snapshot_id``: ``known``, else its summary's total, or counted.

        ``snapshot`` is the snapshot the write committed, when it said: its
        summary spares loading the snapshot.
        """
        if snapshot_id is None:
            return 0
        if known is not None:
            return known
        if snapshot is None or snapshot.snapshot_id != snapshot_id:
            snapshot = self.lake.snapshots.get(table, snapshot_id)
        total = snapshot.summary.get("total-records")
        if total is not None:
            return int(total)
        return self._count(table, schema, None, ref=ref)

    def _count(
        self,
        table: floe.TableIdentifier,
        schema: pa.Schema,
        row_filter: BooleanExpression | None,
        *,
        ref: str | None = None,
    ) -> int:
        """Rows of the current snapshot (or ``ref``'s head) matching ``row_filter``."""
        first = schema.names[:1]
        rows: int = self.lake.reads.scan(
            table, columns=first, row_filter=row_filter, ref=ref
        ).num_rows
        return rows

    def _existing(self, table: floe.TableIdentifier) -> floe.TableInfo | None:
        """The table as it is, or ``None`` when a first write will create it.

        A missing table's namespace is created here; the table itself is
        created by the write, in the same commit as its first rows.
        """
        try:
            return self.lake.tables.load(table)
        except floe.TableNotFoundError:
            self.lake.namespaces.create_if_not_exists(table.namespace)
            return None

    def load_input(self, context: dg.InputContext) -> Any:
        """Read an upstream asset's table as the input's annotated type.

        Honours input metadata ``columns`` and ``row_filter``, and reads only
        the requested partitions of a partitioned upstream. An input
        annotated ``dict[str, <frame>]`` gets one frame per requested
        partition, keyed by partition key; an ``Optional[...]`` input of a
        table that does not exist gets ``None``. floe's events during the
        read go to the run's log at DEBUG level.

        Raises:
            FloeStorageError: Any floe error (missing table, bad filter or column).
            InvalidConfigError: A ``dict`` input of an unpartitioned upstream.
        """
        with to_run_log(context):
            return self._load_input(context)

    def _load_input(self, context: dg.InputContext) -> Any:
        asset = _describe(context)
        settings = self.settings
        upstream = context.upstream_output
        upstream_metadata = dict(upstream.definition_metadata or {}) if upstream else {}
        input_metadata = context.definition_metadata or {}
        if targets.TABLE in input_metadata:
            upstream_metadata[targets.TABLE] = input_metadata[targets.TABLE]
        table = targets.table_for(_key_path(context), upstream_metadata, settings.default_namespace)
        shape = input_shape(_annotation(context))
        columns = targets.names(input_metadata, targets.COLUMNS, asset=asset)
        input_filter = targets.row_filter_for(input_metadata, asset=asset)
        if shape.by_partition and not context.has_asset_partitions:
            raise floe.InvalidConfigError(
                f"{asset} is annotated as a dict of partitions, but its upstream table "
                f"{table} is not partitioned",
                subject=asset,
            )
        try:
            head = self._branch_head(context, table)
            if not shape.by_partition:
                selection = partition_selection(
                    context, upstream_metadata, settings.partition_column, asset=asset
                )
                needs_info = (
                    selection is not None
                    or wants_lazy(shape.frame)
                    or wants_duckdb(shape.frame)
                    or wants_ray(shape.frame)
                )
                info = self.lake.tables.load(table) if needs_info else None
                return self._read(table, info, shape.frame, columns, input_filter, selection, head)
            keys = list(dict.fromkeys(str(k) for k in context.asset_partition_keys))
            partitions_def = context.asset_partitions_def
            info = self.lake.tables.load(table)  # once for every partition's frame
            return {
                key: self._read(
                    table,
                    info,
                    shape.frame,
                    columns,
                    input_filter,
                    selection_for(
                        partitions_def,
                        [key],
                        upstream_metadata,
                        settings.partition_column,
                        asset=asset,
                    ),
                    head,
                )
                for key in keys
            }
        except floe.TableNotFoundError:
            if shape.optional:
                _info(context, f"{asset}: table {table} does not exist; the input is None")
                return None
            raise

    def _read(
        self,
        table: floe.TableIdentifier,
        info: floe.TableInfo | None,
        frame: object,
        columns: tuple[str, ...] | None,
        input_filter: str | None,
        selection: PartitionSelection | None,
        head: floe.Ref | None = None,
    ) -> Any:
        """One frame of the table's rows in ``selection`` that pass ``input_filter``.

        ``info`` (the table as loaded) is needed for a selection or a lazy
        frame; ``head`` is the run's branch when the table has it (read
        instead of ``main``).
        """
        selected = (
            selection.to_filter(info.schema, table=str(table))
            if selection is not None and info is not None
            else None
        )
        if wants_lazy(frame) and info is not None:
            snapshot_id = info.current_snapshot_id if head is None else head.snapshot_id
            return self._lazy_input(table, info, columns, input_filter, selected, snapshot_id)
        row_filter = _all_of(input_filter, selected, table=str(table))
        if wants_ray(frame) and info is not None:
            # Planned now, pinned to the snapshot current now; Ray reads it.
            return self.lake.reads.to_ray(
                table, columns=columns, row_filter=row_filter, snapshot_id=info.current_snapshot_id
            )
        if wants_duckdb(frame) and info is not None:
            # Handed over unread, pinned to the snapshot the run reads now
            # (the branch's head when the run writes to a branch that has it).
            return self.lake.reads.to_duckdb(
                table,
                columns=columns,
                row_filter=row_filter,
                snapshot_id=info.current_snapshot_id if head is None else head.snapshot_id,
            )
        data = self.lake.reads.scan(
            table,
            columns=columns,
            row_filter=row_filter,
            ref=None if head is None else head.name,
        )
        return from_arrow(data, frame)

    def _branch_head(
        self, context: dg.InputContext, table: floe.TableIdentifier
    ) -> floe.Ref | None:
        """The run's branch of ``table`` when there is one and the table has it, else ``None``.

        An upstream not materialized on the branch is read from ``main``.
        """
        branch = self.branch_for(context)
        if branch is None:
            return None
        return next(
            (r for r in self.lake.refs.list(table) if r.name == branch and r.is_branch), None
        )

    def _lazy_input(
        self,
        table: floe.TableIdentifier,
        info: floe.TableInfo,
        columns: tuple[str, ...] | None,
        input_filter: str | None,
        selected: BooleanExpression | None,
        snapshot_id: int | None,
    ) -> Any:
        """A LazyFrame over one snapshot (main's or the branch's head), read when collected.

        The snapshot is pinned here, so that every collect reads the same
        rows. The input's ``columns``, its filter text and the partitions
        ``selected``, and the columns, the translatable part of the filter
        and the row count the query needs go into floe's scan
        (:mod:`floe.adapters.dagster._lazy`). A bad input filter raises its
        :class:`floe.InvalidFilterError` when the frame is collected.

        Raises:
            InvalidScanError: An input column is not in the table.
        """
        lake = self.lake
        schema = canonical_schema(info.schema)
        unknown = [name for name in columns or () if name not in schema.names]
        if unknown:
            raise floe.InvalidScanError(
                f"input columns {unknown} are not in table {table} (columns: {schema.names})"
            )
        if columns is not None:
            schema = pa.schema([schema.field(name) for name in columns])

        def read(
            wanted: Sequence[str] | None, pushed: str | None, limit: int | None
        ) -> pa.RecordBatchReader:
            if snapshot_id is None:  # the table had no rows when the input was loaded
                names = schema.names if wanted is None else list(wanted)
                return pa.RecordBatchReader.from_batches(
                    pa.schema([schema.field(n) for n in names]), []
                )
            return lake.reads.batches(
                table,
                columns=list(wanted) if wanted is not None else columns,
                row_filter=_all_of(input_filter, selected, pushed, table=str(table)),
                snapshot_id=snapshot_id,
                limit=limit,
            )

        return lazy_scan(read, schema, name=str(table))


def create_io_manager(
    catalog: Mapping[str, Any] | None = None, **settings: Any
) -> IcebergIOManager:
    """An :class:`IcebergIOManager`, its catalog config checked at once.

    Args:
        catalog: The catalog config mapping (default ``{"type": "local"}``).
        **settings: Other :class:`IcebergIOManager` fields
            (``default_namespace``, ``write_mode``, ``partition_column``…).

    Returns:
        The IO manager, ready for ``Definitions(resources={"io_manager": ...})``.

    Raises:
        InvalidConfigError: The catalog config is invalid.
    """
    values = dict(catalog if catalog is not None else {"type": "local"})
    if not settings.get("catalog_env_prefix"):
        floe.load_catalog_config(values)
    return IcebergIOManager(catalog=values, **settings)


def _has_partition_fields(table: floe.TableInfo, metadata: Mapping[str, Any], asset: str) -> bool:
    """Whether ``table`` has every partition field the asset's metadata names.

    A distributed write adds none: an asset naming a field its table lacks is
    written by the single-process write, which adds it in its commit.
    """
    wanted = as_partition_spec(targets.names(metadata, targets.PARTITION_SPEC, asset=asset) or ())
    have = {(f.source_column, f.transform_type, f.param) for f in table.partition_spec}
    return all((f.source_column, f.transform_type, f.param) in have for f in wanted)


def _catalog_name(config: CatalogConfig) -> str:
    """The name that qualifies the catalog's tables (Polaris: its warehouse)."""
    if isinstance(config, PolarisCatalogConfig):
        return config.warehouse
    if isinstance(config, LocalCatalogConfig):
        return config.catalog_name
    return config.name


def _run_tags(
    context: dg.OutputContext | dg.InputContext | dg.OpExecutionContext,
) -> Mapping[str, str]:
    """The run's tags, empty when the context has no run (e.g. ``build_output_context``)."""
    try:
        if isinstance(context, dg.OpExecutionContext):
            return context.run.tags
        return context.step_context.dagster_run.tags
    except (dg.DagsterInvariantViolationError, AttributeError):
        return {}


def _key_path(context: dg.OutputContext | dg.InputContext) -> list[str] | None:
    return list(context.asset_key.path) if context.has_asset_key else None


def _after_write(
    written: floe.WriteResult | None, before: floe.TableInfo | None
) -> floe.TableInfo | None:
    """The table after a write, when known without a load.

    A commit reports the table it left; a write that committed nothing (or
    was skipped) left the table as it was before, if it existed.
    """
    if written is not None and written.table_info is not None:
        return written.table_info
    if before is not None and (written is None or written.snapshot_id is None):
        return before
    return None


def _all_of(*filters: str | BooleanExpression | None, table: str) -> str | BooleanExpression | None:
    """The rows every filter selects: ``None`` for none, a lone filter as it is.

    Filter text joined with others is parsed here, by floe's parser, and
    the expressions are combined with ``And``.

    Raises:
        InvalidFilterError: A text to combine is not a valid filter.
    """
    present = [f for f in filters if f is not None and not (isinstance(f, str) and not f)]
    if len(present) <= 1:
        return present[0] if present else None
    return And(*(parse_filter(f, table=table) for f in present))


def _describe(context: dg.OutputContext | dg.InputContext) -> str:
    if context.has_asset_key:
        return f"asset {context.asset_key.to_user_string()}"
    return "output" if isinstance(context, dg.OutputContext) else "input"


def _annotation(context: dg.InputContext) -> object:
    try:
        return context.dagster_type.typing_type
    except dg.DagsterInvariantViolationError:
        return None


def _info(context: dg.OutputContext | dg.InputContext, message: str) -> None:
    try:
        context.log.info(message)
    except dg.DagsterInvariantViolationError:
        _logger.info(message)
