"""A producer's FileIO takes back its manifests, those still being written included."""

from __future__ import annotations

from pathlib import Path

from pyiceberg.io.pyarrow import PyArrowFileIO

from floe.adapters.iceberg.staged import StagingIO


def test_files_written_through_it_stay_until_discarded(tmp_path: Path) -> None:
    io = StagingIO(PyArrowFileIO())
    path = tmp_path / "m0.avro"
    with io.new_output(str(path)).create() as stream:
        stream.write(b"manifest")
    assert path.read_bytes() == b"manifest"
    with io.new_input(str(path)).open() as read:
        assert read.read() == b"manifest"

    io.discard()

    assert not path.exists()


def test_a_file_whose_writing_ends_after_the_discard_deletes_itself(tmp_path: Path) -> None:
    """PyIceberg's pool may still be writing a manifest when the staging's failure is raised."""
    io = StagingIO(PyArrowFileIO())
    done, late = tmp_path / "m0.avro", tmp_path / "m1.avro"
    with io.new_output(str(done)).create() as stream:
        stream.write(b"first")
    still_writing = io.new_output(str(late))  # on an object store, it lands when closed

    io.discard()
    with still_writing.create() as stream:
        stream.write(b"second")

    assert not done.exists()
    assert not late.exists()


def test_files_of_another_io_are_not_touched(tmp_path: Path) -> None:
    other = tmp_path / "data.parquet"
    other.write_bytes(b"data")
    io = StagingIO(PyArrowFileIO())
    io.discard()
    assert other.exists()
