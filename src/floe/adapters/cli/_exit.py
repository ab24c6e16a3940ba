"""Exit codes, and the error a command reports instead of a traceback."""

from __future__ import annotations

import enum

import floe


class ExitCode(enum.IntEnum):
    """What the process exit status tells a script."""

    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    CONNECTION = 5
    UNKNOWN_OUTCOME = 6


class CliError(Exception):
    """A failure the command line itself detected, with its exit code.

    Args:
        message: What went wrong, naming the object.
        code: The exit code.
    """

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


# Most specific first: the first class an error is an instance of decides.
_CODES: tuple[tuple[type[Exception], ExitCode], ...] = (
    (floe.FloeValidationError, ExitCode.USAGE),
    (floe.NamespaceNotFoundError, ExitCode.NOT_FOUND),
    (floe.TableNotFoundError, ExitCode.NOT_FOUND),
    (floe.SnapshotNotFoundError, ExitCode.NOT_FOUND),
    (floe.RefNotFoundError, ExitCode.NOT_FOUND),
    (floe.NamespaceExistsError, ExitCode.CONFLICT),
    (floe.TableExistsError, ExitCode.CONFLICT),
    (floe.NamespaceNotEmptyError, ExitCode.CONFLICT),
    (floe.RefExistsError, ExitCode.CONFLICT),
    (floe.BranchDivergedError, ExitCode.CONFLICT),
    (floe.CommitConflictError, ExitCode.CONFLICT),
    (floe.CommitStateUnknownError, ExitCode.UNKNOWN_OUTCOME),
    (floe.CatalogConnectionError, ExitCode.CONNECTION),
    (floe.CatalogAuthenticationError, ExitCode.CONNECTION),
)


def exit_code(error: Exception) -> ExitCode:
    """The exit code for an error a command raised."""
    if isinstance(error, CliError):
        return error.code
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return ExitCode.ERROR
