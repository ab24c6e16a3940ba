"""What a failed Ray job raises: the floe storage error its task raised, else a WriteError.

Ray wraps an exception raised in a task (``RayTaskError``) and keeps the
original as ``cause``; every adapter handing writes to Ray unwraps it the
same way, so a storage refusal reaches the caller as the typed error the
task raised and anything else as a :class:`WriteError` naming the table.
"""

from __future__ import annotations

from floe.domain.errors import FloeStorageError, WriteError


def ray_failure(exc: BaseException, message: str, table: str) -> FloeStorageError:
    """The floe error to raise for ``exc``, a failure of a Ray job writing ``table``.

    Args:
        exc: What Ray raised (usually a ``RayTaskError`` wrapping the task's error).
        message: The message of the :class:`WriteError` otherwise raised.
        table: The table written, the error's subject.

    Returns:
        The task's own :class:`FloeStorageError`, or a :class:`WriteError`.
    """
    cause = getattr(exc, "cause", None)
    if isinstance(cause, FloeStorageError):
        return cause
    return WriteError(message, subject=table)
