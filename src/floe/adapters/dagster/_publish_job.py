"""``publish_job``: publish the branch of each audited asset's table onto ``main``.

The publish step of write-audit-publish. An asset materialized on a branch
(:class:`IcebergIOManager` with ``branch``, ``FLOE_BRANCH`` or a run's
``floe/branch`` tag) is checked there by its asset checks, which read the
branch; this job then publishes each asset's branch, but only when every
blocking check of the asset passed since its latest materialization. A
failed or missing blocking check refuses that asset: its ``main`` stays as
it was, and the job fails naming it after the other assets were handled.
"""

# No "from __future__ import annotations": Dagster reads the op's context annotation.
from collections.abc import Iterable, Iterator, Mapping

import attrs
import dagster as dg

from floe.adapters.dagster import _targets as targets
from floe.adapters.dagster._io_manager import IcebergIOManager
from floe.adapters.dagster._logs import to_op_log
from floe.adapters.dagster._maintenance_job import TableSource, targets_of
from floe.domain.errors import FloeStorageError, RefNotFoundError


@attrs.frozen
class _Audited:
    """An asset to publish and the asset checks that guard it."""

    key: dg.AssetKey
    metadata: Mapping[str, object]
    checks: tuple[dg.AssetCheckKey, ...]
    blocking: frozenset[dg.AssetCheckKey]


def _audited(
    assets: Iterable[TableSource | dg.AssetChecksDefinition],
) -> tuple[_Audited, ...]:
    """The assets to publish, each with the checks defined for it (on it or beside it)."""
    sources: list[TableSource] = []
    specs: list[dg.AssetCheckSpec] = []
    for source in assets:
        if isinstance(source, dg.AssetsDefinition):
            specs.extend(source.check_specs)
            if isinstance(source, dg.AssetChecksDefinition) or not source.keys:
                continue
        sources.append(source)
    chosen = targets_of(sources, job="publish")
    by_asset: dict[dg.AssetKey, list[dg.AssetCheckSpec]] = {}
    for spec in specs:
        by_asset.setdefault(spec.asset_key, []).append(spec)
    return tuple(
        _Audited(
            t.key,
            t.metadata,
            tuple(s.key for s in by_asset.get(t.key, [])),
            frozenset(s.key for s in by_asset.get(t.key, []) if s.blocking),
        )
        for t in chosen
    )


def publish_job(
    assets: Iterable[TableSource | dg.AssetChecksDefinition],
    *,
    name: str = "floe_publish",
    replay_appends: bool = False,
    drop_branch: bool = False,
    io_manager: IcebergIOManager | None = None,
    resource_key: str = "io_manager",
) -> dg.JobDefinition:
    """A job that publishes the branch of each asset's table onto ``main``, after its checks.

    The branch is the run's: its ``floe/branch`` tag, else the IO manager's
    ``branch`` setting or ``FLOE_BRANCH`` (run it in the branch deployment
    whose branch it publishes). For each asset, in order:

    * every blocking asset check of the asset (``blocking=True``) must have
      passed in its latest execution, and that execution must be newer than
      the asset's latest materialization; a failed, missing or older one
      refuses the asset (nothing is committed for it);
    * a table without the branch (the asset was not materialized on it) is
      skipped;
    * otherwise ``lake.refs.publish`` runs (a fast-forward, or with
      ``replay_appends`` a replay of the branch's appends when ``main``
      moved; refused with :class:`floe.BranchDivergedError` otherwise).

    Each asset gets an ``AssetObservation`` (``floe/published``,
    ``floe/publish``, ``floe/snapshot_id`` or ``floe/refused``). Non-blocking
    checks that failed are logged as warnings. The op fails at the end,
    naming every refused asset.

    Args:
        assets: The asset definitions (their checks included, also those
            defined with ``@dg.asset_check``: pass them too), specs, keys or
            key strings to publish.
        name: The job's name.
        replay_appends: Replay a branch's appends when ``main`` moved.
        drop_branch: Drop each branch after publishing it.
        io_manager: The IO manager; ``None`` takes the resource bound to
            ``resource_key`` where the job is defined.
        resource_key: The key of the :class:`IcebergIOManager` resource.

    Returns:
        The job.

    Raises:
        InvalidConfigError: No asset, or an unknown kind of asset.
    """
    chosen = _audited(assets)

    @dg.op(
        name=f"{name}_branches",
        required_resource_keys={resource_key},
        description="Publishes the branch of " + ", ".join(a.key.to_user_string() for a in chosen),
    )
    def publish(context: dg.OpExecutionContext) -> Iterator[dg.AssetObservation | dg.Output[None]]:
        manager = getattr(context.resources, resource_key)
        if not isinstance(manager, IcebergIOManager):
            raise dg.Failure(
                f"resource {resource_key!r} must be an IcebergIOManager, got "
                f"{type(manager).__name__}"
            )
        branch = manager.branch_for(context)
        if branch is None:
            raise dg.Failure(
                "publish needs a branch: tag the run floe/branch=<name>, or set the IO "
                "manager's branch or FLOE_BRANCH"
            )
        refused: list[str] = []
        for asset in chosen:
            observation, problem = _publish(
                context, manager, asset, branch, replay_appends, drop_branch
            )
            yield observation
            if problem is not None:
                refused.append(f"{asset.key.to_user_string()}: {problem}")
        if refused:
            raise dg.Failure(
                description=f"branch {branch!r} not published for {len(refused)} of "
                f"{len(chosen)} assets: " + "; ".join(refused),
                metadata={"floe/refused": "\n".join(refused)},
            )
        yield dg.Output(None)

    @dg.job(
        name=name,
        resource_defs={resource_key: io_manager} if io_manager is not None else None,
        description="floe: publish audited branches onto main",
    )
    def job() -> None:
        publish()

    return job


