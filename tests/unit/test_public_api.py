"""``import floe`` offers the names a user needs, and ``help(floe)`` opens with a guide."""

from __future__ import annotations

import pydoc

import pytest

import floe

PUBLIC = [
    "BranchDivergedError",
    "CatalogAuthenticationError",
    "CatalogConnectionError",
    "CatalogError",
    "CommitConflictError",
    "CommitStateUnknownError",
    "CompactResult",
    "DataFileInfo",
    "ExpireResult",
    "FileKind",
    "FilesDeleted",
    "Floe",
    "FloeStorageError",
    "FloeValidationError",
    "IcebergIOManager",
    "IcebergIOManagerConfig",
    "InvalidConfigError",
    "InvalidFilterError",
    "InvalidIdentifierError",
    "InvalidPartitionSpecError",
    "InvalidPolicyError",
    "InvalidRefError",
    "InvalidScanError",
    "InvalidSchemaError",
    "MissingExtraError",
    "LocalCatalogConfig",
    "MemoryCatalogConfig",
    "NamespaceExistsError",
    "NamespaceInfo",
    "NamespaceNotEmptyError",
    "NamespaceNotFoundError",
    "NewTable",
    "MaintenanceRun",
    "OrphanFilesResult",
    "ManifestRewriteResult",
    "PartitionCompaction",
    "PartitionStats",
    "PartitionTransform",
    "PolarisCatalogConfig",
    "PurgeDisabledError",
    "PublishKind",
    "PublishResult",
    "Ref",
    "RefExistsError",
    "RefKind",
    "RefNotFoundError",
    "RefRetention",
    "ResponseTooLargeError",
    "RetryConfig",
    "ScanError",
    "SchemaEvolutionError",
    "Secret",
    "SnapshotInfo",
    "SnapshotNotFoundError",
    "TableExistsError",
    "TableHealth",
    "TablePolicies",
    "TableIdentifier",
    "TableInfo",
    "TableNotFoundError",
    "UnknownPropertyWarning",
    "WriteError",
    "WriteMode",
    "WriteResult",
    "catalog_config_from_env",
    "catalog_config_from_pyiceberg",
    "create_io_manager",
    "load_catalog_config",
]


def test_all_lists_exactly_the_user_facing_names() -> None:
    assert sorted(floe.__all__) == sorted(PUBLIC)


def test_every_public_name_is_importable() -> None:
    for name in floe.__all__:
        assert getattr(floe, name) is not None, name


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("FloeContainer", "floe.container"),
        ("build_container", "floe.api"),
        ("CatalogPort", "floe.ports"),
        ("WriteService", "floe.application"),
        ("snapshots_to_expire", "floe.domain.retention"),
        ("MaterializationMetadata", "floe.adapters.dagster._materialization"),
    ],
)
def test_an_internal_name_says_where_it_lives(name: str, home: str) -> None:
    with pytest.raises(AttributeError, match=home):
        getattr(floe, name)


def test_help_opens_with_a_guide_to_services_configs_and_errors() -> None:
    text = pydoc.render_doc(floe, renderer=pydoc.plaintext)
    guide = text[: text.index("PACKAGE CONTENTS")]

    assert "floe.Floe.from_config" in guide
    for service in (
        "namespaces",
        "tables",
        "writes",
        "reads",
        "refs",
        "snapshots",
        "maintenance",
    ):
        assert f"lake.{service}" in guide, service
    for name in ("PolarisCatalogConfig", "LocalCatalogConfig", "FloeStorageError", "Secret"):
        assert name in guide, name
