"""The one error hierarchy of floe.

Every error names the object concerned and what went wrong. Adapters translate
foreign exceptions (PyIceberg, HTTP, Arrow) into these at their boundary, once,
so callers never see a third-party exception.
"""

from __future__ import annotations


class FloeStorageError(Exception):
    """Base class of every error floe raises.

    Attributes:
        subject: The object the error is about (a table, a namespace, a
            setting), as text, or ``None`` when there is none.
    """

    def __init__(self, message: str, *, subject: str | None = None) -> None:
        super().__init__(message)
        self.subject = subject


class FloeValidationError(FloeStorageError, ValueError):
    """Input rejected before anything was sent or written."""


class InvalidIdentifierError(FloeValidationError):
    """A namespace or table name is malformed."""


class InvalidConfigError(FloeValidationError):
    """A configuration value is missing, out of range or inconsistent."""


class InvalidPolicyError(InvalidConfigError):
    """A maintenance policy the catalog applies to a table has content floe cannot use.

    ``subject`` is the policy's name.
    """


class InvalidPartitionSpecError(FloeValidationError):
    """A partition transform is malformed or does not fit the table schema."""


class InvalidFilterError(FloeValidationError):
    """A row filter cannot be parsed or names a column the table lacks."""


class InvalidSchemaError(FloeValidationError):
    """A table schema is empty, has duplicate names or a type Iceberg cannot store."""


class InvalidScanError(FloeValidationError):
    """Scan options are inconsistent (e.g. both a snapshot id and a time)."""


class CatalogError(FloeStorageError):
    """A catalog operation failed."""


class CatalogConnectionError(CatalogError):
    """The catalog could not be reached after the configured attempts."""


class ResponseTooLargeError(CatalogError):
    """An answer of the catalog or its token endpoint exceeded ``max_response_bytes``.

    Not a transient fault: asked again, the server would send it again.
    """


class CatalogAuthenticationError(CatalogError):
    """The catalog rejected the credentials or the token."""


class NamespaceExistsError(CatalogError):
    """A namespace to create exists already."""


class NamespaceNotFoundError(CatalogError):
    """A namespace (or a parent of it) does not exist."""


class NamespaceNotEmptyError(CatalogError):
    """A namespace to drop still holds tables or child namespaces."""


class TableNotFoundError(CatalogError):
    """A table does not exist."""


class TableExistsError(CatalogError):
    """A table to create (or register) exists already."""


class PurgeDisabledError(CatalogError):
    """The catalog does not purge tables: dropping with ``purge=True`` is disabled there.

    Apache Polaris refuses a purging drop (403) unless the catalog or the
    server enables ``DROP_WITH_PURGE_ENABLED``; the table is left as it was.
    """


class SchemaEvolutionError(FloeStorageError):
    """Incoming data does not fit the table schema and cannot be evolved into it."""


class WriteError(FloeStorageError):
    """A write failed; the table is unchanged unless the subclass says otherwise."""


class CommitConflictError(WriteError):
    """Concurrent writers kept conflicting after the bounded commit retries."""


class CommitStateUnknownError(WriteError):
    """The catalog failed while committing: the commit may or may not be applied.

    floe never re-sends such a commit blindly; read the table's snapshots to
    learn the outcome.
    """


class BranchDivergedError(WriteError):
    """A branch cannot be published: ``main`` moved since it was cut, or it cannot be replayed.

    Nothing was committed; ``main`` is as it was.

    Attributes:
        main_head: ``main``'s head when the publish was planned (``None``: no snapshot).
        branch_head: The branch's head.
    """

    def __init__(
        self,
        message: str,
        *,
        subject: str | None = None,
        main_head: int | None = None,
        branch_head: int | None = None,
    ) -> None:
        super().__init__(message, subject=subject)
        self.main_head = main_head
        self.branch_head = branch_head


class InvalidRefError(FloeValidationError):
    """A branch or tag name, its retention or its use is invalid (e.g. a write to a tag)."""


class RefNotFoundError(FloeStorageError):
    """A table has no branch or tag by the name given."""


class RefExistsError(FloeStorageError):
    """A branch or tag to create exists already."""


class ScanError(FloeStorageError):
    """A read failed."""


class SnapshotNotFoundError(ScanError):
    """No snapshot has the requested id, or none existed at the requested time."""


class UnknownPropertyWarning(UserWarning):
    """A catalog property floe does not know: passed on as it is, perhaps misspelt.

    Filter it like any warning, e.g.
    ``warnings.filterwarnings("ignore", category=floe.UnknownPropertyWarning)``.
    """


class MissingExtraError(FloeStorageError, ImportError):
    """An optional part of floe was asked for without its extra installed (``floe[duckdb]``)."""
