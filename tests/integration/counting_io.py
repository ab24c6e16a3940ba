"""A PyIceberg FileIO that records which files were opened for reading.

A table created with the property ``py-io-impl`` naming
:class:`CountingFileIO` is read through it by every PyIceberg catalog (table
properties are merged into the FileIO's), so a test sees exactly which data
files a scan opened and when.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, ClassVar

from pyiceberg.io import InputFile, InputStream, OutputFile, OutputStream
from pyiceberg.io.pyarrow import PyArrowFileIO

#: The property value that selects this FileIO.
COUNTING_IO = "tests.integration.counting_io.CountingFileIO"
#: The property value that selects :class:`FlakyFileIO`.
FLAKY_IO = "tests.integration.counting_io.FlakyFileIO"
#: The property value that selects :class:`UnpickleCountingFileIO`.
UNPICKLE_COUNTING_IO = "tests.integration.counting_io.UnpickleCountingFileIO"


class _CountedInput(InputFile):
    def __init__(self, inner: InputFile, opened: list[str]) -> None:
        super().__init__(inner.location)
        self._inner = inner
        self._opened = opened

    def __len__(self) -> int:
        return len(self._inner)

    def exists(self) -> bool:
        return self._inner.exists()

    def open(self, seekable: bool = True) -> InputStream:
        self._opened.append(self.location)
        return self._inner.open(seekable)


class CountingFileIO(PyArrowFileIO):
    """PyArrow's FileIO, recording the location of every file opened for reading.

    PyIceberg builds a FileIO per table load, so the record is shared by the
    class; tests filter it by their table's location and clear it first.
    """

    opened: ClassVar[list[str]] = []

    def new_input(self, location: str) -> InputFile:
        return _CountedInput(super().new_input(location), CountingFileIO.opened)


def opened_data_files(location_part: str) -> list[str]:
    """The Parquet files opened so far whose location contains ``location_part``."""
    return [
        path
        for path in list(CountingFileIO.opened)
        if location_part in path and path.endswith(".parquet")
    ]


class FlakyFileIO(PyArrowFileIO):
    """PyArrow's FileIO whose data file writes fail after the file is written, as a task dies.

    The table property ``floe-test.fail`` says when: ``once:<dir>`` fails the
    first data file written by any process (a marker file in ``<dir>``
    remembers it), ``always`` fails every one, ``nth:<dir>:<n>`` fails the
    n-th data file written once ``<dir>`` exists (files written before it is
    created are not counted; each file written is counted by a numbered
    marker in it, across threads), ``after:<dir>`` every one once ``<dir>``
    exists. The file is on storage when the error is
    raised, as when a worker dies after writing. The table property
    ``floe-test.fail-files`` says which files fail: ``parquet`` (data files,
    the default) or ``avro`` (manifests and manifest lists).
    """

    def new_output(self, location: str) -> OutputFile:
        inner = super().new_output(location)
        kind = self.properties.get("floe-test.fail-files", "parquet")
        if not location.endswith("." + kind):
            return inner
        return _FailingOutput(inner, self.properties.get("floe-test.fail", ""))


class UnpickleCountingFileIO(PyArrowFileIO):
    """PyArrow's FileIO leaving a marker file each time a copy of it is unpickled.

    A Ray task receives its arguments pickled and unpickles them on every
    attempt, so the markers in the directory named by the table property
    ``floe-test.unpickled`` count the attempts of the tasks handed this
    FileIO (a worker's write task is). Nothing is counted while the
    directory does not exist.
    """

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        folder = self.properties.get("floe-test.unpickled", "")
        if folder and os.path.isdir(folder):
            fd, _ = tempfile.mkstemp(dir=folder, prefix="attempt-")
            os.close(fd)


class _FailingOutput(OutputFile):
    def __init__(self, inner: OutputFile, mode: str) -> None:
        super().__init__(inner.location)
        self._inner = inner
        self._mode = mode

    def __len__(self) -> int:
        return len(self._inner)

    def exists(self) -> bool:
        return self._inner.exists()

    def to_input_file(self) -> InputFile:
        return self._inner.to_input_file()

    def create(self, overwrite: bool = False) -> OutputStream:
        return _FailingStream(self._inner.create(overwrite=True), self.location, self._mode)


class _FailingStream:
    """Delegates to the real stream; raises once closed, when the mode says so."""

    def __init__(self, inner: OutputStream, location: str, mode: str) -> None:
        self._inner = inner
        self._location = location
        self._mode = mode
        self.closed = False

    def write(self, data: bytes) -> int:
        return self._inner.write(data)

    def tell(self) -> int:
        return self._inner.tell()  # type: ignore[attr-defined,no-any-return]

    def flush(self) -> None:
        self._inner.flush()  # type: ignore[attr-defined]

    def __enter__(self) -> _FailingStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._inner.close()
        if (
            self._mode == "always"
            or (self._mode.startswith("once:") and self._first())
            or (self._mode.startswith("nth:") and self._nth())
            or (self._mode.startswith("after:") and os.path.isdir(self._mode[6:]))
        ):
            raise OSError(f"injected failure after writing {self._location}")

    def _nth(self) -> bool:
        """Whether this file is the n-th counted (``nth:<dir>:<n>``; none while no ``<dir>``)."""
        folder, _, n = self._mode[4:].rpartition(":")
        if not os.path.isdir(folder):
            return False
        number = 1
        while True:  # the first free number is this file's, atomically (O_EXCL)
            try:
                fd = os.open(os.path.join(folder, str(number)), os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                number += 1
                continue
            os.close(fd)
            return number == int(n)

    def _first(self) -> bool:
        try:
            fd = os.open(os.path.join(self._mode[5:], "failed"), os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return False
        os.close(fd)
        return True
