"""A streamed append whose commit fails at the catalog: typed, never lost, no dangling files.

The catalog is SeaweedFS behind :class:`~tests.integration.polaris_proxy.PolarisProxy`;
each fault hits the stream's commit request (the POST to the table) after
its chunks were written as data files. Three outcomes, each checked on the
table's rows, its snapshots and the data files listed in SeaweedFS's S3:

* the token is refused twice (419 or 401): the stream cannot be read again,
  so the call fails typed instead of "succeeding" with no rows, and the
  files it wrote are deleted;
* the catalog refuses the commit (409 beyond PyIceberg's retries, 400, 403):
  the call fails, the table is unchanged and every file it wrote is deleted;
* the outcome is unknown (500 or a reset after the catalog applied it):
  :class:`floe.CommitStateUnknownError`, the files are kept, and the rows
  read back exactly once.

The same through the Dagster IO manager with a ``RecordBatchReader`` output.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa
import pyarrow.fs as pafs
import pytest

import floe
from floe.adapters.dagster import IcebergIOManager
from tests.integration.conftest import FAST, PolarisFactory, polaris_config, unique
from tests.integration.polaris_proxy import Exchange, PolarisProxy
from tests.integration.proxy import Fault
from tests.integration.seaweed import SeaweedServer

SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])
#: Batches per stream; with ``chunk_bytes=1`` each one is a chunk and a data file.
BATCHES = 4
ROWS_PER_BATCH = 25
FIRST_ROWS = [0, 1, 2]
STREAMED = list(range(1000, 1000 + BATCHES * ROWS_PER_BATCH))
#: PyIceberg re-applies a commit refused with 409 once, at once.
ONE_COMMIT_RETRY = {
    "commit.retry.num-retries": "1",
    "commit.retry.min-wait-ms": "1",
    "commit.retry.max-wait-ms": "10",
}


@pytest.fixture
def polaris(polaris_factory: PolarisFactory) -> PolarisProxy:
    """A Polaris proxy whose tokens outlive the test: every 401 or 419 is an injected one."""
    return polaris_factory(token_lifetime_s=600.0)


def iceberg_error(code: int, kind: str, message: str) -> bytes:
    """An Iceberg REST error body, as a catalog sends it."""
    return json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()


CONFLICT = Fault(
    status=409, times=2, body=iceberg_error(409, "CommitFailedException", "branch main changed")
)


def batch(first: int, count: int = ROWS_PER_BATCH) -> pa.RecordBatch:
    ids = list(range(first, first + count))
    return pa.RecordBatch.from_pydict({"id": ids, "v": [f"row-{i}" for i in ids]}, schema=SCHEMA)


def _bucket_path(location: str) -> str:
    """``s3://bucket/key`` as the ``bucket/key`` path pyarrow's S3 filesystem lists."""
    return location.split("://", 1)[1].rstrip("/")


class DataFiles:
    """The files under a table's ``data/`` prefix, listed straight from S3."""

    def __init__(self, seaweed: SeaweedServer, location: str) -> None:
        self._fs = pafs.S3FileSystem(
            access_key=seaweed.access_key,
            secret_key=seaweed.secret_key,
            endpoint_override=seaweed.s3_endpoint,
            scheme="http",
            region=seaweed.region,
        )
        self._prefix = f"{_bucket_path(location)}/data"

    def listed(self) -> set[str]:
        """Every file on storage under ``data/`` (``bucket/key``)."""
        selector = pafs.FileSelector(self._prefix, recursive=True, allow_not_found=True)
        return {i.path for i in self._fs.get_file_info(selector) if i.type == pafs.FileType.File}


