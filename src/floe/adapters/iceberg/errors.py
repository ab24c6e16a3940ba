"""Translation of PyIceberg, HTTP and Arrow exceptions into floe errors, in one place."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

from pyiceberg import exceptions as ice

from floe.domain.errors import (
    CatalogAuthenticationError,
    CatalogConnectionError,
    CatalogError,
    CommitConflictError,
    CommitStateUnknownError,
    FloeStorageError,
    NamespaceExistsError,
    NamespaceNotEmptyError,
    NamespaceNotFoundError,
    TableExistsError,
    TableNotFoundError,
)

_BY_TYPE: tuple[tuple[type[BaseException], type[FloeStorageError], str], ...] = (
    (ice.NoSuchTableError, TableNotFoundError, "does not exist"),
    (ice.NoSuchNamespaceError, NamespaceNotFoundError, "namespace does not exist"),
    (ice.NamespaceAlreadyExistsError, NamespaceExistsError, "already exists"),
    (ice.TableAlreadyExistsError, TableExistsError, "already exists"),
    (ice.NamespaceNotEmptyError, NamespaceNotEmptyError, "is not empty"),
    (ice.CommitStateUnknownException, CommitStateUnknownError, "commit outcome unknown"),
    (ice.CommitFailedException, CommitConflictError, "commit conflicted"),
    (ice.OAuthError, CatalogAuthenticationError, "authentication failed"),
    (ice.UnauthorizedError, CatalogAuthenticationError, "not authorised"),
    (ice.AuthorizationExpiredError, CatalogAuthenticationError, "authorization expired (419)"),
    (ice.ForbiddenError, CatalogAuthenticationError, "forbidden"),
    (ice.ServiceUnavailableError, CatalogConnectionError, "catalog unavailable"),
    (ice.ServerError, CatalogConnectionError, "catalog server error"),
    (ConnectionError, CatalogConnectionError, "cannot reach the catalog"),
    (TimeoutError, CatalogConnectionError, "catalog timed out"),
)


def _requests_errors() -> tuple[type[BaseException], ...]:
    import requests

    return (requests.ConnectionError, requests.Timeout)


def translate_exception(
    exc: BaseException, *, operation: str, subject: str, fallback: type[FloeStorageError]
) -> FloeStorageError:
    """The floe error for a foreign exception raised by ``operation`` on ``subject``."""
    if isinstance(exc, FloeStorageError):
        return exc
    redirect = _redirect(exc)
    if redirect is not None:
        return CatalogError(f"{operation} {subject}: {redirect}", subject=subject)
    if isinstance(exc, _requests_errors()):
        return CatalogConnectionError(
            f"{operation} {subject}: cannot reach the catalog ({type(exc).__name__})",
            subject=subject,
        )
    for foreign, ours, what in _BY_TYPE:
        if isinstance(exc, foreign):
            return ours(f"{operation} {subject}: {_cause(what, exc)}", subject=subject)
    return fallback(f"{operation} {subject} failed: {_summary(exc)}", subject=subject)


def _redirect(exc: BaseException) -> str | None:
    """What a catalog redirect was, if ``exc`` is one floe refused to follow.

    Catalog sessions follow no redirect (``max_redirects = 0``): a redirect
    would take the bearer token along, and the answer at the other end (a
    404 there, a login page) would be taken for the catalog's. Requests then
    raises ``TooManyRedirects`` holding the redirect answer.
    """
    import requests

    if not isinstance(exc, requests.TooManyRedirects):
        return None
    response = exc.response
    if response is None:
        return "the catalog answered with a redirect, which floe does not follow"
    target = urllib.parse.urlsplit(response.headers.get("Location", ""))
    return (
        f"the catalog answered HTTP {response.status_code}, a redirect to "
        f"{target.scheme}://{target.netloc}{target.path}, which floe does not follow "
        "(it would carry the token along): configure the catalog uri that answers itself"
    )


def _cause(what: str, exc: BaseException) -> str:
    # PyIceberg's own text often repeats ours ("Table does not exist: ns.t"):
    # then ours alone says it once, the subject already names the object.
    summary = _summary(exc)
    return what if what.lower() in summary.lower() else f"{what}: {summary}"


def _summary(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text[:500]


@contextmanager
def translated(
    operation: str, subject: str, *, fallback: type[FloeStorageError] = CatalogError
) -> Iterator[None]:
    """Re-raise any foreign exception inside the block as a floe error."""
    try:
        yield
    except FloeStorageError:
        raise
    except Exception as exc:  # the boundary: nothing foreign passes
        raise translate_exception(
            exc, operation=operation, subject=subject, fallback=fallback
        ) from exc
