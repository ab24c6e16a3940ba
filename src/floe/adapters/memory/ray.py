"""Ray Data hand-offs over in-memory tables: datasets of a scan's rows, appends as one commit.

The in-memory catalog has no files for workers to read or write: a dataset
is made from the rows the store's scan returns, and an appended dataset is
executed, each block cast as a worker would, and appended by one commit,
so the port's contract holds.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from floe.domain.errors import InvalidScanError, MissingExtraError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ScanOptions, WriteMode
from floe.ports.engines import RayPort
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
        cast: Callable[[pa.Table], pa.Table],
        *,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        ray = _ray()
        blocks = [cast(block) for block in ray.get(list(dataset.to_arrow_refs()))]
        rows = [block for block in blocks if block.num_rows]
        if not rows:
            return WriteResult(identifier, WriteMode.APPEND, None, 0)
        data = pa.concat_tables(rows)
        return self._store.append(identifier, data, snapshot_properties=snapshot_properties)