class ProbedStream:
    """The :data:`STREAMED` rows in :data:`BATCHES` batches; looks at storage after the last.

    The writer asks for the next batch only once the chunk before the
    previous one is on storage, so when the stream is asked past its end the
    files of every chunk but the last exist (given two chunks or more).
    ``written`` holds them: the proof that the stream wrote files before its
    commit, which the checks on the files after the failure rely on.
    """

    def __init__(self, files: DataFiles) -> None:
        self._files = files
        self._before = files.listed()
        self.written: set[str] = set()

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for i in range(BATCHES):
            yield batch(STREAMED[0] + i * ROWS_PER_BATCH)
        self.written = self._files.listed() - self._before

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(SCHEMA, iter(self))


def ids(lake: floe.Floe, table: str) -> list[int]:
    return sorted(lake.reads.scan(table, columns=["id"]).column("id").to_pylist())


def commit_path(table: str) -> str:
    namespace, name = table.rsplit(".", 1)
    return f"/namespaces/{namespace}/tables/{name}"


def on_commit(table: str, fault: Fault) -> Fault:
    """``fault`` on the commit requests of ``table`` only (a fresh copy to inject)."""
    return dataclasses.replace(fault, method="POST", path_contains=commit_path(table))


def commits(polaris: PolarisProxy, table: str) -> list[int]:
    """The statuses answered to the commits of ``table`` (0: connection reset)."""

    def to_table(e: Exchange) -> bool:
        return e.method == "POST" and e.path.split("?")[0].endswith(commit_path(table))

    return [e.status for e in polaris.seen(to_table)]


class TableState:
    """A table's rows, snapshots and data files before a streamed append, to check after it."""

    def __init__(self, lake: floe.Floe, table: str, seaweed: SeaweedServer) -> None:
        self.lake = lake
        self.table = table
        self.files = DataFiles(seaweed, lake.tables.load(table).location)
        self.files_before = self.files.listed()
        self.snapshots_before = lake.snapshots.list(table)
        assert ids(lake, table) == FIRST_ROWS
        assert self.files_before == self.referenced()

    def referenced(self) -> set[str]:
        """The data files of the table's current snapshot (``bucket/key``)."""
        return {_bucket_path(f.path) for f in self.lake.tables.files(self.table)}

    def assert_unchanged_and_files_gone(self, stream: ProbedStream) -> None:
        """Nothing committed, and every file the stream wrote deleted."""
        assert stream.written
        assert self.lake.snapshots.list(self.table) == self.snapshots_before
        assert ids(self.lake, self.table) == FIRST_ROWS
        assert self.files.listed() == self.files_before

    def assert_landed_once_and_files_kept(self, stream: ProbedStream) -> None:
        """One new snapshot with the stream's rows, read once; no file missing, none orphaned."""
        assert stream.written
        snapshots = self.lake.snapshots.list(self.table)
        assert snapshots[:-1] == self.snapshots_before
        assert snapshots[-1].summary["added-records"] == str(len(STREAMED))
        assert ids(self.lake, self.table) == FIRST_ROWS + STREAMED
        on_storage = self.files.listed()
        assert stream.written <= on_storage
        assert on_storage == self.referenced()


def direct_scene(
    seaweed: SeaweedServer, polaris: PolarisProxy, properties: dict[str, str] | None = None
) -> TableState:
    """A fresh table holding :data:`FIRST_ROWS`, with a floe talking through the proxy."""
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris))
    namespace = unique("streamfault")
    table = f"{namespace}.t"
    lake.namespaces.create(namespace)
    lake.tables.create(table, SCHEMA, properties=properties or {})
    lake.writes.append(table, pa.Table.from_batches([batch(FIRST_ROWS[0], len(FIRST_ROWS))]))
    polaris.clear()
    return TableState(lake, table, seaweed)


def stream_into(state: TableState, stream: ProbedStream) -> floe.WriteResult:
    return state.lake.writes.append(state.table, iter(stream), chunk_bytes=1)


# -- (1) the token refused twice on the commit: the stream is not read again -----------------


