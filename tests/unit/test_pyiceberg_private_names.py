"""The private PyIceberg names floe leans on (compaction, manifest rewrite, policies), pinned.

PyIceberg 0.12 has no rewrite-files or rewrite-manifests action; floe builds
both from its snapshot producers (``adapters/iceberg/compaction.py``). An
upgrade that renames or reshapes one of these fails here, by name, rather
than as a wrong commit somewhere in a contract test.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from pyiceberg.catalog import rest as ice_rest
from pyiceberg.expressions import visitors as ice_visitors
from pyiceberg.io import pyarrow as ice_pyarrow
from pyiceberg.table import Transaction
from pyiceberg.table.snapshots import Operation, Summary
from pyiceberg.table.update import snapshot as ice_snapshot
from pyiceberg.table.update import validate as ice_validate


def _params(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.mark.parametrize(
    ("function", "params"),
    [
        (
            ice_pyarrow._dataframe_to_data_files,
            ["table_metadata", "df", "io", "write_uuid", "counter"],
        ),
        (
            ice_validate._validate_data_files_exist,
            ["table", "starting_snapshot", "data_files", "parent_snapshot"],
        ),
        (
            ice_validate._validate_no_new_deletes_for_data_files,
            ["table", "starting_snapshot", "data_filter", "data_files", "parent_snapshot"],
        ),
        (
            ice_snapshot._SnapshotProducer.__init__,
            [
                "self",
                "operation",
                "transaction",
                "io",
                "commit_uuid",
                "snapshot_properties",
                "branch",
            ],
        ),
        (ice_snapshot._SnapshotProducer._summary, ["self", "snapshot_properties"]),
        # Overwrites judge manifests with one evaluator per thread (producers.py).
        (ice_snapshot._SnapshotProducer._build_manifest_evaluator, ["self", "spec_id"]),
        (ice_visitors._ManifestEvalVisitor.eval, ["self", "manifest"]),
        (ice_snapshot._SnapshotProducer._validate_concurrency, ["self"]),
        (ice_snapshot._SnapshotProducer._manifests, ["self"]),
        (ice_snapshot._SnapshotProducer.new_manifest_writer, ["self", "spec"]),
        (Transaction._register_snapshot_producer, ["self", "producer"]),
        # Branch commits keep the branch's retention (adapters/iceberg/refs.py).
        (Transaction._stage, ["self", "updates", "requirements"]),
        # The in-memory fake splits rows into files as PyIceberg's writer does.
        (ice_pyarrow._determine_partitions, ["spec", "schema", "arrow_table"]),
        # Overwrites, deletes and upserts keep the rows a filter does not select.
        (ice_pyarrow._expression_to_complementary_pyarrow, ["expr", "schema"]),
        (
            ice_visitors._StrictMetricsEvaluator.__init__,
            ["self", "schema", "expr", "case_sensitive", "include_empty_files"],
        ),
        # Vended storage credentials: floe wraps the FileIO the REST catalog
        # builds from a table answer, renews through the credentials endpoint
        # when the server lists it, and sets the delegation header itself.
        (
            ice_rest.RestCatalog._response_to_table,
            ["self", "identifier_tuple", "table_response"],
        ),
        (
            ice_rest.RestCatalog._response_to_staged_table,
            ["self", "identifier_tuple", "table_response"],
        ),
        (ice_rest.RestCatalog._resolve_storage_credentials, ["storage_credentials", "location"]),
        (ice_rest.RestCatalog._load_file_io, ["self", "properties", "location"]),
        (ice_rest.RestCatalog._check_endpoint, ["self", "endpoint"]),
        (ice_rest.RestCatalog._config_headers, ["self", "session"]),
    ],
)
def test_private_functions_keep_their_parameters(
    function: Callable[..., Any], params: list[str]
) -> None:
    assert _params(function) == params


def test_the_overwrite_producer_is_a_snapshot_producer_with_required_deletes() -> None:
    overwrite = ice_snapshot._OverwriteFiles
    assert issubclass(overwrite, ice_snapshot._SnapshotProducer)
    # Deleting a file that is no longer live is refused (the conflict check
    # of a compaction re-applied on a fresher table).
    assert hasattr(overwrite, "_validate_required_deletes")
    for name in ("_existing_manifests", "_deleted_entries"):
        assert name in vars(overwrite)


def test_the_overwrite_producer_finds_removed_files_with_its_manifest_evaluators() -> None:
    """What floe's ``OverwriteFiles`` overrides is what PyIceberg's overwrite judges with."""
    overwrite = ice_snapshot._OverwriteFiles
    for method in (overwrite._deleted_entries, overwrite._existing_manifests):
        assert "self._build_manifest_evaluator" in inspect.getsource(method)
    producer = inspect.getsource(ice_snapshot._SnapshotProducer)
    assert "self.partition_filters[spec_id]" in producer
    assert "self._case_sensitive" in producer


def test_the_commit_window_names_base_and_head() -> None:
    fields = set(inspect.signature(ice_snapshot.CommitWindow).parameters)
    assert fields == {"base", "head"}
    assert callable(ice_snapshot.CommitWindow.is_empty)


def test_a_summary_is_rebuilt_from_its_additional_properties() -> None:
    summary = Summary(Operation.OVERWRITE, **{"total-records": "3"})
    rebuilt = Summary(Operation.REPLACE, **summary.additional_properties)
    assert rebuilt["operation"] == Operation.REPLACE
    assert rebuilt["total-records"] == "3"


def test_pyiceberg_still_refuses_to_sum_up_a_replace_itself() -> None:
    """Why floe sums a replace up as an overwrite: once this fails, that detour can go."""
    with pytest.raises(ValueError, match="not implemented"):
        ice_snapshot.update_snapshot_summaries(Summary(Operation.REPLACE))


def test_the_rest_catalog_keeps_its_session_and_supported_endpoints() -> None:
    """The policy adapter asks through the catalog's own session, when the server lists the call."""
    from pyiceberg.catalog.rest import RestCatalog

    assert "self._session" in inspect.getsource(RestCatalog.__init__)
    assert "self._supported_endpoints" in inspect.getsource(RestCatalog._fetch_config)


