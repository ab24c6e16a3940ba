"""Which branch the IO manager writes to: a run's tag, else its setting, else FLOE_BRANCH."""

# No "from __future__ import annotations": Dagster reads the op's context annotation.

import dagster as dg
import pytest

import floe
from floe.adapters.dagster import IcebergIOManager, IcebergIOManagerConfig


def _manager(**settings: object) -> IcebergIOManager:
    return IcebergIOManager(catalog={"type": "memory"}, **settings)


def test_no_setting_and_no_variable_is_main(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOE_BRANCH", raising=False)
    assert _manager().branch_for(dg.build_output_context()) is None


def test_the_variable_names_a_deployment_branch_and_the_setting_wins_over_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOE_BRANCH", "pr-42")
    assert _manager().branch_for(dg.build_output_context()) == "pr-42"
    assert _manager(branch="audit").branch_for(dg.build_output_context()) == "audit"
    assert _manager(branch="main").branch_for(dg.build_output_context()) is None


def test_main_and_empty_names_mean_main_and_bad_names_are_refused() -> None:
    assert IcebergIOManagerConfig(branch="main").branch is None
    assert IcebergIOManagerConfig(branch="").branch is None
    with pytest.raises(floe.InvalidRefError, match="spaces"):
        IcebergIOManagerConfig(branch=" dev")
    with pytest.raises(floe.InvalidRefError, match="control"):
        _manager(branch="a\tb").branch_for(dg.build_output_context())


def test_a_run_tag_wins_over_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOE_BRANCH", "pr-42")
    seen: list[str | None] = []
    manager = _manager(branch="audit")

    @dg.op
    def which(context: dg.OpExecutionContext) -> None:
        seen.append(manager.branch_for(context))

    @dg.job
    def job() -> None:
        which()

    job.execute_in_process(tags={"floe/branch": "from-tag"})
    job.execute_in_process()

    assert seen == ["from-tag", "audit"]
