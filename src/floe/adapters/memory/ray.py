"""Ray Data hand-offs over in-memory tables: datasets of a scan's rows, writes as one commit.

The in-memory catalog has no files for workers to read or write: a dataset
is made from the rows the store's scan returns, and an appended dataset is
executed, fitted from its blocks' schemas, each block cast as a worker
would, and appended (with the schema change) by one commit, or replaces the
table's rows by one overwrite, so the port's contract holds.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from floe.adapters.ray_failures import ray_failure
from floe.domain.errors import InvalidScanError, MissingExtraError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ScanOptions, WriteMode
from floe.ports.engines import FitDataset, RayPort, schemas_to_fit
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

    def append_dataset(
        self,
        identifier: TableIdentifier,
        dataset: Any,
        fit: FitDataset,
        *,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        return self._write_dataset(identifier, dataset, fit, WriteMode.APPEND, snapshot_properties)

    def overwrite_dataset(
        self,
        identifier: TableIdentifier,
        dataset: Any,
        fit: FitDataset,
        *,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        return self._write_dataset(
            identifier, dataset, fit, WriteMode.OVERWRITE, snapshot_properties
        )

    def _write_dataset(
        self,
        identifier: TableIdentifier,
        dataset: Any,
        fit: FitDataset,
        mode: WriteMode,
        snapshot_properties: Mapping[str, str] | None,
    ) -> WriteResult:
        """Append or replace (``mode``) as the Iceberg adapter does, through the store."""
        replace = mode is WriteMode.OVERWRITE
        blocks = _executed(dataset, str(identifier), mode)
        schemas = schemas_to_fit((b.schema, b.num_rows) for b in blocks)
        if not schemas and not replace:
            return WriteResult(identifier, mode, None, 0)
        fitted = fit(schemas)
        filled = [fitted.cast(block) for block in blocks if block.num_rows]
        if not filled and fitted.evolved_schema is None and not replace:
            return WriteResult(identifier, mode, None, 0)
        data = pa.concat_tables(filled) if filled else fitted.target.empty_table()
        write = self._store.overwrite if replace else self._store.append
        return write(
            identifier,
            data,
            evolve_schema=fitted.evolved_schema,
            snapshot_properties=snapshot_properties,
        )


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
