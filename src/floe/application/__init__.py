"""Use-case services. They depend on ports only; embed them in any orchestrator."""

from floe.application.maintenance import MaintenanceService
from floe.application.namespaces import NamespaceService
from floe.application.reads import ReadService
from floe.application.refs import RefService
from floe.application.snapshots import SnapshotService
from floe.application.tables import TableService
from floe.application.writes import NewTable, TableMissing, WriteService

__all__ = [
    "MaintenanceService",
    "NamespaceService",
    "NewTable",
    "ReadService",
    "RefService",
    "SnapshotService",
    "TableMissing",
    "TableService",
    "WriteService",
]