@pytest.mark.parametrize(
    ("status", "error"),
    [(419, floe.CatalogAuthenticationError), (401, floe.CatalogAuthenticationError)],
    ids=["419-twice", "401-twice"],
)
def test_a_commit_refused_for_its_token_twice_fails_typed_and_leaves_no_files(
    seaweed: SeaweedServer, polaris: PolarisProxy, status: int, error: type[Exception]
) -> None:
    """PyIceberg refreshes the token and re-sends the commit once; a second refusal ends it.

    Running the whole call again after another refresh would find the
    stream already read: it would commit nothing and report success, 0 rows.
    """
    state = direct_scene(seaweed, polaris)
    fault = polaris.inject(on_commit(state.table, Fault(status=status, times=2)))
    stream = ProbedStream(state.files)
    with pytest.raises(error) as info:
        stream_into(state, stream)
    assert type(info.value) is error
    assert fault.times == 0
    assert commits(polaris, state.table) == [status, status]
    state.assert_unchanged_and_files_gone(stream)


# -- (2) a refused commit: nothing committed, every written file deleted ----------------------


@pytest.mark.parametrize(
    ("fault", "error", "answers"),
    [
        (CONFLICT, floe.CommitConflictError, [409, 409]),
        (
            Fault(status=400, body=iceberg_error(400, "ValidationException", "bad snapshot")),
            floe.WriteError,
            [400],
        ),
        (
            Fault(status=403, body=iceberg_error(403, "ForbiddenException", "no write grant")),
            floe.CatalogAuthenticationError,
            [403],
        ),
    ],
    ids=["409-beyond-retries", "400-validation", "403-forbidden"],
)
def test_a_refused_stream_commit_leaves_the_table_and_deletes_every_written_file(
    seaweed: SeaweedServer,
    polaris: PolarisProxy,
    fault: Fault,
    error: type[Exception],
    answers: list[int],
) -> None:
    state = direct_scene(seaweed, polaris, properties=ONE_COMMIT_RETRY)
    polaris.inject(on_commit(state.table, fault))
    stream = ProbedStream(state.files)
    with pytest.raises(error) as info:
        stream_into(state, stream)
    assert type(info.value) is error
    assert commits(polaris, state.table) == answers
    state.assert_unchanged_and_files_gone(stream)


# -- (3) an unknown outcome: the files are kept, the rows read back once ----------------------


@pytest.mark.parametrize(
    ("fault", "answers"),
    [(Fault(status=500, after_forward=True), [500]), (Fault(reset=True, after_forward=True), [0])],
    ids=["500-after-applying", "reset-after-applying"],
)
def test_a_stream_commit_applied_but_unanswered_keeps_its_files_and_reads_once(
    seaweed: SeaweedServer, polaris: PolarisProxy, fault: Fault, answers: list[int]
) -> None:
    state = direct_scene(seaweed, polaris)
    polaris.inject(on_commit(state.table, fault))
    stream = ProbedStream(state.files)
    with pytest.raises(floe.CommitStateUnknownError):
        stream_into(state, stream)
    assert commits(polaris, state.table) == answers  # never re-sent
    state.assert_landed_once_and_files_kept(stream)


def test_a_stream_commit_failing_unknown_before_applying_keeps_its_files(
    seaweed: SeaweedServer, polaris: PolarisProxy
) -> None:
    """floe cannot tell this 500 from one after applying: the files stay, as orphans."""
    state = direct_scene(seaweed, polaris)
    polaris.inject(on_commit(state.table, Fault(status=500)))
    stream = ProbedStream(state.files)
    with pytest.raises(floe.CommitStateUnknownError):
        stream_into(state, stream)
    assert commits(polaris, state.table) == [500]
    assert state.lake.snapshots.list(state.table) == state.snapshots_before
    assert ids(state.lake, state.table) == FIRST_ROWS
    kept = state.files.listed() - state.files_before
    assert stream.written <= kept
    assert len(kept) == BATCHES  # a file per chunk, none deleted


