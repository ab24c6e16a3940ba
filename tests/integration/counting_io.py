"""A PyIceberg FileIO that records which files were opened for reading.

A table created with the property ``py-io-impl`` naming
:class:`CountingFileIO` is read through it by every PyIceberg catalog (table
properties are merged into the FileIO's), so a test sees exactly which data
files a scan opened and when.
"""

from __future__ import annotations

from typing import ClassVar

from pyiceberg.io import InputFile, InputStream
from pyiceberg.io.pyarrow import PyArrowFileIO

#: The property value that selects this FileIO.
COUNTING_IO = "tests.integration.counting_io.CountingFileIO"


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
