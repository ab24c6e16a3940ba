"""The files a write opened for output, so a failed write can take them back.

A rewrite writes its files from several threads; when one of them fails,
the others may have finished, be half way through, or have written the
failing file itself before the error (an upload that fails when it is
completed). Their ``DataFile`` entries say nothing about a file whose
write raised, but its location was asked for before a byte was written:
:class:`WrittenFiles` hands the write a FileIO that remembers every
location opened for output, and deletes them all once no worker runs.
"""

from __future__ import annotations

import contextlib
import threading

from pyiceberg.io import FileIO, InputFile, OutputFile


class WrittenFiles(FileIO):
    """``io``, remembering every location opened for writing through it.

    Reads and deletes go straight to ``io``. Pass it where a write creates
    its data files; call :meth:`delete_all` when the write fails, after its
    workers have stopped.

    Args:
        io: The table's FileIO.
    """

    def __init__(self, io: FileIO) -> None:
        super().__init__(io.properties)
        self._io = io
        self._lock = threading.Lock()
        self._locations: list[str] = []

    @property
    def locations(self) -> list[str]:
        """Every location opened for output so far, in order."""
        with self._lock:
            return list(self._locations)

    def new_input(self, location: str) -> InputFile:
        return self._io.new_input(location)

    def new_output(self, location: str) -> OutputFile:
        with self._lock:
            self._locations.append(location)
        return self._io.new_output(location)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        self._io.delete(location)

    def delete_all(self) -> None:
        """Delete every file opened for output (best effort: one left over is an orphan).

        A location whose file was never created is skipped by the error it raises.
        """
        for location in self.locations:
            with contextlib.suppress(Exception):
                self._io.delete(location)
