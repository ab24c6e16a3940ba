"""Dagster's concepts live in the Dagster adapter, which shows its public names only."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from types import ModuleType

import floe
import floe.adapters.dagster
import floe.domain

#: What a user of the Dagster integration imports from ``floe.adapters.dagster``.
DAGSTER_PUBLIC = {
    "ByPolicy",
    "Compact",
    "ExpireSnapshots",
    "Health",
    "IcebergIOManager",
    "IcebergIOManagerConfig",
    "MaintenanceOperation",
    "RemoveOrphanFiles",
    "create_io_manager",
    "maintenance_job",
    "publish_job",
    "table_for_asset_key",
}
#: Words of Dagster's vocabulary that no domain name may hold.
DAGSTER_WORDS = ("dagster", "asset", "iomanager", "materializ")


def _submodules(package: ModuleType) -> list[str]:
    return [info.name for info in pkgutil.iter_modules(package.__path__)]


def _domain_names() -> dict[str, str]:
    """Every name the domain's modules define, and their classes' members, with its home."""
    names: dict[str, str] = {}
    for module_name in _submodules(floe.domain):
        module = importlib.import_module(f"floe.domain.{module_name}")
        for name, value in vars(module).items():
            names[name] = module.__name__
            if inspect.isclass(value) and value.__module__ == module.__name__:
                for member in vars(value):
                    names[member] = f"{module.__name__}.{name}"
    return names


def test_the_domain_has_no_name_of_dagsters_vocabulary() -> None:
    names = _domain_names()

    assert "TableIdentifier" in names  # the walk reaches the domain's classes
    assert "from_string" in names  # ... and their members
    offending = {
        name: home
        for name, home in names.items()
        if any(word in name.lower() for word in DAGSTER_WORDS)
    }
    assert offending == {}


def test_the_moved_names_are_gone_from_the_domain() -> None:
    names = _domain_names()

    for name in ("from_asset_key", "IcebergIOManagerConfig", "MaterializationMetadata"):
        assert name not in names, name
    assert not hasattr(floe.TableIdentifier, "from_asset_key")


def test_the_dagster_adapter_exports_exactly_its_public_names() -> None:
    package = floe.adapters.dagster

    assert set(package.__all__) == DAGSTER_PUBLIC
    assert {name for name in vars(package) if not name.startswith("_")} == DAGSTER_PUBLIC
    for name in DAGSTER_PUBLIC:
        assert getattr(package, name).__module__.startswith("floe.adapters.dagster._"), name


def test_every_module_of_the_dagster_adapter_is_private() -> None:
    modules = _submodules(floe.adapters.dagster)

    assert "_io_manager" in modules
    assert [name for name in modules if not name.startswith("_")] == []


def test_the_dagster_names_of_floe_are_the_adapters() -> None:
    assert floe.IcebergIOManager is floe.adapters.dagster.IcebergIOManager
    assert floe.IcebergIOManagerConfig is floe.adapters.dagster.IcebergIOManagerConfig
    assert floe.create_io_manager is floe.adapters.dagster.create_io_manager


def test_import_floe_does_not_import_dagster_until_a_dagster_name_is_used() -> None:
    script = (
        "import sys, floe\n"
        "assert 'dagster' not in sys.modules, 'import floe imported dagster'\n"
        "floe.IcebergIOManagerConfig\n"
        "assert 'dagster' in sys.modules\n"
    )

    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
