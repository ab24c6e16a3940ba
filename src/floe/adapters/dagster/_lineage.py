"""Which Dagster step wrote a snapshot, so a retried step does not append twice.

The rule (see :mod:`floe.adapters.dagster` for the guarantee):
an earlier append counts as this step's when it carries the same step key,
output and partition and comes from the current run, or from an ancestor
run this run *resumes*: following ``parent_run_id`` for as long as the child
re-executes a subset of steps (from failure, or a step selection, so its
inputs are the parent's) and the step did not succeed in the parent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs
import dagster as dg

from floe.domain.models import SnapshotInfo

RUN_ID = "floe.dagster.run_id"
STEP_KEY = "floe.dagster.step_key"
OUTPUT = "floe.dagster.output"
PARTITION = "floe.dagster.partition"

_RESUME_TAGS = ("dagster/is_resume_retry", "dagster/is_asset_resume_retry")
_MAX_ANCESTRY = 100


@attrs.frozen
class StepWrite:
    """The identity of one step output's write.

    Attributes:
        run_id: The current run.
        step_key: The step.
        output: The step output's name.
        partition: The partition key(s) as text, ``""`` when unpartitioned.
        resumed_run_ids: Earlier runs whose attempt of this step this run
            repeats, nearest first.
    """

    run_id: str
    step_key: str
    output: str
    partition: str
    resumed_run_ids: tuple[str, ...] = ()

    def snapshot_properties(self) -> dict[str, str]:
        """The snapshot summary entries that mark this write (no attempt number)."""
        return {
            RUN_ID: self.run_id,
            STEP_KEY: self.step_key,
            OUTPUT: self.output,
            PARTITION: self.partition,
        }

    def find_earlier(self, snapshots: Sequence[SnapshotInfo]) -> SnapshotInfo | None:
        """The newest snapshot this step already committed, if any."""
        runs = {self.run_id, *self.resumed_run_ids}
        for snapshot in reversed(snapshots):
            summary = snapshot.summary
            if (
                summary.get(RUN_ID) in runs
                and summary.get(STEP_KEY) == self.step_key
                and summary.get(OUTPUT) == self.output
                and summary.get(PARTITION) == self.partition
            ):
                return snapshot
        return None


def resumed_run_ids(
    run: dg.DagsterRun,
    step_key: str,
    get_run: Callable[[str], dg.DagsterRun | None],
    step_succeeded: Callable[[str, str], bool],
) -> tuple[str, ...]:
    """Ancestor runs whose attempt of ``step_key`` this run repeats, nearest first.

    Args:
        run: The current run.
        step_key: The step.
        get_run: Looks a run up by id (``DagsterInstance.get_run_by_id``).
        step_succeeded: Whether a step succeeded in a run (run id, step key).
    """
    chain: list[str] = []
    current: dg.DagsterRun | None = run
    while current is not None and current.parent_run_id and len(chain) < _MAX_ANCESTRY:
        parent_id = current.parent_run_id
        if not _resumes(current) or parent_id in chain or step_succeeded(parent_id, step_key):
            break
        chain.append(parent_id)
        current = get_run(parent_id)
    return tuple(chain)


def _resumes(run: dg.DagsterRun) -> bool:
    """A re-execution that reuses its parent's outputs (not a fresh run of all steps)."""
    return _tagged_resume(run.tags) or run.step_keys_to_execute is not None


def _tagged_resume(tags: Mapping[str, str]) -> bool:
    return any(tags.get(tag) == "true" for tag in _RESUME_TAGS)


def step_write(
    context: dg.OutputContext, partition: str, *, with_ancestors: bool
) -> StepWrite | None:
    """The write identity of an output, ``None`` outside a run (no run id or step).

    Args:
        context: The output context.
        partition: The partition label, ``""`` when unpartitioned.
        with_ancestors: Look up resumed ancestor runs (only appends need them).
    """
    try:
        run_id = context.run_id
        step_key = context.step_key
    except dg.DagsterInvariantViolationError:
        return None
    try:
        output = context.name
    except dg.DagsterInvariantViolationError:
        output = "result"
    resumed: tuple[str, ...] = ()
    if with_ancestors:
        try:
            step = context.step_context
        except dg.DagsterInvariantViolationError:
            pass
        else:
            instance = step.instance
            resumed = resumed_run_ids(
                step.dagster_run,
                step_key,
                instance.get_run_by_id,
                lambda run, key: _succeeded(instance, run, key),
            )
    return StepWrite(run_id, step_key, output, partition, resumed)


def _succeeded(instance: dg.DagsterInstance, run_id: str, step_key: str) -> bool:
    entries = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
    return any(entry.step_key == step_key for entry in entries)
