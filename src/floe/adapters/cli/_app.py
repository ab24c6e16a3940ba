"""The ``floe`` command group, its shared options, and how failures end the process."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

import floe
from floe.adapters.cli._config import open_lake
from floe.adapters.cli._exit import CliError, ExitCode, exit_code
from floe.adapters.cli._render import Output

F = TypeVar("F", bound=Callable[..., Any])


class State:
    """What the group's options chose, shared by every command of one invocation."""

    def __init__(self) -> None:
        self.config_file: Path | None = None
        self.catalog: str | None = None
        self.as_json = False
        self._lake: floe.Floe | None = None

    @property
    def lake(self) -> floe.Floe:
        """The Floe over the chosen catalog, built on first use."""
        if self._lake is None:
            self._lake = open_lake(self.config_file, self.catalog)
        return self._lake

    @property
    def output(self) -> Output:
        """Where results go (text or JSON)."""
        return Output(as_json=self.as_json)


pass_state = click.make_pass_decorator(State)


def _set_json(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(State).as_json = True


def json_option(command: F) -> F:
    """``--json`` on a command: results as a JSON document (see docs/cli.md)."""
    return click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        callback=_set_json,
        help="Print the result as JSON (shapes in docs/cli.md).",
    )(command)


def yes_option(command: F) -> F:
    """``--yes``: skip the confirmation a destructive command asks for."""
    return click.option(
        "--yes", "-y", "yes", is_flag=True, help="Do it without asking for confirmation."
    )(command)


def confirm(action: str, *, yes: bool) -> None:
    """Ask before a destructive action; refuse without a terminal unless ``--yes``.

    Raises:
        CliError: No terminal to ask on (usage error), or the answer was no.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(
            f"refusing to {action} without confirmation: no terminal to ask on; "
            "pass --yes to do it anyway",
            ExitCode.USAGE,
        )
    if not click.confirm(f"{action[0].upper()}{action[1:]}?", default=False, err=True):
        raise CliError(f"not confirmed: did not {action}", ExitCode.ERROR)


def existing_table(state: State, table: str) -> str:
    """The table's name as the catalog spells it, looked up before a question is asked.

    A destructive command reports a missing table (exit 3) before asking to
    confirm anything.

    Raises:
        TableNotFoundError: The table does not exist.
    """
    return str(state.lake.tables.load(table).identifier)


def _log_to_stderr(level: int) -> None:
    """Show floe's operation events (the library is silent unless its logger is configured)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("floe")
    logger.addHandler(handler)
    logger.setLevel(level)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Catalog config file: a YAML or JSON mapping with a 'type' key.",
)
@click.option("--catalog", help="A catalog of PyIceberg's .pyiceberg.yaml, by name.")
@click.option(
    "--verbose", "-v", count=True, help="Log floe's operations to stderr (-v info, -vv debug)."
)
@json_option
@click.version_option(package_name="floe", prog_name="floe")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, catalog: str | None, verbose: int) -> None:
    """Inspect, query and maintain floe's Iceberg tables.

    The catalog is the one --config or --catalog names, else the one the
    FLOE_CATALOG_* variables describe, else the embedded local catalog in
    .floe/warehouse.
    """
    if config_file is not None and catalog is not None:
        raise click.UsageError("give --config or --catalog, not both")
    if verbose:
        _log_to_stderr(logging.INFO if verbose == 1 else logging.DEBUG)
    state = ctx.ensure_object(State)
    state.config_file = config_file
    state.catalog = catalog


_HINT = "hint: "


def add_hint(error: BaseException, text: str) -> None:
    """Attach advice for the command line's user to an error, shown under its message in text."""
    error.add_note(_HINT + text)


def _report(state: State, error: Exception, code: ExitCode) -> None:
    output = Output(as_json=state.as_json)
    kind = type(error).__name__
    if state.as_json:
        detail: dict[str, Any] = {"type": kind, "message": str(error), "exit_code": int(code)}
        if isinstance(error, floe.BranchDivergedError):
            detail["main_head"] = error.main_head
            detail["branch_head"] = error.branch_head
        sys.stderr.write(json.dumps({"error": detail}, indent=2) + "\n")
    else:
        label = "error" if isinstance(error, CliError) else kind
        output.note(f"{label}: {error}")
        for note in getattr(error, "__notes__", ()):
            if note.startswith(_HINT):
                output.note(note)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``floe`` command and exit with its status (see :class:`ExitCode`)."""
    state = State()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with cli.make_context("floe", args, obj=state) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.Abort:
        Output(as_json=False).note("aborted")
        sys.exit(ExitCode.ERROR)
    except (floe.FloeStorageError, CliError) as exc:
        code = exit_code(exc)
        _report(state, exc, code)
        sys.exit(code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (`floe read ... | head`): stop quietly, and keep
        # Python from complaining again while it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(ExitCode.ERROR)
    sys.exit(ExitCode.OK)