def test_overwrite_producers_judge_conflicts_by_their_isolation_operation() -> None:
    """floe's one-snapshot overwrites set it to OVERWRITE (write.update.isolation-level)."""
    assert "_isolation_operation" in ice_snapshot._SnapshotProducer.__annotations__
    assert "self._isolation_operation" in inspect.getsource(ice_snapshot._SnapshotProducer)
    assert ice_visitors.ROWS_MUST_MATCH is not None


def test_table_answers_carry_config_and_storage_credentials() -> None:
    """The fields the vended FileIO is built from, and the credentials capability."""
    fields = ice_rest.TableResponse.model_fields
    assert {"metadata_location", "metadata", "config", "storage_credentials"} <= fields.keys()
    assert ice_rest.Capability.V1_LOAD_CREDENTIALS.path.endswith("/tables/{table}/credentials")


def test_a_transaction_keeps_the_table_it_stages_in_table() -> None:
    """A create-table transaction's staged table (its FileIO, location): ray.py, writes.py."""
    from pyiceberg.table import CreateTableTransaction

    assert "self._table = table" in inspect.getsource(Transaction.__init__)
    assert issubclass(CreateTableTransaction, Transaction)


def test_a_transaction_names_what_its_producers_staged() -> None:
    """What floe deletes when a commit will never land (``adapters/iceberg/staged.py``)."""
    producer = ice_snapshot._SnapshotProducer
    assert {"_added_data_files", "_written_manifests", "_io"} <= producer.__annotations__.keys()
    # Producers write their manifests through the FileIO they are built with.
    assert "self._io.new_output(" in inspect.getsource(producer.new_manifest_output)
    assert "self._io.new_output(" in inspect.getsource(producer._commit)
    assert _params(ice_snapshot.UpdateSnapshot.__init__) == [
        "self",
        "transaction",
        "io",
        "branch",
        "snapshot_properties",
    ]
    assert "self._table = table" in inspect.getsource(Transaction.__init__)
    assert _params(producer._clean_all_uncommitted) == ["self"]
    cleanup = inspect.getsource(producer._clean_all_uncommitted)
    assert "self._written_manifests" in cleanup
    assert "self._written_manifest_lists" in cleanup
    assert "self._snapshot_producers" in inspect.getsource(Transaction.__init__)
    assert "self._snapshot_producers.append(producer)" in inspect.getsource(
        Transaction._register_snapshot_producer
    )