# -- the same through the Dagster IO manager's streamed output ---------------------------------

ENV_PREFIX = "FLOE_STREAMFAULT_"


def io_manager_env(
    seaweed: SeaweedServer, polaris: PolarisProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Polaris catalog behind the proxy, for an IO manager reading ``ENV_PREFIX``."""
    values = {
        "TYPE": "polaris",
        "URI": polaris.catalog_uri,
        "WAREHOUSE": seaweed.warehouse,
        "CLIENT_ID": polaris.client_id,
        "CLIENT_SECRET": polaris.client_secret,
        "SCOPE": "PRINCIPAL_ROLE:ALL",
        "RETRY_MAX_ATTEMPTS": str(FAST.max_attempts),
        "RETRY_INITIAL_WAIT_S": str(FAST.initial_wait_s),
        "RETRY_MAX_WAIT_S": str(FAST.max_wait_s),
        "RETRY_JITTER_S": str(FAST.jitter_s),
    }
    properties = polaris_config(seaweed, polaris).properties
    values |= {"PROP_" + k.replace(".", "__").upper(): v for k, v in properties.items()}
    for key, value in values.items():
        monkeypatch.setenv(ENV_PREFIX + key, value)


def failure_classes(result: dg.ExecuteInProcessResult) -> list[str]:
    """The exception classes of the run's step failure, outermost first, causes followed."""
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    found: list[str] = []
    while error is not None:
        found.append(error.cls_name or "")
        error = error.cause
    return found


IO_CASES = {
    "419-twice": (Fault(status=419, times=2), "CatalogAuthenticationError", [419, 419]),
    "409-beyond-retries": (CONFLICT, "CommitConflictError", [409, 409]),
    "500-after-applying": (Fault(status=500, after_forward=True), "CommitStateUnknownError", [500]),
}


@pytest.mark.parametrize(("fault", "error", "answers"), list(IO_CASES.values()), ids=list(IO_CASES))
def test_io_manager_streamed_output_whose_commit_fails(
    seaweed: SeaweedServer,
    polaris: PolarisProxy,
    monkeypatch: pytest.MonkeyPatch,
    fault: Fault,
    error: str,
    answers: list[int],
) -> None:
    """The step fails with the floe error; rows and files as for a direct streamed append."""
    io_manager_env(seaweed, polaris, monkeypatch)
    table = f"{unique('iostream')}.events"
    streams: list[ProbedStream] = []

    @dg.asset(key_prefix=[table.split(".")[0]], name="events")
    def events() -> pa.RecordBatchReader:
        if not streams:  # the first run creates the table (reading its stream whole)
            return pa.RecordBatchReader.from_batches(SCHEMA, iter([batch(0, len(FIRST_ROWS))]))
        return streams[-1].reader()

    # The IO manager streams in chunks of the default size, cut down to the
    # table's target file size: about a batch here, so the stream makes several.
    target = {"write.target-file-size-bytes": str(batch(STREAMED[0]).nbytes)}
    manager = IcebergIOManager(  # a reader output streams in append mode only
        catalog_env_prefix=ENV_PREFIX,
        table_properties=ONE_COMMIT_RETRY | target,
        write_mode="append",
    )
    assert dg.materialize([events], resources={"io_manager": manager}).success
    state = TableState(floe.Floe.from_config(polaris_config(seaweed, polaris)), table, seaweed)
    streams.append(ProbedStream(state.files))
    polaris.clear()
    polaris.inject(on_commit(table, fault))

    result = dg.materialize([events], resources={"io_manager": manager}, raise_on_error=False)

    assert not result.success
    assert failure_classes(result)[:2] == ["DagsterExecutionHandleOutputError", error]
    assert commits(polaris, table) == answers
    if fault.after_forward:  # applied upstream, the answer lost
        state.assert_landed_once_and_files_kept(streams[-1])
    else:
        state.assert_unchanged_and_files_gone(streams[-1])
