"""Dagster integration: an IO manager storing assets as floe (Iceberg) tables.

Public names (everything else in this package is private, in modules whose
names start with ``_``):

- :class:`IcebergIOManager`: the IO manager, a Dagster configurable resource.
- :func:`create_io_manager`: an :class:`IcebergIOManager` whose catalog
  config is checked at once.
- :class:`IcebergIOManagerConfig`: the IO manager's settings as one
  validated value (``IcebergIOManager(...).settings``).
- :func:`table_for_asset_key`: the table an asset key maps to, e.g. to read
  an asset's table with ``floe.Floe`` outside Dagster.
- :func:`maintenance_job`: a job maintaining the assets' tables through the
  IO manager, with the operations :class:`Compact`, :class:`ExpireSnapshots`,
  :class:`RemoveOrphanFiles`, :class:`Health` and :class:`ByPolicy` (the
  catalog's maintenance policies; any :class:`MaintenanceOperation`);
  schedule it with ``dg.ScheduleDefinition``.
- :func:`publish_job`: the publish step of write-audit-publish: publishes
  each asset's branch onto ``main`` once its blocking checks passed.

The IO manager is an edge adapter: it turns Dagster contexts into calls of
floe's application services (``floe.Floe``) and nothing else.

**Tables.** Asset key ``["sales", "orders"]`` → table ``sales.orders``; a
single-part key lands in ``default_namespace``; metadata ``floe/table``
overrides. The namespace and the table (schema of the first output,
partition spec from ``floe/partition_spec``) are created on the first write.

**Write modes.** An asset is its table: by default (``overwrite``) its
materialization replaces the table, as Dagster's database IO managers do.
``append`` and ``upsert`` (with ``floe/join_columns``) are opt-in, per asset
(``floe/write_mode`` metadata) or for every asset (``write_mode``).

**Partitions.** A partitioned asset's run replaces exactly its partitions:
the write is an overwrite filtered on the partition column(s) (time window
→ ``col >= start and col < end``; static/dynamic key → ``col = key``;
multi-partitions → both), unless the write mode is ``upsert``. A naive
timestamp column is compared with the window's wall-clock times in the
partitions' time zone, a zoned one with UTC instants, a date column with
dates. Data outside the partition is refused. The partition column is
named by metadata or inferred from ``floe/partition_spec``
(:mod:`floe.adapters.dagster._partitions`). Inputs of a partitioned upstream
read only the partitions requested; an input annotated ``dict[str, ...]``
gets one frame per partition (:mod:`floe.adapters.dagster._annotations`).

**Branches (write-audit-publish).** With ``branch`` set (or
``FLOE_BRANCH``, or a run's ``floe/branch`` tag), every output is written
to that branch of its table, cut from ``main``'s head on the asset's first
write there (the table must have data on ``main``), and inputs are read
from the branch when their table has it, else from ``main``: asset checks
see the branch's data and readers of ``main`` see nothing of it.
:func:`publish_job` then publishes each asset whose blocking checks passed
since its latest materialization, and refuses the others (``docs/branches.md``).

**Metadata.** ``dagster/row_count`` is the table's rows after the write,
``dagster/partition_row_count`` the written partition's,
``floe/rows_written`` the step's (:mod:`floe.adapters.dagster._materialization`).

**Logs.** During ``handle_output`` and ``load_input`` floe's events go to
the run's log at DEBUG level (:mod:`floe.adapters.dagster._logs`).

**Retry safety.** Every write records ``floe.dagster.run_id``,
``floe.dagster.step_key``, ``floe.dagster.output`` and
``floe.dagster.partition`` (``""`` when unpartitioned) in its snapshot
summary; the attempt number is deliberately not recorded. Before an
*append*, the table's snapshots are searched for one written by "the same
step"; if found, the append is skipped (logged; the metadata carries the
earlier snapshot id and ``floe/deduplicated: True``). "The same step" means
the same step key, output and partition, written

- by the current run: covers step retries (``RetryPolicy``,
  ``RetryRequested``), which run under the same run id; or
- by an ancestor run this run *resumes*. Dagster gives every re-execution
  a NEW run id, with ``parent_run_id``/``root_run_id`` set. The parent chain
  is followed through the Dagster instance for as long as the child run
  re-executes a subset of steps reusing its parent's outputs (from failure —
  UI, ``ReexecutionOptions.from_failure``, run retries with ``FROM_FAILURE``
  or ``FROM_ASSET_FAILURE``, recognised by ``step_keys_to_execute`` or the
  ``dagster/is_resume_retry``/``dagster/is_asset_resume_retry`` tags — or an
  explicit step selection) and the step did NOT succeed in the parent (a
  failed or unfinished attempt may have committed its append before dying).

Not covered, on purpose: re-executing ALL steps (a new computation whose
inputs may differ: it appends again), re-running a step that succeeded in
the parent, and separate runs. Overwrites (including every partitioned
write) and upserts are idempotent by themselves and only record the
properties. The check and the append are not atomic: two concurrent attempts
of the same step (which Dagster does not start) could both append. Expiring
a snapshot removes its evidence: keep snapshots at least as long as you may
resume a run.
"""

from floe.adapters.dagster._config import IcebergIOManagerConfig
from floe.adapters.dagster._io_manager import IcebergIOManager, create_io_manager
from floe.adapters.dagster._maintenance_job import maintenance_job
from floe.adapters.dagster._operations import (
    ByPolicy,
    Compact,
    ExpireSnapshots,
    Health,
    MaintenanceOperation,
    RemoveOrphanFiles,
)
from floe.adapters.dagster._publish_job import publish_job
from floe.adapters.dagster._targets import table_for_asset_key

__all__ = [
    "ByPolicy",
    "Compact",
    "ExpireSnapshots",
    "Health",
    "IcebergIOManager",
    "IcebergIOManagerConfig",
    "MaintenanceOperation",
    "RemoveOrphanFiles",
    "create_io_manager",
    "maintenance_job",
    "publish_job",
    "table_for_asset_key",
]
