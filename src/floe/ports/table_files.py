"""The table files port: which files a table's metadata names, which storage holds, deletion."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from floe.domain.identifiers import TableIdentifier
from floe.domain.table_files import FilesDeleted, StoredFile, TableFile


class TableFilesPort(abc.ABC):
    """A table's files in storage, for maintenance.

    Every method reads the table afresh from the catalog: nothing is cached
    between calls, so a file list reflects the table as it is when the call
    runs. Paths are spelt the same way by every method of an adapter (one
    spelling per file, whatever form the metadata used), so the
    application compares them as plain strings. No method raises anything
    but :class:`floe.domain.errors.FloeStorageError` subclasses.
    """

    @abc.abstractmethod
    def snapshot_files(
        self, identifier: TableIdentifier, snapshot_ids: Sequence[int]
    ) -> list[TableFile]:
        """Every file the given snapshots reach.

        Their manifest lists, their manifests, the data and delete files of
        those manifests' entries (of any status: added, existing or deleted)
        and the statistics files computed for them.

        Raises:
            TableNotFoundError: The table does not exist.
            SnapshotNotFoundError: An id is not a snapshot of the table.
        """

    @abc.abstractmethod
    def referenced_files(
        self, identifier: TableIdentifier, *, without: Sequence[int] = ()
    ) -> list[TableFile]:
        """Every file the table's current metadata references.

        The current metadata file and those in its metadata log, the
        statistics and partition statistics files, and for every snapshot (so
        every branch and tag): its manifest list, its manifests and the data
        and delete files of their live entries (added or existing).

        Args:
            identifier: The table.
            without: Snapshots to leave out, as an expiry of them would:
                what the table would still reference once they are gone
                (their table statistics go with them; an unknown id is
                ignored).

        Raises:
            TableNotFoundError: The table does not exist.
        """

    @abc.abstractmethod
    def current_files(self, identifier: TableIdentifier) -> list[TableFile]:
        """The files the current snapshot reads, with the current metadata file.

        Its manifest list, its manifests and their live data and delete
        files; none but the metadata file before the first snapshot.

        Raises:
            TableNotFoundError: The table does not exist.
        """

    @abc.abstractmethod
    def list_files(self, identifier: TableIdentifier) -> list[StoredFile]:
        """Every file storage holds under the table's location, at any depth.

        Raises:
            TableNotFoundError: The table does not exist.
        """

    @abc.abstractmethod
    def delete_files(self, identifier: TableIdentifier, files: Sequence[TableFile]) -> FilesDeleted:
        """Delete files from the table's storage, whatever references them.

        The caller decides what may go. A file that is already gone is
        skipped; one that cannot be deleted is reported in
        ``failed_paths`` (and logged), the others are still deleted.

        Raises:
            TableNotFoundError: The table does not exist (nothing deleted).
        """
