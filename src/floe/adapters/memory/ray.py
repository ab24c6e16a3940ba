"""Ray Data hand-offs over in-memory tables: datasets of a scan's rows, writes as one commit.

The in-memory catalog has no files for workers to read or write: a dataset
is made from the rows the store's scan returns, and an appended dataset is
executed, fitted from its blocks' schemas, each block cast as a worker
would, and appended (with the schema change) by one commit, or replaces the
rows a filter selects by one overwrite, on the branch named, or creates a
missing table with its rows, so the port's contract holds.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any

import attrs
import pyarrow as pa

from floe.adapters.ray_failures import ray_failure
from floe.domain.errors import InvalidScanError, MissingExtraError, TableExistsError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ScanOptions, WriteMode
from floe.ports.engines import DatasetTarget, FitDataset, RayPort, schemas_to_fit
from floe.ports.table_store import TableStorePort, WriteResult


def _ray() -> Any:
    try:
        importlib.import_module("ray.data")
        return importlib.import_module("ray")
    except ImportError as exc:
        raise MissingExtraError(
            "handing a table to Ray needs ray[data]; install floe's ray extra: "
            "pip install 'floe[ray]'"
        ) from exc


class MemoryRay(RayPort):
    """Ray Data over in-memory tables.

    Args:
        store: The in-memory table store.
    """

    def __init__(self, store: TableStorePort) -> None:
        self._store = store

    def ray_dataset(self, identifier: TableIdentifier, options: ScanOptions) -> Any:
        if options.limit is not None:
            raise InvalidScanError(
                "a Ray dataset takes no limit: apply .limit() to it", subject=str(identifier)
            )
        ray = _ray()
        return ray.data.from_arrow(self._store.scan(identifier, options))

    def write_dataset(
        self,
        identifier: TableIdentifier,
        dataset: Any,
        fit: FitDataset,
        mode: WriteMode,
        target: DatasetTarget,
    ) -> WriteResult:
        """Write as the Iceberg adapter does, through the store."""
        snapshot_properties, row_filter = target.snapshot_properties, target.row_filter
        branch, create = target.branch, target.create
        replace = mode is WriteMode.OVERWRITE
        if branch is not None:  # a missing branch is refused before the dataset runs
            nothing: list[pa.RecordBatch] = []
            self._store.append_stream(
                identifier, pa.schema([]), nothing, chunk_bytes=1, branch=branch
            )
        blocks = _executed(dataset, str(identifier), mode)
        schemas = schemas_to_fit((b.schema, b.num_rows) for b in blocks)
        if create is not None:
            new = create(schemas)
            data = _rows([new.cast(block) for block in blocks if block.num_rows], new.schema)
            with contextlib.suppress(TableExistsError):  # created meanwhile: written into below
                result = self._store.create_with_data(
                    identifier,
                    new.schema,
                    new.partition_spec,
                    new.properties,
                    data,
                    snapshot_properties=snapshot_properties,
                )
                return attrs.evolve(result, mode=mode)
        if not schemas and not replace:
            return WriteResult(identifier, mode, None, 0)
        fitted = fit(schemas)
        filled = [fitted.cast(block) for block in blocks if block.num_rows]
        if not filled and fitted.evolved_schema is None and not replace:
            return WriteResult(identifier, mode, None, 0)
        data = _rows(filled, fitted.target)
        if replace:
            return self._store.overwrite(
                identifier,
                data,
                row_filter=row_filter,
                evolve_schema=fitted.evolved_schema,
                snapshot_properties=snapshot_properties,
                branch=branch,
            )
        return self._store.append(
            identifier,
            data,
            evolve_schema=fitted.evolved_schema,
            snapshot_properties=snapshot_properties,
            branch=branch,
        )


def _rows(blocks: list[pa.Table], schema: pa.Schema) -> pa.Table:
    return pa.concat_tables(blocks) if blocks else schema.empty_table()


def _executed(dataset: Any, name: str, mode: WriteMode) -> list[pa.Table]:
    """The dataset's blocks, executed once (a failure raised as the Iceberg adapter does)."""
    ray = _ray()
    try:
        blocks: list[pa.Table] = ray.get(list(dataset.to_arrow_refs()))
    except Exception as exc:
        raise ray_failure(
            exc,
            f"{mode.value} of a Ray dataset into table {name}: the dataset failed "
            f"({type(exc).__name__}); nothing was written",
            name,
        ) from exc
    return blocks