def _publish(
    context: dg.OpExecutionContext,
    manager: IcebergIOManager,
    asset: _Audited,
    branch: str,
    replay_appends: bool,
    drop_branch: bool,
) -> tuple[dg.AssetObservation, str | None]:
    """Publish one asset's branch after its checks: its observation, and why not if refused."""
    name = asset.key.to_user_string()
    metadata: dict[str, dg.RawMetadataValue] = {"floe/branch": branch}
    problem = _blocking_problem(context, asset)
    if problem is None:
        with to_op_log(context):
            try:
                table = targets.table_for(
                    list(asset.key.path), asset.metadata, manager.settings.default_namespace
                )
                metadata["floe/table"] = str(table)
                result = manager.lake.refs.publish(
                    table, branch, replay_appends=replay_appends, drop_branch=drop_branch
                )
            except RefNotFoundError:
                context.log.info(f"{name}: no branch {branch!r} on its table; nothing to publish")
                metadata["floe/published"] = False
                return dg.AssetObservation(asset_key=asset.key, metadata=metadata), None
            except FloeStorageError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                metadata.update(
                    {
                        "floe/published": True,
                        "floe/publish": result.kind.value,
                        "floe/snapshot_id": result.snapshot_id or 0,
                    }
                )
                context.log.info(
                    f"{name}: branch {branch!r} published onto main ({result.kind.value})"
                )
    if problem is not None:
        metadata["floe/published"] = False
        metadata["floe/refused"] = problem
        context.log.error(f"{name}: branch {branch!r} not published: {problem}")
    return dg.AssetObservation(asset_key=asset.key, metadata=metadata), problem


def _blocking_problem(context: dg.OpExecutionContext, asset: _Audited) -> str | None:
    """Why the asset's checks forbid publishing it, ``None`` when they allow it."""
    if not asset.checks:
        return None
    instance = context.instance
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(asset.checks))
    materialized = instance.get_latest_materialization_event(asset.key)
    since = materialized.timestamp if materialized is not None else None
    problems: list[str] = []
    for key in asset.checks:
        record = latest.get(key)
        evaluation = None if record is None else record.evaluation
        fresh = (
            record is not None
            and record.event is not None
            and (since is None or record.event.timestamp >= since)
        )
        passed = fresh and evaluation is not None and evaluation.passed
        if passed:
            continue
        what = (
            "has not run since the latest materialization"
            if not fresh or evaluation is None
            else "failed"
        )
        if key in asset.blocking:
            problems.append(f"blocking check {key.name!r} {what}")
        else:
            context.log.warning(
                f"{asset.key.to_user_string()}: check {key.name!r} {what} (not blocking)"
            )
    return "; ".join(problems) if problems else None
